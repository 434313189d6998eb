"""Run by `python -m benchmarks peers` with flair's own Python (a virtual environment of its own, made by
`make bench-peers`; flair is never a dependency of this project): flair 0.15's SequenceTagger on CoNLL files
with the architecture of conf/tagger/conll2003.yaml: random 100-d word embeddings (`OneHotEmbeddings`, every
training word), flair's character encoder (`CharacterEmbeddings`), a BiLSTM of 200 per direction and a CRF,
trained with flair's defaults (SGD, learning rate 0.1, batches of 32, halving on a dev plateau). Writes the
seconds since start, epoch and dev F1 after every epoch, and each epoch's training seconds, to OUT.json.

    python benchmarks/peers_flair.py --data DIR --out OUT.json --work DIR [--threads 1] [--epochs 100]
"""

from __future__ import annotations

import time

START = time.perf_counter()  # before the imports: they count for flair as ours count for ours

import argparse  # noqa: E402
import json  # noqa: E402
from pathlib import Path  # noqa: E402

import flair  # noqa: E402
import torch  # noqa: E402
from flair.data import Dictionary  # noqa: E402
from flair.datasets import ColumnCorpus  # noqa: E402
from flair.embeddings import CharacterEmbeddings, OneHotEmbeddings, StackedEmbeddings  # noqa: E402
from flair.models import SequenceTagger  # noqa: E402
from flair.trainers import ModelTrainer  # noqa: E402
from flair.trainers.plugins import TrainerPlugin  # noqa: E402


class Curve(TrainerPlugin):
    def __init__(self, out: Path):
        super().__init__()
        self.out, self.points, self.epochs, self.began = out, [], [], 0.0

    @TrainerPlugin.hook
    def before_training_epoch(self, epoch, **kw):
        self.began = time.perf_counter()

    @TrainerPlugin.hook
    def after_training_epoch(self, epoch, **kw):
        self.epochs.append(time.perf_counter() - self.began)

    @TrainerPlugin.hook
    def after_evaluation(self, epoch, current_model_is_best, validation_scores, **kw):
        f1 = 100.0 * float(validation_scores[0])  # micro-averaged span F1 on dev, as a percentage like ours
        self.points.append({"seconds": time.perf_counter() - START, "epoch": epoch, "dev_f1": f1})
        self.out.write_text(json.dumps({"points": self.points, "epoch_seconds": self.epochs}))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True, help="Folder of CoNLL-2003 train.txt, valid.txt, test.txt.")
    p.add_argument("--out", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--epochs", type=int, default=100)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    flair.set_seed(1234)
    corpus = ColumnCorpus(a.data, {0: "text", 3: "ner"}, train_file="train.txt", dev_file="valid.txt",
                          test_file="test.txt", document_separator_token="-DOCSTART-")  # fmt: skip
    tags = corpus.make_label_dictionary(label_type="ner", add_unk=False)
    words = OneHotEmbeddings.from_corpus(corpus, field="text", min_freq=1, embedding_length=100)
    chars = Dictionary(
        add_unk=True
    )  # from the training text: flair's own list is a download, and no network here
    for sentence in corpus.train:
        for token in sentence:
            for c in token.text:
                chars.add_item(c)
    embeddings = StackedEmbeddings([words, CharacterEmbeddings(path_to_char_dict=chars)])
    tagger = SequenceTagger(
        hidden_size=200, embeddings=embeddings, tag_dictionary=tags, tag_type="ner", use_crf=True
    )
    ModelTrainer(tagger, corpus).train(a.work, learning_rate=0.1, mini_batch_size=32, max_epochs=a.epochs,
                                       save_final_model=False, plugins=[Curve(Path(a.out))])  # fmt: skip


if __name__ == "__main__":
    main()
