"""Reading corpora as people keep them (issue 11): CoNLL-U, messy CoNLL files, encodings, split-file names,
*_files given as one path, a glob or a list, validation_split, and token-bounded batches."""

from __future__ import annotations

import logging

import datasets
import pytest

from data_modules.errors import DataError
from data_modules.holdout import hold_out
from data_modules.resumable import ResumableLoader
from data_modules.sources import resolve_source
from data_modules.tagging.batches import EvalBatchSampler, TrainBatchSampler
from data_modules.tagging.config import TaggingDataConfig
from data_modules.tagging.conll import read_conll, read_prediction_file
from data_modules.tagging.conllu import read_conllu
from data_modules.tagging.datamodule import TaggingDataModule
from tests.test_tagging_data import decoded, module, write_conll, write_corpus

CONLLU = """# sent_id = 1
# text = I don't know.
1\tI\tI\tPRON\tPRP\t_\t3\tnsubj\t_\t_
2-3\tdon't\t_\t_\t_\t_\t_\t_\t_\t_
2\tdo\tdo\tAUX\tVBP\t_\t4\taux\t_\t_
3\tn't\tnot\tPART\tRB\t_\t4\tadvmod\t_\t_
4\tknow\tknow\tVERB\tVB\t_\t0\troot\t_\t_
4.1\tknows\tknow\tVERB\tVB\t_\t_\t_\t_\t_
5\t.\t.\tPUNCT\t.\t_\t4\tpunct\t_\t_

# sent_id = 2
1\t#\t#\tSYM\tNN\t_\t0\troot\t_\t_
"""


def test_conllu_reads_the_forms_of_word_lines_only(tmp_path):
    path = tmp_path / "x-ud-train.conllu"
    path.write_text(CONLLU)
    tokens, upos = read_conllu(str(path))
    assert tokens == [["I", "do", "n't", "know", "."], ["#"]]
    assert upos == [["PRON", "AUX", "PART", "VERB", "PUNCT"], ["SYM"]]
    assert read_conllu(str(path), "xpos")[1][0] == ["PRP", "VBP", "RB", "VB", "."]
    assert read_conllu(str(path), "7")[1][1] == ["root"]
    assert read_prediction_file(str(path))[2] == "conllu"
    for split in ("dev", "test"):
        (tmp_path / f"x-ud-{split}.conllu").write_text(CONLLU)
    dm = module(tmp_path, path=str(tmp_path), drop_comments=False, train_scheme="bioes")
    assert dm.vocab.corpus_scheme == "none" and dm.vocab.train_scheme == "none"  # POS: trained as they are
    assert dm.vocab.corpus_tags == ["AUX", "PART", "PRON", "PUNCT", "SYM", "VERB"]


CLEAN = "EU NNP B-ORG\nrejects VBZ O\nGerman JJ B-MISC\n\nPeter NNP B-PER\nMüller NNP I-PER\n\n"


@pytest.mark.parametrize(
    "name, data, encoding",
    [
        ("crlf", CLEAN.replace("\n", "\r\n").encode(), "utf-8"),
        ("bom", b"\xef\xbb\xbf" + CLEAN.encode(), "utf-8"),
        ("tabs", CLEAN.replace(" ", "\t").encode(), "utf-8"),
        ("no-final-blank", CLEAN.rstrip("\n").encode(), "utf-8"),
        ("latin-1", CLEAN.encode("latin-1"), "latin-1"),
    ],
)
def test_messy_conll_reads_like_its_clean_twin(tmp_path, name, data, encoding):
    clean, messy = tmp_path / "clean.txt", tmp_path / f"{name}.txt"
    clean.write_text(CLEAN, encoding="utf-8")
    messy.write_bytes(data)
    assert read_conll(str(messy), encoding=encoding) == read_conll(str(clean))


def test_text_files_with_bom_crlf_and_latin1_read_like_clean_ones(tmp_path):
    lines = "the cat sat\nMüller went home\n"
    for name, data, enc in (("clean", lines.encode(), "utf-8"), ("bom", b"\xef\xbb\xbf" + lines.encode(), "utf-8"),
                            ("crlf", lines.replace("\n", "\r\n").encode(), "utf-8"),
                            ("latin", lines.encode("latin-1"), "latin-1")):  # fmt: skip
        (tmp_path / name).mkdir()
        (tmp_path / name / "train.txt").write_bytes(data)
        got = resolve_source(str(tmp_path / name), encoding=enc).load()["train"]["text"]
        assert got == ["the cat sat", "Müller went home"], name


