"""Files whose names do not say all: compressed corpora (.gz, .bz2, .xz) read like their plain twins (a CoNLL folder,
CoNLL-U named by its ending under the compression's, a prediction input; a damaged file is one line; text files:
tests/test_text_files.py, against `datasets`' own text builder), and a CoNLL-U treebank named .txt is CoNLL-U."""

from __future__ import annotations

import bz2
import gzip
import lzma
from pathlib import Path

import pytest

from data_modules.errors import DataError
from data_modules.files import check_utf8
from data_modules.tagging.conll import read_prediction_file
from data_modules.tagging.conllu import from_tokens, read_conllu, retag
from tests.test_tagging_data import decoded, module, write_corpus

PACK = {".gz": gzip.compress, ".bz2": bz2.compress, ".xz": lzma.compress}

CONLLU = """# sent_id = 1
1\tThe\tthe\tDET\tDT\t_\t2\tdet\t_\t_
2\tcat\tcat\tNOUN\tNN\t_\t3\tnsubj\t_\t_
3\tsat\tsit\tVERB\tVBD\t_\t0\troot\t_\t_

"""


def pack(path: Path, ending: str) -> Path:
    packed = path.with_name(path.name + ending)
    packed.write_bytes(PACK[ending](path.read_bytes()))
    path.unlink()
    return packed


@pytest.mark.parametrize("ending", sorted(PACK))
def test_a_compressed_conll_folder_reads_like_the_plain_one(tmp_path, ending):
    folder, _ = write_corpus(tmp_path)
    plain = module(tmp_path / "a", path=str(folder))
    for split in ("train", "valid", "test"):
        pack(folder / f"{split}.txt", ending)
    packed = module(tmp_path / "b", path=str(folder))
    assert packed.vocab.artifacts() == plain.vocab.artifacts()
    for split in ("train", "validation"):
        assert decoded(packed, split) == decoded(plain, split)


@pytest.mark.parametrize("ending", sorted(PACK))
def test_compressed_conllu_is_conllu_and_a_prediction_input(tmp_path, ending):
    path = tmp_path / "x.conllu"
    path.write_text(CONLLU)
    expected = read_conllu(str(path), "upos")
    packed = pack(path, ending)
    assert (
        read_conllu(str(packed), "upos") == expected == ([["The", "cat", "sat"]], [["DET", "NOUN", "VERB"]])
    )
    sentences, gold, fmt = read_prediction_file(str(packed))
    assert (sentences, gold, fmt) == (*expected, "conllu")


@pytest.mark.parametrize(("ending", "kind"), [(".gz", "gzip"), (".bz2", "bzip2"), (".xz", "xz")])
def test_a_damaged_compressed_file_is_one_line(tmp_path, ending, kind):
    broken = tmp_path / f"train.txt{ending}"
    broken.write_bytes(PACK[ending](b"some text\n" * 1000)[:40])
    with pytest.raises(DataError, match=rf"train\.txt\{ending}: not a readable {kind} file"):
        check_utf8(str(broken))


def test_a_conllu_treebank_named_txt_reads_as_conllu(tmp_path):
    """Read as CoNLL columns its token column would be the IDs (1, 2, 3) and its tags the MISC column."""
    for folder, ending in (("named", "conllu"), ("txt", "txt")):
        (tmp_path / folder).mkdir()
        for split in ("train", "dev", "test"):
            (tmp_path / folder / f"{split}.{ending}").write_text(CONLLU * 3)
    named = module(tmp_path / "a", path=str(tmp_path / "named"), drop_comments=False)
    txt = module(tmp_path / "b", path=str(tmp_path / "txt"), drop_comments=False)
    assert txt.vocab.artifacts() == named.vocab.artifacts() and txt.vocab.corpus_tags == [
        "DET",
        "NOUN",
        "VERB",
    ]
    assert decoded(txt, "train") == decoded(named, "train")


def to_plus(conllu: str, extra: list[str]) -> str:
    """CoNLL-U as CoNLL-U Plus (PARSEME's .cupt): a `# global.columns` first line, ID FORM UPOS and an 11th column,
    `extra[k]` on the k-th word line."""
    out, k = ["# global.columns = ID FORM UPOS PARSEME:MWE"], 0
    for line in conllu.splitlines():
        if line and not line.startswith("#"):
            cols = line.split("\t")
            line, k = "\t".join([cols[0], cols[1], cols[3], extra[k]]), k + 1
        out.append(line)
    return "\n".join(out) + "\n"


