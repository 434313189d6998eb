"""The tagger with language-model features (`--model.lm_embeddings`): word-boundary positions, the feature cache,
learning, evaluate from the tagger checkpoint alone, 1 vs 2 processes, exact resume, and bad LMs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from data_modules.tagging.lm_inputs import lm_batch, lm_input
from pipeline import lm_embeddings
from pipeline.__main__ import main
from pipeline.checkpoints import open_checkpoint
from pipeline.trainer import prepare_and_setup
from tests.test_distributed import evaluate_with
from tests.test_tagger_cli import ner_corpus, tagger_args  # noqa: F401 (a fixture)

CHAR = {"unit": "char", "eos": 1, "unk": 0, "vocab": {c: i + 2 for i, c in enumerate(" EURGacegijmnrst")}}


def test_char_lm_positions_are_flairs_word_boundaries():
    words = ["EU", "rejects", "German"]  # "EU rejects German": E0 U1 _2 r3 .. s9 _10 G11 .. n16
    ids, fwd = lm_input(words, CHAR | {"reverse": False})
    assert fwd == [2, 10, 17]  # input = <eos> + text: the states after 'U', the last 's', 'n'
    text = "<eos>" + " ".join(words)
    assert [(["<eos>"] + list(" ".join(words)))[p] for p in fwd] == ["U", "s", "n"]
    ids, bwd = lm_input(words, CHAR | {"reverse": True})
    # input = <eos> + reversed text: the states after 'E', 'r', 'G' (the words' first characters)
    assert bwd == [17, 14, 6]
    reversed_units = ["<eos>"] + list(" ".join(words)[::-1])
    assert [reversed_units[p] for p in bwd] == ["E", "r", "G"]
    assert ids[0] == 1 and len(ids) == len(text) - len("<eos>") + 1


def test_word_lm_positions_are_the_words_themselves():
    spec = {"unit": "word", "eos": 1, "unk": 0, "vocab": {"a": 2, "b": 3}}
    assert lm_input(["a", "b", "c"], spec | {"reverse": False}) == ([1, 2, 3, 0], [1, 2, 3])
    assert lm_input(["a", "b", "c"], spec | {"reverse": True}) == ([1, 0, 3, 2], [3, 2, 1])


# ---------------------------------------------------------------------------------------------- end to end
@pytest.fixture(scope="module")
def lm_text(ner_corpus, tmp_path_factory) -> Path:  # noqa: F811
    """The NER training split's sentences as plain text (valid/test: a few of them, enough for a tiny LM)."""
    from benchmarks.lm_text import conll_documents

    folder = tmp_path_factory.mktemp("lm-text")
    lines = [s for doc in conll_documents(ner_corpus / "train.txt") for s in doc]
    for name, part in (("train", lines), ("valid", lines[:20]), ("test", lines[20:40])):
        (folder / f"{name}.txt").write_text("".join(line + "\n" for line in part))
    return folder


def lm_args(work: Path, text: Path, name: str) -> list[str]:
    return [
        "--config", "conf/lm/char_news.yaml", "--data.path", str(text), "--data.cache_dir", str(work / "cache"),
        "--runs_dir", str(work / "runs"), "--name", name, "--data.batch_size", "8", "--data.bptt", "30",
        "--model.embedding_size", "8", "--model.hidden_size", "16", "--trainer.max_epochs", "2",
        "--trainer.max_time", "null", "--trainer.val_check_interval", "1.0", "--trainer.check_val_every_n_epoch", "1",
        "--trainer.accelerator", "cpu",
        "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false", "--wandb.mode", "disabled",
    ]  # fmt: skip


@pytest.fixture(scope="module")
def lms(lm_text, tmp_path_factory) -> tuple[Path, Path]:
    work = tmp_path_factory.mktemp("lms")
    out = []
    for name, reverse in (("fwd", "false"), ("bwd", "true")):
        assert main(["train", *lm_args(work, lm_text, name), "--data.reverse", reverse]) == 0
        out.append(work / "runs" / name / "checkpoints" / "last.ckpt")
    return out[0], out[1]


def with_lms(work: Path, corpus: Path, fwd: Path, bwd: Path, name: str = "ner-lm") -> list[str]:
    return [*tagger_args(work, corpus, name), "--model.lm_embeddings", json.dumps([str(fwd), str(bwd)])]


