"""Loaders against the published statistics of the real corpora in ../shared/data (`make test-all`).

Marked slow: the default suite never depends on files outside the repository.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from data_modules.lm.config import LMDataConfig
from data_modules.lm.datamodule import LMDataModule
from data_modules.tagging.config import TaggingDataConfig
from data_modules.tagging.datamodule import TaggingDataModule

DATA = Path(os.environ.get("PIPELINE_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
pytestmark = pytest.mark.slow


def test_brown_token_counts_match_the_corpus_readme(tmp_path):
    dm = LMDataModule(LMDataConfig(path=str(DATA / "brown"), min_frequency=4, cache_dir=str(tmp_path)))
    dm.prepare_data()
    dm.setup()
    # README: train 800,001 tokens in 35,523 sentences, valid 200,021 in 11,690, test 161,170 in 10,127;
    # our streams add one end-of-line token per sentence.
    assert dm.num_tokens("train") == 800_001 + 35_523
    assert dm.num_tokens("validation") == 200_021 + 11_690
    assert dm.num_tokens("test") == 161_170 + 10_127


def test_conll2003_sentence_and_token_counts(tmp_path):
    dm = TaggingDataModule(TaggingDataConfig(path=str(DATA / "conll2003"), cache_dir=str(tmp_path)))
    dm.prepare_data()
    dm.setup()
    train = dm._split("train")
    assert len(train) == 14_041 and int(train.lengths.sum()) == 203_621
    assert int(dm._split("validation").lengths.sum()) == 51_362
    assert int(dm._split("test").lengths.sum()) == 46_435
    assert dm.vocab.corpus_scheme == "iob2"
    assert sorted({t.split("-", 1)[-1] for t in dm.vocab.corpus_tags if t != "O"}) == [
        "LOC",
        "MISC",
        "ORG",
        "PER",
    ]
