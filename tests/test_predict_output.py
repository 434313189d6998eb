"""What `predict` writes: CoNLL-U that UD tools read (a CoNLL-U input keeps every line but the tag column, other
inputs become one word line per token; the tags are those of the column output, the independent route), and
`--output -` the same text on standard output, the command's messages on stderr."""

from __future__ import annotations

import os
import random
import sys
import tempfile
from pathlib import Path

import pytest

from data_modules.errors import DataError
from data_modules.tagging.conllu import COLUMNS, read_conllu, retag
from pipeline import stdin
from pipeline.__main__ import main
from pipeline.errors import PipelineError
from tests.conftest import CONF
from tests.test_corpora import POS, chunk_args
from tests.test_corpus_formats import CONLLU


def toy_treebank(rng: random.Random, n: int) -> str:
    """Sentences with comments, a multi-word token line and (every third) an empty node, as UD files have."""
    rows = []
    for s in range(n):
        words = [rng.choice(["the", "a"]), rng.choice(["cat", "dog"]), rng.choice(["saw", "likes"]), "."]
        rows += [f"# sent_id = {s}", f"# text = {' '.join(words)}", "1-2\tthe cat\t_\t_\t_\t_\t_\t_\t_\t_"]
        for i, w in enumerate(words, start=1):
            rows.append(f"{i}\t{w}\t{w}\t{POS[w]}\tX{POS[w]}\t_\t0\tdep\t_\tSpaceAfter=No")
            if i == 2 and s % 3 == 0:
                rows.append("2.1\tsaw\tsee\tVERB\t_\t_\t_\t_\t1:dep\t_")
        rows.append("")
    return "\n".join(rows) + "\n"