@pytest.fixture(scope="module")
def trained(ner_corpus, lms, tmp_path_factory) -> Path:  # noqa: F811
    """A tagger trained on copies of the LM checkpoints (a test deletes them)."""
    work = tmp_path_factory.mktemp("ner-lm")
    copies = work / "lms"
    copies.mkdir()
    fwd, bwd = (Path(shutil.copy(p, copies / f"{d}.ckpt")) for p, d in zip(lms, ("fwd", "bwd")))
    assert main(["train", *with_lms(work, ner_corpus, fwd, bwd)]) == 0
    return work / "runs" / "ner-lm"


def test_tagger_with_lm_features_learns_the_templates_to_f1_100(trained):
    metrics = json.loads((trained / "metrics.json").read_text())
    assert metrics["test"]["f1"] == pytest.approx(100.0)
    specs = json.loads((trained / "lm_embeddings.json").read_text())
    assert [(s["unit"], s["reverse"]) for s in specs] == [("char", False), ("char", True)]


def restored(ckpt: Path):
    dm, module = open_checkpoint(str(ckpt), "tagger").restore()
    prepare_and_setup(dm)
    lm_embeddings.attach(dm, module)
    return dm, module.eval()


def test_cached_features_equal_features_computed_on_the_fly(trained):
    dm, module = restored(trained / "checkpoints" / "last.ckpt")
    files = sorted(Path(dm._path).glob("lm-features-*.npy"))
    assert len(files) == 3  # one per split, written while training and found again here
    for split in ("train", "validation", "test"):
        tokens = dm._data[split]["tokens"]
        loader = {"train": dm.train_dataloader, "validation": dm.val_dataloader, "test": dm.test_dataloader}[
            split
        ]
        batch = next(iter(loader()))
        rows = batch["index"].tolist()  # no sentence is empty here, so index = row
        with torch.no_grad():
            fresh = module.lm_features(lm_batch([tokens[r] for r in rows], dm.lm_specs))
        mask = batch["mask"]
        assert batch["lm"].shape == fresh.shape and mask.sum() > 0
        assert torch.equal(batch["lm"][mask], fresh[mask]), split
    # The cache holds exactly the features of every word, in order (a second, sentence-at-a-time route).
    feats = np.load(files[0])
    assert feats.shape[1] == sum(e.output_size for e in module.lm_embedders) == 32


def test_evaluate_works_after_the_lm_checkpoints_are_deleted(trained, tmp_path):
    shutil.rmtree(trained.parent.parent / "lms")
    for cache in (trained.parent.parent / "cache").glob("tagging-*"):
        for f in cache.glob("lm-features-*"):
            f.unlink()  # the features too: evaluate recomputes them from the weights the tagger holds
    out = evaluate_with(1, trained / "checkpoints" / "last.ckpt", "test", tmp_path / "m.json")
    assert out["f1"] == pytest.approx(100.0)


def test_predict_runs_the_lms_from_the_tagger_checkpoint(trained, tmp_path):
    assert not (trained.parent.parent / "lms").exists()  # deleted by the test above
    (tmp_path / "in.txt").write_text("John lives in Paris .\nAcme Corp opened an office in Rome\n")
    ckpt = str(trained / "checkpoints" / "last.ckpt")
    args = ["predict", ckpt, "--input", str(tmp_path / "in.txt"), "--output", str(tmp_path / "out.txt")]
    assert main([*args, "--trainer.enable_progress_bar", "false"]) == 0
    tags = [line.split()[1] for line in (tmp_path / "out.txt").read_text().splitlines() if line]
    assert tags == ["B-PER", "O", "O", "B-LOC", "O", "B-ORG", "I-ORG", "O", "O", "O", "O", "B-LOC"]


def test_evaluate_gives_the_same_f1_with_1_and_2_processes(trained, tmp_path):
    ckpt = trained / "checkpoints" / "last.ckpt"
    one = evaluate_with(1, ckpt, "validation", tmp_path / "one.json")
    two = evaluate_with(2, ckpt, "validation", tmp_path / "two.json")
    assert one["f1"] == two["f1"] and one["per_type"] == two["per_type"]


