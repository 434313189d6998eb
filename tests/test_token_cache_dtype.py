"""Token-id caches: uint16 while the ids fit, uint32 beyond 65,535 (recorded in the manifest); old caches read."""

from __future__ import annotations

import datasets
import numpy as np
import pyarrow as pa
import pytest

from data_modules.entries import entry_damage, manifest_meta, write_manifest
from data_modules.lm import token_cache, words
from data_modules.lm.tokenizer import EOS, SPECIALS, UNK


def tokenizer_of(n_words: int):
    """A word-level tokenizer with ids 0, 1 for the specials and w0..w{n-1} after them, by decreasing count."""
    names = pa.array([f"w{i}" for i in range(n_words)], pa.large_string())
    counts = pa.array(np.arange(n_words, 0, -1), pa.int64())
    return words.build_tokenizer(pa.table({"word": names, "count": counts}), SPECIALS)


@pytest.mark.parametrize("fast", [True, False], ids=["arrow", "tokenizers"])
def test_ids_above_65535_round_trip(tmp_path, fast):
    tok = tokenizer_of(70_000)  # 70,002 ids in all
    if not fast:  # a normalizer leaves the Arrow encoder out: the tokenizers library encodes
        from tokenizers import normalizers

        tok.normalizer = normalizers.Lowercase()
    lines = ["w0 w65533 w65534 w65535", "", "w69999 W5 w65536 nope", "w1"]
    ds = datasets.Dataset.from_dict({"text": lines})
    out = tmp_path / "ids.npy"
    eos = tok.token_to_id(EOS)
    n = token_cache.encode_split(ds, tok, "text", out, eos, True, None, "train")
    expected = [i for line in lines if line for i in [*tok.encode(line, add_special_tokens=False).ids, eos]]
    assert max(expected) == 70_001 and tok.token_to_id("w65535") == 65_537
    ids = token_cache.load_ids(out)
    assert ids.dtype == np.uint32 and n == len(ids)
    assert ids.tolist() == expected
    unk = expected.count(tok.token_to_id(UNK))
    assert manifest_meta(out) == {"dtype": "uint32", "vocab_size": 70_002, "unk": unk} and unk >= 1
    assert entry_damage(out) is None


def test_uint16_while_the_ids_fit_and_old_caches_still_read(tmp_path):
    assert token_cache.ids_dtype(2**16) == np.uint16  # ids 0..65535
    assert token_cache.ids_dtype(2**16 + 1) == np.uint32
    tok = tokenizer_of(50)
    out = tmp_path / "ids.npy"
    ds = datasets.Dataset.from_dict({"text": ["w3 w49", "w0"]})
    token_cache.encode_split(ds, tok, "text", out, 1, True, None, "train")
    assert token_cache.load_ids(out).dtype == np.uint16 and manifest_meta(out)["dtype"] == "uint16"
    # A cache written before the manifest recorded the dtype (issue 12's layout): no meta, read by its header.
    old = tmp_path / "old.npy"
    np.save(old, np.array([5, 7, 1], dtype=np.uint16))
    write_manifest(old)
    assert manifest_meta(old) == {} and entry_damage(old) is None
    assert token_cache.load_ids(old).tolist() == [5, 7, 1]