def test_conllu_plus_is_read_by_the_columns_its_first_line_names(tmp_path):
    """Before: 'expected 10 tab-separated CoNLL-U columns, found 4' (or, named .cupt, no split file at all)."""
    plain, plus = tmp_path / "plain", tmp_path / "plus"
    plain.mkdir(), plus.mkdir()
    mwe = ["*", "1:LVC.full", "1", "*"] * 3
    for split in ("train", "dev", "test"):
        (plain / f"{split}.conllu").write_text(CONLLU * 3)
        (plus / f"{split}.cupt").write_text(to_plus(CONLLU * 3, mwe))
    assert read_conllu(str(plus / "train.cupt"), "upos") == read_conllu(str(plain / "train.conllu"), "upos")
    assert read_conllu(str(plus / "train.cupt"), "parseme:mwe")[1] == [mwe[:3], mwe[3:6], mwe[6:9]]
    a = module(tmp_path / "a", path=str(plain), drop_comments=False)
    b = module(tmp_path / "b", path=str(plus), drop_comments=False)
    assert b.vocab.artifacts() == a.vocab.artifacts() and decoded(b, "train") == decoded(a, "train")
    assert read_prediction_file(str(plus / "dev.cupt"))[2] == "conllu"
    with pytest.raises(
        DataError, match="Unknown CoNLL-U column 'xpos': use one of id, form, upos, parseme:mwe"
    ):
        read_conllu(str(plus / "train.cupt"), "xpos")


def test_conllu_plus_predictions_go_into_the_named_column(tmp_path):
    text = to_plus(CONLLU, ["*", "*", "*"])
    retagged = retag(text, [["DET", "NOUN", "VERB"]], "upos")
    assert retagged.splitlines()[0] == "# global.columns = ID FORM UPOS PARSEME:MWE"
    assert [x.split("\t")[2] for x in retagged.splitlines()[2:5]] == ["DET", "NOUN", "VERB"]
    with pytest.raises(DataError, match="cannot be written into CoNLL-U column 'form'"):
        retag(text, [["DET", "NOUN", "VERB"]], "form")


def norne(sents) -> str:
    """A treebank as NorNE and DaNE write their entities: `name=B-PER` in MISC beside other MISC items."""
    out = []
    for k, (words, tags) in enumerate(sents, start=1):
        out += [f"# sent_id = {k}", f"# text = {' '.join(words)}"]
        for i, (word, tag) in enumerate(zip(words, tags), start=1):
            misc = f"name={tag}" + ("|SpaceAfter=No" if i == len(words) else "")
            out.append("\t".join([str(i), word, "_", "X", "_", "_", str(i - 1), "dep", "_", misc]))
        out.append("")
    return "\n".join(out) + "\n"


def test_entities_in_a_misc_key_train_like_their_conll_twin_and_are_written_back_there(tmp_path):
    """`--data.conllu_column misc:name`. Before: "Unknown CoNLL-U column 'misc:name'", and `misc` read whole
    (`name=B-PER|SpaceAfter=No`) made every cell a tag of its own."""
    folder, data = write_corpus(tmp_path)  # the CoNLL twin, the oracle
    (tmp_path / "ud").mkdir()
    for split, name in (("train", "train"), ("valid", "dev"), ("test", "test")):
        (tmp_path / "ud" / f"no_bokmaal-ud-{name}.conllu").write_text(norne(data[split]))
    a = module(tmp_path / "a", path=str(folder))
    b = module(tmp_path / "b", path=str(tmp_path / "ud"), conllu_column="misc:name")
    assert b.vocab.artifacts() == a.vocab.artifacts() and b.vocab.corpus_scheme == "iob2"
    assert decoded(b, "train") == decoded(a, "train") and decoded(b, "validation") == decoded(a, "validation")
    text = norne(data["test"])
    gold = [tags for _, tags in data["test"]]
    assert (
        retag(text.replace("name=", "name=x"), gold, "misc:name") == text
    )  # the value replaced, the rest kept
    assert read_conllu_text(tmp_path, from_tokens([w for w, _ in data["test"]], gold, "misc:name")) == gold


def read_conllu_text(tmp_path, text: str) -> list[list[str]]:
    (tmp_path / "out.conllu").write_text(text)
    return read_conllu(str(tmp_path / "out.conllu"), "misc:name")[1]