def test_split_files_by_exact_names(tmp_path, caplog):
    for name in ("train.txt", "dev.txt", "test.txt", "train.old.txt", "test_backup.txt", "notes.md"):
        (tmp_path / name).write_text("a b\n")
    with caplog.at_level(logging.INFO, logger="data_modules.split_files"):
        ds = resolve_source(str(tmp_path)).load()
    assert set(ds) == {"train", "validation", "test"} and all(len(d) == 1 for d in ds.values())
    assert "ignored: notes.md, test_backup.txt, train.old.txt" in caplog.text
    (tmp_path / "valid.txt").write_text("c d\n")
    with pytest.raises(DataError, match="Two files for the validation split .*: dev.txt and valid.txt"):
        resolve_source(str(tmp_path))
    conll = tmp_path / "c2002"
    conll.mkdir()
    for name in ("esp.train", "esp.testa", "esp.testb"):
        (conll / name).write_text("Madrid B-LOC\nlindo O\n\n")  # two tags: a single one is refused
    assert module(tmp_path, path=str(conll)).summary()["validation sentences"] == 1
    mikolov = tmp_path / "simple-examples"  # ptb.{train,valid,test}.txt beside ptb.char.*.txt
    mikolov.mkdir()
    for name in (
        "ptb.train.txt",
        "ptb.valid.txt",
        "ptb.test.txt",
        "ptb.char.train.txt",
        "ptb.char.valid.txt",
    ):
        (mikolov / name).write_text(f"{name}\n")
    got = resolve_source(str(mikolov)).load()
    assert {s: d["text"] for s, d in got.items()} == {s: [f"ptb.{n}.txt"] for s, n in
                                                      (("train", "train"), ("validation", "valid"), ("test", "test"))}  # fmt: skip


def test_files_as_one_path_a_glob_or_a_list(tmp_path):
    for name in ("a.txt", "b.txt"):
        (tmp_path / name).write_text(f"{name} x\n")
    one = resolve_source(None, files={"train": str(tmp_path / "a.txt")}).load()["train"]
    glob = resolve_source(None, files={"train": str(tmp_path / "*.txt")}).load()["train"]
    both = resolve_source(None, files={"train": [str(tmp_path / "a.txt"), str(tmp_path / "b.txt")]}).load()
    assert len(one) == 1 and list(glob["text"]) == list(both["train"]["text"]) == ["a.txt x", "b.txt x"]


def test_validation_split_is_seeded_disjoint_and_complete():
    train = datasets.Dataset.from_dict({"text": [f"line {i}" for i in range(50)]})
    dd = datasets.DatasetDict({"train": train, "test": train.select(range(3))})
    a, b = hold_out(dd, 0.2, 0), hold_out(dd, 0.2, 0)
    held, kept = list(a["validation"]["text"]), list(a["train"]["text"])
    assert held == list(b["validation"]["text"]) and len(held) == 10 and not set(held) & set(kept)
    assert sorted(held + kept, key=lambda t: int(t.split()[1])) == list(train["text"])
    assert list(hold_out(dd, 10, 0)["validation"]["text"]) == held  # a count of rows: the same rows
    assert list(hold_out(dd, 0.2, 1)["validation"]["text"]) != held
    with pytest.raises(DataError, match="validation_split 50 must be"):
        hold_out(dd, 50, 0)
    one_line = datasets.DatasetDict({"train": train.select([0])})  # text8, enwik8: the corpus is one line
    with pytest.raises(
        DataError,
        match="holds out rows .* and the train split has 1: hold out characters instead: --data.holdout_chars",
    ):
        hold_out(one_line, 0.1, 0)


def test_batches_bounded_by_tokens_keep_the_sampler_guarantees():
    lengths = [3, 2000, 5, 40, 7, 1, 60, 2, 9, 11, 300]
    ev = [EvalBatchSampler(lengths, 8, True, 100) for _ in range(2)]
    for rank, s in enumerate(ev):
        s.set_shard(rank, 2)
    batches = [b for s in ev for b in s]
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))  # every sentence once
    assert all(len(b) * max(lengths[i] for i in b) <= 100 or len(b) == 1 for b in batches)
    tr = [TrainBatchSampler(lengths, 4, seed=1, max_tokens=100) for _ in range(2)]
    for rank, s in enumerate(tr):
        s.set_shard(rank, 2)
    assert len(tr[0]) == len(tr[1]) == len(list(tr[0])) == len(list(tr[1]))  # equal steps on every rank
    counts = set()
    for epoch in range(5):  # the same number of batches every epoch, each sentence once, in a new order
        tr[0].set_epoch(epoch)
        tr[1].set_epoch(epoch)
        counts.add(len(tr[0]))
        got = [b for s in tr for b in s.epoch_batches()]
        assert {i for b in got for i in b} == set(range(len(lengths)))
    assert len(counts) == 1
    resumed = TrainBatchSampler(lengths, 4, seed=1, max_tokens=100)
    resumed.set_shard(1, 2)
    loader = ResumableLoader(list(range(len(lengths))), batch_sampler=resumed, collate_fn=lambda b: b)
    loader.load_state_dict({"epoch": 1, "done": 1})  # resuming goes through the loader's position
    tr[1].set_epoch(1)
    assert list(loader) == list(tr[1])[1:]


