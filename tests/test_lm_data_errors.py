"""Language-modelling data: clear one-line errors for missing, empty or unreachable data and tokenizers."""

from __future__ import annotations

import os

import datasets
import numpy as np
import pytest

from data_modules import sources
from data_modules.errors import DataError
from data_modules.lm import tokenizer as toks
from data_modules.split_files import SPLITS
from pipeline.__main__ import main as cli
from tests.conftest import CONF
from tests.test_lm_data import (
    FILE_NAMES,
    SPLIT_LINES,
    prepared,
    word_count,
    write_hf_folder,
    write_text_folder,
)


def assert_one_line(error: pytest.ExceptionInfo, *fragments: str) -> None:
    message = str(error.value)
    assert "\n" not in message, message
    for fragment in fragments:
        assert fragment in message, message


def test_missing_path(tmp_path):
    with pytest.raises(DataError) as e:
        prepared(tmp_path / "cache", path=str(tmp_path / "no-such-corpus"))
    assert_one_line(e, "no-such-corpus", "does not exist")


def test_missing_file_glob(tmp_path, monkeypatch):
    with pytest.raises(DataError) as e:
        prepared(tmp_path / "cache", train_files=[str(tmp_path / "nothing-*.txt")])
    assert_one_line(e, "nothing-*.txt")
    assert "relative to" not in str(e.value)
    monkeypatch.chdir(tmp_path)  # a relative glob (a recipe's) says where it looked
    with pytest.raises(DataError) as e:
        prepared(tmp_path / "cache", train_files="corpus/**/*gold_conll")
    assert_one_line(e, f"No file matches 'corpus/**/*gold_conll' (relative to {tmp_path}).")


def test_missing_text_column(tmp_path):
    """Two string columns and neither is the recipe's: the error lists them."""
    folder = write_hf_folder(tmp_path / "hf", SPLIT_LINES, column="sentence")
    for shard in (folder / "data").iterdir():
        table = datasets.Dataset.from_parquet(str(shard))
        table.add_column("title", ["t"] * len(table)).to_parquet(str(shard))
    with pytest.raises(DataError) as e:
        prepared(tmp_path / "cache", path=str(folder))
    assert_one_line(e, "'text'", "sentence", "title", "--data.text_column")
    dm = prepared(tmp_path / "cache", path=str(folder), text_column="sentence")
    assert dm.num_tokens("test") == word_count([line for line in SPLIT_LINES["test"] if line])


def test_the_one_string_column_stands_in_for_a_missing_text_column(tmp_path, lm_corpus):
    """The Hub's `ptb_text_only` writes `sentence`, text files are `text`: one recipe reads both (conf/lm/ptb.yaml
    names `sentence`). Before: "The train split has no text column 'text'; its columns are ['sentence']"."""
    folder = write_hf_folder(tmp_path / "hf", SPLIT_LINES, column="sentence")
    named = prepared(tmp_path / "a", path=str(folder), text_column="sentence")
    standing = prepared(tmp_path / "b", path=str(folder))
    for split in ("train", "validation", "test"):
        np.testing.assert_array_equal(standing.ids[split], named.ids[split])
    text = prepared(tmp_path / "c", path=str(lm_corpus), text_column="sentence")
    assert text.num_tokens("train") == prepared(tmp_path / "d", path=str(lm_corpus)).num_tokens("train")


@pytest.mark.parametrize("split", ["train", "validation", "test"])
@pytest.mark.parametrize("content", ["", "\n  \n\n"])
def test_empty_split(tmp_path, split, content):
    folder = write_text_folder(tmp_path / "txt", SPLIT_LINES)
    (folder / FILE_NAMES[split]).write_text(content)
    with pytest.raises(DataError) as e:
        prepared(tmp_path / "cache", path=str(folder))
    assert_one_line(e, split)
    assert "empty" in str(e.value) or "no text" in str(e.value)