# ---------------------------------------------------------------------------------------------- resume, finetune
def test_resume_with_cached_lm_features_is_exact(ner_corpus, lms, tmp_path):  # noqa: F811
    from tests.test_resume import WRAPPER, final_state, run, val_rows

    script = tmp_path / "wrapped.py"
    script.write_text(WRAPPER)
    extra = ["--trainer.max_epochs", "2", "--trainer.deterministic", "true", "--checkpoint.every_n_train_steps", "10",
             "--trainer.log_every_n_steps", "5", "--model.dropout", "0.3"]  # fmt: skip
    full = run(script, [*with_lms(tmp_path, ner_corpus, *lms, name="full"), *extra])
    assert full.returncode == 0, full.stderr[-3000:]
    args = [*with_lms(tmp_path, ner_corpus, *lms, name="cut"), *extra]
    cut = run(script, args, KILL_STEP="13", KILL_SIGNAL="SIGTERM")
    assert cut.returncode != 0 and "Traceback" not in cut.stderr
    resumed = run(script, args)
    assert resumed.returncode == 0 and "resuming from" in resumed.stderr + resumed.stdout, resumed.stderr[
        -3000:
    ]
    reference, state = final_state(tmp_path / "runs" / "full"), final_state(tmp_path / "runs" / "cut")
    assert state.keys() == reference.keys() and any(k.startswith("lm_embedders.") for k in state)
    for key in reference:
        assert torch.equal(state[key], reference[key]), f"{key} differs after resume"
    assert val_rows(tmp_path / "runs" / "cut") == val_rows(tmp_path / "runs" / "full")


def test_lm_finetune_trains_the_lm_weights(ner_corpus, lms, tmp_path):  # noqa: F811
    args = [
        *with_lms(tmp_path, ner_corpus, *lms, name="ft"),
        "--model.lm_finetune",
        "true",
        "--trainer.max_epochs",
        "2",
    ]
    assert main(["train", *args]) == 0
    tagger = torch.load(tmp_path / "runs" / "ft" / "checkpoints" / "last.ckpt", weights_only=True)[
        "state_dict"
    ]
    lm = torch.load(lms[0], weights_only=True)["state_dict"]
    key = "model.layers.0.lstm.weight_hh_l0"
    assert not torch.equal(tagger[f"lm_embedders.0.lm.{key[6:]}"], lm[key])  # trained through
    assert not list((tmp_path / "cache").glob("tagging-*/lm-features-*"))  # nothing frozen to cache
    metrics = json.loads((tmp_path / "runs" / "ft" / "metrics.json").read_text())
    assert metrics["test"]["f1"] > 50


# ---------------------------------------------------------------------------------------------- bad input
def test_a_tagger_checkpoint_as_lm_is_one_line_error(ner_corpus, trained, tmp_path, capsys):  # noqa: F811
    ckpt = trained / "checkpoints" / "last.ckpt"
    assert main(["train", *with_lms(tmp_path, ner_corpus, ckpt, ckpt, name="bad")]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(err) == 1 and "is a tagger checkpoint; --model.lm_embeddings needs a language model" in err[0]


def test_an_lm_that_cannot_encode_the_corpus_is_one_line_error(ner_corpus, tmp_path, capsys):  # noqa: F811
    digits = tmp_path / "digits"
    digits.mkdir()
    for name in ("train", "valid", "test"):
        (digits / f"{name}.txt").write_text("".join(f"{i} {i * 7} {i % 13}\n" for i in range(300)))
    assert main(["train", *lm_args(tmp_path, digits, "digits")]) == 0
    ckpt = tmp_path / "runs" / "digits" / "checkpoints" / "last.ckpt"
    capsys.readouterr()
    assert main(["train", *with_lms(tmp_path, ner_corpus, ckpt, ckpt, name="bad")]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(err) == 1 and "cannot encode" in err[0] and "split's characters (more than 10%)" in err[0]


def test_a_word_lm_gives_taglm_features(ner_corpus, lm_text, tmp_path):  # noqa: F811
    word = [*lm_args(tmp_path, lm_text, "word"), "--data.tokenizer", "word", "--trainer.max_epochs", "1"]
    assert main(["train", *word]) == 0
    ckpt = tmp_path / "runs" / "word" / "checkpoints" / "last.ckpt"
    assert main(["train", *[*tagger_args(tmp_path, ner_corpus, "taglm"), "--trainer.max_epochs", "1"],
                 "--model.lm_embeddings", json.dumps([str(ckpt)])]) == 0  # fmt: skip
    dm, module = restored(tmp_path / "runs" / "taglm" / "checkpoints" / "last.ckpt")
    assert dm.lm_specs[0]["unit"] == "word" and dm._splits["test"].features.shape[1] == 16
    # A word's TagLM feature is the LM's state after reading <eos> and the sentence up to that word.
    words = dm._data["test"]["tokens"][0]
    spec, lm = dm.lm_specs[0], module.lm_embedders[0].lm
    ids = torch.tensor([[spec["eos"]] + [spec["vocab"].get(w, spec["unk"]) for w in words]])
    with torch.no_grad():
        h = torch.zeros(1, 1, 16)
        states = lm.layers[0](lm.encoder(ids), (h, h))[0][0, 1:]
    assert torch.allclose(
        torch.from_numpy(np.array(dm._splits["test"].features[: len(words)])), states, atol=1e-6
    )