def test_unseen_tag_gets_a_gold_id_and_a_warning(tmp_path):
    # Issue 11 replaced the old rule ("never occurs in the training split" was an error): it is scored.
    folder, data = write_corpus(tmp_path)
    sents = data["valid"][:12] + [(["odd", "the"], ["B-FOO", "B-FOO"])]
    write_conll(folder / "valid.txt", sents)
    with pytest.warns(UserWarning, match=r"validation split has gold tags .*: B-FOO \(2\)"):
        dm = module(tmp_path, path=str(folder))
    assert dm.vocab.gold_tags == dm.vocab.corpus_tags + ["B-FOO"] and "B-FOO" not in dm.vocab.train_tags
    got = decoded(dm, "validation")
    assert got[12][1] == ["B-FOO", "B-FOO"] and all(got[i][1] == sents[i][1] for i in got)


def test_checkpoint_vocabulary_scores_unseen_tags_and_refuses_alien_words(tmp_path):
    folder, _ = write_corpus(tmp_path)
    dm = module(tmp_path, path=str(folder))
    # A checkpoint's vocabulary meets a tag it never saw: scored as a miss (issue 11; it used to be an error).
    write_conll(folder / "test.txt", [(["the"], ["B-NEW"])])
    late = TaggingDataModule(
        TaggingDataConfig(path=str(folder), cache_dir=str(tmp_path / "c3"), drop_comments=True)
    )
    late.load_artifacts(dm.artifacts())
    late.prepare_data()
    with pytest.warns(UserWarning, match=r"test split has gold tags .*B-NEW \(1\)"):
        late.setup("test")
    assert late.gold_tags[-1] == "B-NEW" and late.model_inputs() == dm.model_inputs()
    # ... but data whose words the checkpoint mostly does not know is an error, not a score.
    write_conll(folder / "test.txt", [(["zz", "yy", "the"], ["O", "O", "O"])])
    alien = TaggingDataModule(
        TaggingDataConfig(path=str(folder), cache_dir=str(tmp_path / "c4"), drop_comments=True)
    )
    alien.load_artifacts(dm.artifacts())
    alien.prepare_data()
    with pytest.raises(DataError, match="test split does not match the checkpoint's vocabulary: 67%"):
        alien.setup("test")


def test_prediction_input_format_is_chosen_or_refused(tmp_path):
    two = tmp_path / "two.txt"
    two.write_text("EU rejects\n\nPeter Muller\n")  # two words a line, blank lines: CoNLL or text alike
    with pytest.raises(DataError, match="reads both as CoNLL columns .* --format conll or --format text"):
        read_prediction_file(str(two))
    assert read_prediction_file(str(two), "text")[:2] == ([["EU", "rejects"], ["Peter", "Muller"]], None)
    assert read_prediction_file(str(two), "conll")[:2] == ([["EU"], ["Peter"]], [["rejects"], ["Muller"]])
    cols = tmp_path / "cols.txt"
    cols.write_text("#1 O\nEU B-ORG\nrejects O\n\nPeter B-PER\n")
    sents, gold, fmt = read_prediction_file(str(cols))
    assert fmt == "conll" and sents == [["#1", "EU", "rejects"], ["Peter"]]  # '#' is a token outside CoNLL-U


def test_lm_validation_split_and_the_missing_split_error(tmp_path, lm_corpus):
    from data_modules.lm.config import LMDataConfig
    from data_modules.lm.datamodule import LMDataModule

    folder = tmp_path / "lm"
    folder.mkdir()
    for name in ("train.txt", "test.txt"):
        (folder / name).write_text((lm_corpus / name).read_text())
    cfg = LMDataConfig(path=str(folder), cache_dir=str(tmp_path / "cache"))
    with pytest.raises(DataError, match="no validation split .*--data.validation_split 0.1"):
        LMDataModule(cfg).prepare_data()
    runs = []
    for _ in range(2):  # a resumed run rebuilds the same split (here: from its cache)
        dm = LMDataModule(
            LMDataConfig(path=str(folder), cache_dir=str(tmp_path / "cache"), validation_split=0.1)
        )
        dm.prepare_data()
        dm.setup("fit")
        runs.append({s: dm.ids[s].tolist() for s in ("train", "validation")})
    whole = LMDataModule(LMDataConfig(path=str(lm_corpus), cache_dir=str(tmp_path / "cache")))
    whole.setup("fit")  # the same train.txt, nothing held out: the two parts add up to it
    assert runs[0] == runs[1] and 0 < len(runs[0]["validation"]) < len(runs[0]["train"])
    assert len(runs[0]["train"]) + len(runs[0]["validation"]) == len(whole.ids["train"])
