"""An installed wheel (not an editable checkout) carries the recipes and the default corpus: `--config conf/...`
and the default recipe work from any directory with nothing but the installed package."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def tracked_copy(dest: Path) -> Path:
    """The tracked files (links kept as links): the build writes build/ and *.egg-info beside its sources."""
    names = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for name in filter(None, names.decode().split("\0")):
        src, dst = ROOT / name, dest / name
        if not src.exists() and not src.is_symlink():
            continue  # deleted in the working tree
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():
            os.symlink(os.readlink(src), dst)
        else:
            shutil.copy2(src, dst)
    return dest


def test_an_installed_wheel_prepares_the_default_recipe_from_any_directory(tmp_path):
    src = tracked_copy(tmp_path / "src")
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", str(src), "-w", str(tmp_path / "wheel")],
                   check=True, cwd=tmp_path)  # fmt: skip
    (wheel,) = (tmp_path / "wheel").glob("lstm_pipeline-*.whl")
    subprocess.run([*pip, "install", "--no-deps", "--target", str(tmp_path / "site"), str(wheel)], check=True)
    recipes = sorted(p.relative_to(ROOT / "conf") for p in (ROOT / "conf").rglob("*.yaml"))
    assert recipes and recipes == sorted(
        p.relative_to(tmp_path / "site" / "pipeline" / "conf")
        for p in (tmp_path / "site" / "pipeline" / "conf").rglob("*.yaml")
    )
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = dict(os.environ, PYTHONPATH=str(tmp_path / "site"), OMP_NUM_THREADS="1")
    where = subprocess.run([sys.executable, "-c", "import pipeline; print(pipeline.__file__)"], cwd=work, env=env,
                           capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert where.startswith(str(tmp_path / "site"))  # the wheel's copy, not the checkout
    run = subprocess.run(
        [sys.executable, "-m", "pipeline", "prepare", "--config", "conf/lm/char_shakespeare.yaml",
         "--data.cache_dir", str(tmp_path / "cache")],
        cwd=work, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    assert "Prepared lm data" in run.stdout + run.stderr
