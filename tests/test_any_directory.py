"""The README's commands from any working directory: a recipe named by its path in the project (`conf/...`) is the
project's own unless the working directory has a file of that name, and `demo` finds its recipes."""

from __future__ import annotations

import json

from pipeline.__main__ import main as cli


def test_a_recipe_named_by_its_project_path_is_found_from_any_directory(
    lm_corpus, tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    for form in (["--config", "conf/lm/demo.yaml"], ["--config=conf/lm/demo.yaml"]):
        cache = tmp_path / f"cache{len(form)}"
        assert cli(["prepare", *form, "--data.path", str(lm_corpus), "--data.cache_dir", str(cache)]) == 0
        assert "Prepared lm data" in capsys.readouterr().out and any(cache.iterdir())


def test_a_recipe_of_that_name_in_the_working_directory_comes_first(lm_corpus, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "conf" / "lm").mkdir(parents=True)
    (tmp_path / "conf" / "lm" / "demo.yaml").write_text("task: lm\nmy_own_key: 1\n")
    assert cli(["prepare", "--config", "conf/lm/demo.yaml", "--data.path", str(lm_corpus)]) == 2
    assert "my_own_key" in capsys.readouterr().err  # the local file was read, not the project's


def test_a_recipe_found_nowhere_is_a_one_line_error(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert cli(["prepare", "--config", "conf/lm/no_such_recipe.yaml"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "error: Config file 'conf/lm/no_such_recipe.yaml' does not exist."


def test_demo_runs_from_another_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli(["demo", "--tokens", "3000", "--sentences", "120"]) == 0
    summary = json.loads((tmp_path / "demo_out" / "summary.json").read_text())
    assert summary["lm"]["test_ppl"] > 1 and 0 < summary["tagger"]["test_accuracy"] <= 100