@pytest.fixture(scope="module")
def pos_model(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("ud")
    rng = random.Random(5)
    for split, n in (("train", 60), ("dev", 15), ("test", 15)):
        (work / f"toy-ud-{split}.conllu").write_text(toy_treebank(rng, n))
    args = chunk_args(work, work, "--config", str(CONF / "tagger" / "ud_upos.yaml"),
                      "--data.validation_split", "null", "--data.path", str(work), "--trainer.max_epochs", "2")  # fmt: skip
    assert main(["train", *args]) == 0
    return work


def predict(model: Path, source: Path, out: Path, *extra: str) -> int:
    ckpt = model / "runs" / "chunk" / "checkpoints" / "best.ckpt"
    return main(["predict", str(ckpt), "--input", str(source), "--output", str(out),
                 "--trainer.enable_progress_bar", "false", *extra])  # fmt: skip


def column_tags(path: Path) -> list[list[str]]:
    """The predicted tags (last field) of a `token [gold] predicted` file, per sentence."""
    blocks = path.read_text().strip().split("\n\n")
    return [[line.split()[-1] for line in block.splitlines()] for block in blocks]


def test_conllu_in_conllu_out_changes_only_the_tag_column(pos_model, tmp_path):
    source = tmp_path / "in.conllu"
    source.write_text(toy_treebank(random.Random(9), 7).rstrip("\n"))  # and no final blank line
    assert predict(pos_model, source, tmp_path / "pred.txt") == 0  # columns: the oracle's tags
    assert predict(pos_model, source, tmp_path / "pred.conllu") == 0  # auto: CoNLL-U by the name
    expected = column_tags(tmp_path / "pred.txt")
    written = (tmp_path / "pred.conllu").read_text()
    assert written.endswith("\n\n")  # CoNLL-U's blank line after the last sentence
    old, new = source.read_text().splitlines(), written.splitlines()
    assert len(new) == len(old) + 1 and new[-1] == ""
    tags = [t for sentence in expected for t in sentence]
    for before, after in zip(old, new):
        cols = before.split("\t")
        if not before or before.startswith("#") or "-" in cols[0] or "." in cols[0]:
            assert after == before  # comments, multi-word tokens, empty nodes: as they were
        else:
            got = after.split("\t")
            assert got[:3] + got[4:] == cols[:3] + cols[4:]
            assert got[3] == tags.pop(0)
    assert tags == []
    assert read_conllu(str(tmp_path / "pred.conllu")) == (read_conllu(str(source))[0], expected)


def test_text_input_to_conllu_reads_back_as_its_tokens_and_tags(pos_model, tmp_path):
    source = tmp_path / "raw.txt"
    source.write_text("the cat saw a dog .\n\na dog likes the cat .\nthe cat .\n")
    assert predict(pos_model, source, tmp_path / "pred.txt") == 0
    assert predict(pos_model, source, tmp_path / "pred.out", "--output_format", "conllu") == 0
    text = (tmp_path / "pred.out").read_text()
    sentences = [line.split() for line in source.read_text().splitlines() if line.strip()]
    assert read_conllu(str(tmp_path / "pred.out")) == (sentences, column_tags(tmp_path / "pred.txt"))
    words = [line.split("\t") for line in text.splitlines() if line and not line.startswith("#")]
    assert all(len(cols) == len(COLUMNS) for cols in words)
    assert [cols[0] for cols in words] == [str(i) for s in sentences for i in range(1, len(s) + 1)]
    assert "# sent_id = 3\n# text = the cat .\n" in text


@pytest.mark.parametrize("column", ["form", "0", "id"])
def test_a_column_that_cannot_hold_predictions_is_a_one_line_error(pos_model, tmp_path, capsys, column):
    source = tmp_path / "raw.txt"
    source.write_text("the cat saw a dog .\n")
    code = predict(pos_model, source, tmp_path / "pred.conllu", "--data.conllu_column", column)
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "cannot be written into CoNLL-U column" in err
    assert not (tmp_path / "pred.conllu").exists()


def test_retag_writes_the_named_column_and_keeps_every_other_line():
    tags = [["a", "b", "c", "d", "e"], ["f"]]
    lines = CONLLU.splitlines()
    for column, index in (("xpos", 4), ("deprel", 7), ("-1", 9)):
        expected = []
        flat = [t for s in tags for t in s]
        for line in lines:
            cols = line.split("\t")
            if line and not line.startswith("#") and "-" not in cols[0] and "." not in cols[0]:
                cols[index] = flat.pop(0)
            expected.append("\t".join(cols))
        assert retag(CONLLU, tags, column) == "\n".join(expected) + "\n\n", column
    with pytest.raises(DataError, match="changed while it was tagged"):
        retag(CONLLU, [tags[0]], "upos")  # fewer sentences than the file holds
    with pytest.raises(DataError, match="changed while it was tagged"):
        retag(CONLLU, [tags[0], ["f", "g"]], "upos")  # more words than the file holds


def test_output_dash_writes_the_file_text_to_stdout_and_messages_to_stderr(pos_model, run_cli, tmp_path):
    source = tmp_path / "in.conllu"
    source.write_text(toy_treebank(random.Random(3), 4))
    ckpt = pos_model / "runs" / "chunk" / "checkpoints" / "best.ckpt"
    for fmt in ("columns", "conllu"):
        target = tmp_path / f"pred.{fmt}"
        to_file = run_cli(
            "predict", str(ckpt), "--input", str(source), "--output", str(target), "--output_format", fmt
        )
        piped = run_cli(
            "predict",
            str(ckpt),
            "--input",
            str(source),
            "--output",
            "-",
            "--output_format",
            fmt,
            cwd=tmp_path,
        )
        assert to_file.returncode == 0 and piped.returncode == 0, piped.stderr
        assert piped.stdout == target.read_text()
        assert "Tagged 4 sentences" in piped.stderr and "standard output" in piped.stderr
    assert not (tmp_path / "-").exists()


def test_input_dash_tags_standard_input_as_it_tags_the_file(pos_model, run_cli, tmp_path):
    """`--input -` gives the file route's output for a CoNLL-U text (detected from its lines, no extension) and
    plain text, also when Lightning's launcher starts a second process (which re-runs the command line and cannot
    read the pipe the first process consumed)."""
    ckpt = str(pos_model / "runs" / "chunk" / "checkpoints" / "best.ckpt")
    treebank = tmp_path / "in.conllu"
    treebank.write_text(toy_treebank(random.Random(4), 5))
    plain = tmp_path / "in.txt"
    plain.write_text("the cat saw .\na dog likes the cat .\n\nthe dog saw a cat .\n")
    ddp = ["--trainer.accelerator", "cpu", "--trainer.devices", "2", "--trainer.strategy", "ddp"]
    for source, fmt, extra in ((treebank, "conllu", []), (plain, "text", []), (treebank, "conllu", ddp)):
        to_file = tmp_path / f"out-{fmt}.conllu"
        assert predict(pos_model, source, to_file) == 0
        piped = run_cli("predict", ckpt, "--input", "-", "--output", "-", "--output_format", "conllu", *extra,
                        stdin=source.read_text(), timeout=300)  # fmt: skip
        assert piped.returncode == 0, piped.stderr
        assert piped.stdout == to_file.read_text()
        assert f"Reading standard input as {fmt}" in piped.stderr
    # the copy of standard input is removed when the command ends
    assert not [
        p for p in Path(tempfile.gettempdir()).glob("lstm-pipeline-stdin-*") if p.stat().st_uid == os.getuid()
    ]


def test_input_dash_under_an_outside_launcher_is_a_one_line_error(pos_model, run_cli):
    """torchrun/srun start every process themselves and only one holds the pipe: refused, not a hang."""
    ckpt = str(pos_model / "runs" / "chunk" / "checkpoints" / "best.ckpt")
    r = run_cli("predict", ckpt, "--input", "-", "--output", "-", stdin="the cat\n", env={"WORLD_SIZE": "2"})
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.strip().count("\n") == 0 and "standard input" in r.stderr, r.stderr


def test_input_dash_with_nothing_piped_is_a_one_line_error(monkeypatch):
    class Terminal:
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv(stdin.COPY, raising=False)
    monkeypatch.setattr(sys, "stdin", Terminal())
    with pytest.raises(PipelineError, match="nothing is piped in"):
        stdin.stdin_file()
