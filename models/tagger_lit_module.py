"""LightningModule around BiLSTMTagger: loss, span F1 in the corpus scheme, optimizer."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from data_modules.tag_schemes import SCHEMES, allowed_transitions, chunk_types, convert
from models.lit_base import PipelineModule
from models.lm_features import LMEmbedder
from models.optim import OptimConfig, configure_optimizers
from models.span_metric import SpanF1
from models.step_values import StepValues
from models.tagger import BiLSTMTagger, TaggerConfig


def span_types(tag_names: list[str], scheme: str) -> list[str]:
    """Sorted chunk types of a tag set ("B-PER", "I-PER" -> "PER"); none for POS-like tag sets."""
    if scheme == "none":
        return []
    return sorted(chunk_types(tag_names, scheme))


class TaggerLitModule(PipelineModule):
    """Trains on training-scheme tag ids; evaluates conlleval span F1 on corpus-scheme tag strings.

    Batches: dicts with words/case/tags/gold (B, L), chars (B, L, C), mask (B, L) bool, index (B,).
    """

    def __init__(
        self,
        model: TaggerConfig,
        optim: OptimConfig,
        word_vocab_size: int,
        char_vocab_size: int,
        train_tags: list[str],
        corpus_tags: list[str],
        train_scheme: str,
        corpus_scheme: str,
        unk_id: int,
        num_case_classes: int,
        word_vectors: Tensor | None = None,
        lm_specs: list[dict] | None = None,
    ):
        super().__init__()
        self.optim_cfg = optim
        self.train_tags = list(train_tags)
        self.corpus_tags = list(corpus_tags)
        self.train_scheme = train_scheme
        self.corpus_scheme = corpus_scheme
        # What "better" means for best.ckpt and the plateau schedule: span F1, or token accuracy when the
        # tag set has no chunks (POS-style), where F1 is always 0.
        self.monitor, self.monitor_mode = ("val/accuracy" if corpus_scheme == "none" else "val/f1"), "max"
        allowed = None
        if model.head == "crf" and model.constraints:
            allowed = allowed_transitions(self.train_tags, train_scheme)
        # The language models (weights in this module's state, identity in the data's artifacts): features the
        # data serves cached (frozen), or computed here from the LMs' inputs (fine-tuning, prediction).
        self.lm_embedders = nn.ModuleList(LMEmbedder(spec, model.lm_finetune) for spec in lm_specs or [])
        self.model = BiLSTMTagger(
            model, word_vocab_size, char_vocab_size, len(self.train_tags), allowed, word_vectors,
            unk_id=unk_id, num_case_classes=num_case_classes,
            lm_feature_size=sum(e.output_size for e in self.lm_embedders),
        )  # fmt: skip
        self.gold_tags: list[str] = []
        self.set_gold_tags(self.corpus_tags)
        self.last_result: dict[str, dict[str, float]] = {}
        self.step_values = StepValues()  # which training steps log train/loss

    def set_gold_tags(self, gold_tags: list[str]) -> None:
        """Names of the gold ids in batches: the corpus tags, then tags the model never saw in training (a chunk
        of such a type is counted as conlleval counts it: a miss; such a POS tag is a token error)."""
        if list(gold_tags) == self.gold_tags:
            return
        self.gold_tags = list(gold_tags)
        # Union with the training tags: a type the model can predict must be countable by the metric.
        types = span_types(self.gold_tags + self.train_tags, self.corpus_scheme)
        self.val_metric = SpanF1(types, self.corpus_scheme)
        self.test_metric = SpanF1(types, self.corpus_scheme)

    def setup(self, stage: str) -> None:
        # The data module knows, once set up, which gold tags its splits add (the same list on every rank).
        gold = getattr(getattr(self.trainer, "datamodule", None), "gold_tags", None)
        if gold is not None:
            self.set_gold_tags(gold)

    # ---- helpers -------------------------------------------------------------------------------------
    def lm_features(self, batch: dict[str, Tensor]) -> Tensor:
        """The LMs' word features (B, L, D) from the batch's `lm_ids_k` (B, T_k) and `lm_pos_k` (B, L)."""
        return torch.cat(
            [e(batch[f"lm_ids_{k}"], batch[f"lm_pos_{k}"]) for k, e in enumerate(self.lm_embedders)], dim=-1
        )

    def _with_lm(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        if len(self.lm_embedders) and "lm" not in batch:
            return batch | {"lm": self.lm_features(batch)}
        return batch

    def _predicted_tags(self, batch: dict[str, Tensor]) -> list[list[str]]:
        """Decoded sentences as corpus-scheme tag strings, each cut to its unpadded length."""
        ids = self.model.decode(self._with_lm(batch)).tolist()
        lengths = batch["mask"].long().sum(dim=1).tolist()
        out = []
        for row, n in zip(ids, lengths):
            tags = [self.train_tags[i] for i in row[:n]]
            convertible = self.train_scheme in SCHEMES and self.corpus_scheme in SCHEMES
            if convertible and self.train_scheme != self.corpus_scheme:
                tags = convert(tags, self.train_scheme, self.corpus_scheme)
            out.append(tags)
        return out

    def _gold_tags(self, batch: dict[str, Tensor]) -> list[list[str]]:
        lengths = batch["mask"].long().sum(dim=1).tolist()
        return [[self.gold_tags[i] for i in row[:n]] for row, n in zip(batch["gold"].tolist(), lengths)]

    def _log_result(self, stage: str, metric: SpanF1) -> None:
        result = metric.compute()
        metric.reset()
        keys = [k for k in result if not k.startswith("per_type/")]
        if stage == "test":
            keys = list(result)
        if self.corpus_scheme == "none":  # no chunks: span scores would be 0 by construction, not a result
            keys = [k for k in keys if k == "accuracy"]
            result = {k: result[k] for k in keys}
        for key in keys:
            self.log(f"{stage}/{key}", result[key].float())
        self.last_result[stage] = {k: float(v) for k, v in result.items()}

    # ---- Lightning hooks -----------------------------------------------------------------------------

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        """Best training-scheme tag ids (B, L)."""
        return self.model.decode(self._with_lm(batch))

    def transfer_batch_to_device(self, batch, device, dataloader_idx):
        # Packing needs host-side lengths: count them before the copy, so no step reads them back from the GPU.
        lengths = batch["mask"].sum(1)
        on_gpu = torch.device(device).type != "cpu"
        char_lengths = (batch["chars"] != 0).sum(2) if on_gpu and "chars" in batch else None
        moved = {**super().transfer_batch_to_device(batch, device, dataloader_idx), "lengths": lengths}
        if char_lengths is not None:
            moved["char_lengths"] = char_lengths
        return moved

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        loss = self.model.loss(self._with_lm(batch))
        # Not prog_bar=True: Lightning would read the value back after every batch (pipeline.callbacks.ProgressBar)
        if self.step_values.read(self._trainer):
            self.log("train/loss", loss, batch_size=batch["words"].size(0))
        return loss

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        self.val_metric.update(self._predicted_tags(batch), self._gold_tags(batch))

    def test_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        self.test_metric.update(self._predicted_tags(batch), self._gold_tags(batch))

    def on_validation_epoch_end(self) -> None:
        self._log_result("val", self.val_metric)

    def on_test_epoch_end(self) -> None:
        self._log_result("test", self.test_metric)

    def predict_step(self, batch: dict[str, Tensor], batch_idx: int) -> list[tuple[int, list[str]]]:
        """(sentence index within its split, predicted corpus-scheme tags) for every sentence of the batch."""
        return list(zip(batch["index"].tolist(), self._predicted_tags(batch)))

    def carry_state(self) -> None:
        """Nothing is carried between batches: sentences are independent."""
        return None

    def load_carry_state(self, state: None) -> None:
        pass

    def configure_optimizers(self):
        return configure_optimizers(self, self.optim_cfg, monitor=self.monitor, mode="max")
