"""A tagger with language-model features leaves the pipeline as any tagger does: `pipeline.load` and the exported
folder carry its LMs (one restore route); the ONNX export, which does not cover them yet, says so in one line."""

from __future__ import annotations

import pipeline
from pipeline.__main__ import main
from tests.test_lm_embeddings import lm_text, lms, trained  # noqa: F401 (fixtures)
from tests.test_tagger_cli import ner_corpus  # noqa: F401 (a fixture)


def test_python_api_and_exported_folder_tag_as_predict_does(trained, tmp_path):  # noqa: F811
    """The tagger's LMs travel through `pipeline.load` and `export --format folder` too (one restore route)."""
    sentences = ["John lives in Paris .", "Acme Corp opened an office in Rome"]
    expected = [["B-PER", "O", "O", "B-LOC", "O"], ["B-ORG", "I-ORG", "O", "O", "O", "O", "B-LOC"]]
    ckpt = trained / "checkpoints" / "last.ckpt"
    assert pipeline.load(ckpt).tag(sentences) == expected
    assert main(["export", str(ckpt), "--format", "folder", "--output", str(tmp_path / "folder")]) == 0
    assert pipeline.load(tmp_path / "folder").tag(sentences) == expected


def test_onnx_export_of_a_tagger_with_lm_features_is_one_line_error(trained, tmp_path, capsys):  # noqa: F811
    ckpt = str(trained / "checkpoints" / "last.ckpt")
    assert main(["export", ckpt, "--format", "onnx", "--output", str(tmp_path / "onnx")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "lm_embeddings" in err, err
    assert not (tmp_path / "onnx").exists()
