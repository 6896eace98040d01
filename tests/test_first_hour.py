"""The documentation runs: every code block marked `<!-- runnable -->` in README.md and docs/first-hour.md is run
here, as a user would run it (shell blocks from a fresh folder beside the scripts, with their own text and labels;
Python blocks in a fresh process), so a command or snippet that breaks is a failing test."""

import os
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

RUNNABLE = re.compile(r"<!-- runnable -->\s*```(bash|python)\n(.*?)```", re.DOTALL)


def runnable_blocks(path: Path, language: str) -> list[str]:
    return [code for lang, code in RUNNABLE.findall(path.read_text(encoding="utf-8")) if lang == language]


def write_user_files(folder: Path) -> None:
    """A user's own text (one verse per line, saved with a byte-order mark) and labelled CSV."""
    rng = random.Random(0)
    words = "and the lord said unto moses behold i will send my people out of the land into a good land".split()
    lines = [" ".join(rng.choice(words) for _ in range(rng.randint(6, 16))).capitalize() + "." for _ in range(800)]
    (folder / "book.txt").write_text("\ufeff" + "\n".join(lines) + "\n", encoding="utf-8")
    tone = {"positive": ["good", "great", "lovely"], "negative": ["bad", "awful", "dull"], "neutral": ["red", "blue"]}
    rows = ["review,sentiment"]
    for _ in range(150):
        label = rng.choice(sorted(tone))
        rows.append(f"{' '.join(rng.choice(words + tone[label] * 4) for _ in range(8))},{label}")
    (folder / "reviews.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")


def environment() -> dict:
    """`python` is this interpreter, and nothing reaches the network."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return {**os.environ, "PATH": path, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}


def test_the_first_hour_walkthrough_runs_and_leaves_what_it_says(tmp_path):
    (tmp_path / "scripts").symlink_to(ROOT / "scripts")
    (tmp_path / "first-hour").mkdir()
    write_user_files(tmp_path / "first-hour")
    blocks = runnable_blocks(ROOT / "docs" / "first-hour.md", "bash")
    assert blocks, "docs/first-hour.md has no runnable block"
    for block in blocks:
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", block],
            cwd=tmp_path,
            env=environment(),
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert done.returncode == 0, done.stderr[-4000:]
    # warnings the user would see: none, except about their own data
    noise = [line for line in done.stderr.splitlines() if re.search(r"warn|Failed to load|deprecat", line, re.I)]
    assert noise == [], noise
    out = tmp_path / "first-hour"
    for path in (
        "tokenizer/tokenizer.json",
        "store/metadata.json",
        "lm/summary.json",
        "lm/loss_curve.png",
        "classifier/results.json",
        "classifier/confusion_matrix_validation.png",
        "evaluation.json",
        "exported/config.json",
        "classifier-hub/README.md",
    ):
        assert (out / path).is_file(), path
    summary = (out / "lm" / "summary.json").read_text()
    assert '"resumed_from": "checkpoint-40"' in summary and '"steps": 60' in summary


@pytest.mark.parametrize("source", ["README.md", "docs/first-hour.md"])
def test_every_runnable_python_snippet_runs(source, tmp_path):
    for code in runnable_blocks(ROOT / source, "python"):
        done = subprocess.run(
            [sys.executable, "-c", code], cwd=tmp_path, env=environment(), capture_output=True, text=True, timeout=600
        )
        assert done.returncode == 0, f"{code}\n{done.stderr[-3000:]}"