def test_missing_split(tmp_path):
    folder = write_text_folder(tmp_path / "txt", {"train": SPLIT_LINES["train"], "test": SPLIT_LINES["test"]})
    with pytest.raises(DataError) as e:
        prepared(tmp_path / "cache", path=str(folder))
    assert_one_line(e, "validation")


def test_missing_tokenizer_file(tmp_path, lm_corpus):
    with pytest.raises(DataError) as e:
        prepared(tmp_path / "cache", path=str(lm_corpus), tokenizer_file=str(tmp_path / "tokenizer.json"))
    assert_one_line(e, str(tmp_path / "tokenizer.json"), "does not exist")


def test_tokenizer_file_without_eos(tmp_path, lm_corpus):
    tok = toks.train_tokenizer(["a b c"], "word")
    plain = tok.to_str().replace(toks.EOS, "<end>")
    (tmp_path / "tokenizer.json").write_text(plain)
    with pytest.raises(DataError) as e:
        prepared(tmp_path / "cache", path=str(lm_corpus), tokenizer_file=str(tmp_path / "tokenizer.json"))
    assert_one_line(e, toks.EOS)


def test_unreachable_hub(tmp_path):
    with pytest.raises(DataError) as e:
        prepared(tmp_path / "cache", path="someone/no-such-dataset", name="tiny")
    assert str(e.value).startswith(
        sources.HUB_UNREACHABLE.format(path="someone/no-such-dataset", name=" (tiny)")
    )  # and, as an `owner/name` is often a local folder misspelt, it says there is none:
    assert str(e.value).endswith(
        f"There is no local folder 'someone/no-such-dataset' in {os.getcwd()} either."
    )


def test_unreachable_hub_through_the_cli(tmp_path, capsys, tiny_lm_args, lm_corpus):
    args = tiny_lm_args(tmp_path, lm_corpus)
    args[args.index("--data.path") + 1] = "Salesforce/wikitext"
    assert cli(["train", *args, "--data.name", "wikitext-2-raw-v1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        "error: Could not reach the Hugging Face Hub to load 'Salesforce/wikitext' (wikitext-2"
    )
    assert "--data.path" in err and "Traceback" not in err


def test_unreachable_hub_in_a_fresh_process(run_cli, tmp_path):
    result = run_cli("train", "--config", str(CONF / "lm" / "wikitext2.yaml"), "--data.cache_dir",
                     str(tmp_path / "cache"), "--runs_dir", str(tmp_path / "runs"), "--wandb.mode", "disabled")  # fmt: skip
    assert result.returncode == 2, result.stderr[-2000:]
    assert "error: Could not reach the Hugging Face Hub to load 'Salesforce/wikitext'" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_a_script_dataset_names_its_parquet_export(tmp_path):
    """A dataset repository with a loading script (the Hub's universal_dependencies, a downloaded copy) stopped with
    datasets' RuntimeError; the way out is its parquet export or its data files."""
    repo = tmp_path / "ud"
    repo.mkdir()
    (repo / "ud.py").write_text("import datasets\n")
    (repo / "README.md").write_text("---\nlicense: unknown\n---\n")
    with pytest.raises(DataError) as e:
        prepared(tmp_path / "cache", path=str(repo))
    assert_one_line(e, "--data.revision refs/convert/parquet")
    assert "ud.py" in str(e.value)


def test_a_hub_revision_reaches_load_dataset(tmp_path, monkeypatch):
    seen = {}

    def load_dataset(path, name=None, **kwargs):
        seen.update(path=path, name=name, **kwargs)
        return datasets.DatasetDict({s: datasets.Dataset.from_dict({"text": SPLIT_LINES[s]}) for s in SPLITS})

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    prepared(tmp_path / "cache", path="someone/corpus", name="en", revision="refs/convert/parquet")
    assert seen == {"path": "someone/corpus", "name": "en", "revision": "refs/convert/parquet"}


def test_a_revision_of_local_data_is_an_error(tmp_path, lm_corpus):
    with pytest.raises(DataError) as e:
        prepared(tmp_path / "cache", path=str(lm_corpus), revision="abc123")
    assert_one_line(e, "--data.revision names a Hub revision, but --data.path")
