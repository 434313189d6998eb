"""LightningModule for the LSTM language model: truncated BPTT with a carried hidden state, exact perplexity."""

from __future__ import annotations

import math

import torch
from torch import Tensor
from torchmetrics import SumMetric

from models.lit_base import PipelineModule
from models.lstm_lm import Hidden, LMConfig, LSTMLanguageModel
from models.optim import OptimConfig, configure_optimizers
from models.step_values import StepValues

STAGES = ("train", "val", "test")


def _sum_metric() -> SumMetric:
    # float64: a split's summed NLL over millions of tokens must not lose digits, and the token count stays exact.
    # (Metric.double() is a deliberate no-op in torchmetrics; set_dtype is the supported way.) "disable":
    # a diverged model must report NaN, not a perplexity over the tokens that happened to stay finite.
    return SumMetric(nan_strategy="disable").set_dtype(torch.float64)


class LMLitModule(PipelineModule):
    """Trains/evaluates `LSTMLanguageModel` on batches {input, target, mask}, each (B, T).

    Rows of consecutive windows continue each other, so one hidden state per stage is carried (detached)
    from window to window and reset at the start of every train/val/test epoch.
    """

    def __init__(self, model: LMConfig, optim: OptimConfig, vocab_size: int):
        super().__init__()
        self.model_cfg = model
        self.optim_cfg = optim
        self.vocab_size = vocab_size
        self.model = LSTMLanguageModel(model, vocab_size)
        # Plain attributes, not buffers: the state depends on the batch layout, not on the weights.
        self.hidden: dict[str, Hidden | None] = dict.fromkeys(STAGES)
        self.val_nll, self.val_tokens = _sum_metric(), _sum_metric()
        self.test_nll, self.test_tokens = _sum_metric(), _sum_metric()
        self.step_values = StepValues()  # which training steps log train/loss and train/ppl
        self.last_result: dict[str, dict[str, float | int]] = {}
        # What "better" means for best.ckpt (the plateau schedule watches val/loss, its logarithm).
        self.monitor, self.monitor_mode = "val/ppl", "min"

    # ----------------------------------------------------------------- hidden state
    def _carried(self, stage: str, batch_size: int, device: torch.device) -> Hidden | None:
        state = self.hidden[stage]
        if state is None or state[0].size(1) != batch_size:
            return None
        return (state[0].to(device), state[1].to(device))

    def on_train_epoch_start(self) -> None:
        self.hidden["train"] = None

    def on_validation_epoch_start(self) -> None:
        self.hidden["val"] = None

    def on_test_epoch_start(self) -> None:
        self.hidden["test"] = None

    # ----------------------------------------------------------------- loss
    def _nll(self, batch: dict[str, Tensor], stage: str) -> tuple[Tensor, Tensor]:
        """Masked per-token NLL (B, T) in fp32 and the mask as float (B, T); carries the hidden state."""
        inputs, target, mask = batch["input"], batch["target"], batch["mask"]
        hidden = self._carried(stage, inputs.size(0), inputs.device)
        x, hidden = self.model.features(inputs, hidden)
        self.hidden[stage] = (hidden[0].detach(), hidden[1].detach())
        nll = self.model.token_nll(x, target)  # exact log-probabilities, fp32 (full or adaptive softmax)
        weight = mask.to(nll.dtype)
        # Padding targets may hold any id; multiplying by 0 (not indexing) keeps the graph shape fixed for DDP.
        return nll * weight, weight

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        nll, weight = self._nll(batch, "train")
        # A rank whose rows are all padding still returns a (zero) loss connected to every parameter.
        loss = nll.sum() / weight.sum().clamp(min=1.0)
        # Not prog_bar=True: Lightning would read the value back after every batch (pipeline.callbacks.ProgressBar)
        if self.step_values.read(self._trainer):
            self.log("train/loss", loss)
            self.log("train/ppl", torch.exp(loss.detach()))
        return loss

    def _eval_step(self, batch: dict[str, Tensor], stage: str) -> None:
        nll, weight = self._nll(batch, stage)
        getattr(self, f"{stage}_nll").update(nll.sum().double())
        getattr(self, f"{stage}_tokens").update(weight.sum().double())

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        self._eval_step(batch, "val")

    def test_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        self._eval_step(batch, "test")

    def _eval_epoch_end(self, stage: str) -> None:
        nll_metric, tok_metric = getattr(self, f"{stage}_nll"), getattr(self, f"{stage}_tokens")
        # compute() sums the states across ranks, so every rank logs the same, world-size independent value.
        nll, tokens = float(nll_metric.compute()), int(round(float(tok_metric.compute())))
        nll_metric.reset()
        tok_metric.reset()
        if tokens == 0:
            return  # nothing evaluated (e.g. an empty sanity check); no number beats a made-up one
        loss = nll / tokens
        ppl = math.exp(loss) if loss < 700 else float("inf")
        self.last_result[stage] = {"loss": loss, "ppl": ppl, "tokens": tokens}
        self.log(f"{stage}/loss", loss, sync_dist=False)
        self.log(f"{stage}/ppl", ppl, sync_dist=False)
        self.log(f"{stage}/tokens", float(tokens), sync_dist=False)

    def on_validation_epoch_end(self) -> None:
        self._eval_epoch_end("val")

    def on_test_epoch_end(self) -> None:
        self._eval_epoch_end("test")

    # ----------------------------------------------------------------- optim + checkpoint
    def configure_optimizers(self) -> dict:
        return configure_optimizers(self, self.optim_cfg, monitor="val/loss", mode="min")

    def carry_state(self) -> list[Tensor] | None:
        """The training hidden state carried into the next window (this process's streams), for exact resume.

        Plain CPU tensors (checkpoints are loaded with weights_only=True). The pipeline stores one per rank.
        """
        state = self.hidden["train"]
        return None if state is None else [state[0].cpu(), state[1].cpu()]

    def load_carry_state(self, state: list[Tensor] | None) -> None:
        # Lightning does not call on_train_epoch_start when it resumes mid-epoch, so this state is what the
        # next window continues from.
        self.hidden["train"] = None if state is None else (state[0], state[1])
