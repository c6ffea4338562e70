"""What a Hugging Face Space gets: LFS for every binary, the README's Hub settings, and the files sent.

Offline: the upload itself is not run; the selection is `upload_folder`'s own filter
with the deploy script's patterns, applied to a copy of the tracked files.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from scripts.deploy_space import space_files
from tests.helpers import ROOT

HUB_TEXT_LIMIT = 10 * 1024 * 1024  # the Hub refuses plain (non-LFS) files larger than this

needs_git = pytest.mark.skipif(shutil.which("git") is None or not (ROOT / ".git").exists(),
                               reason="needs a git checkout to list the tracked files")


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, check=True, capture_output=True, text=True).stdout


def _tracked_files() -> list[str]:
    """Files in the index, and new ones not yet added (but not ignored ones)."""
    listed = _git("ls-files", "-z", "--cached", "--others", "--exclude-standard").split("\0")
    return [path for path in listed if path and (ROOT / path).is_file()]


def _binary_files() -> list[str]:
    """Tracked files that git itself takes for binary (`-text` in the index or the working tree)."""
    binary = []
    for line in _git("ls-files", "--eol", "--cached", "--others", "--exclude-standard").splitlines():
        flags, path = line.split("\t", 1)
        index, tree = flags.split()[:2]
        if "-text" in (index.removeprefix("i/"), tree.removeprefix("w/")):
            binary.append(path)
    return binary


@needs_git
def test_every_binary_or_large_tracked_file_goes_through_lfs():
    binary = _binary_files()
    large = [path for path in _tracked_files() if (ROOT / path).stat().st_size > HUB_TEXT_LIMIT]
    assert {"weights/lrcn.keras", "weights/convlstm.keras", "docs/screenshot.png"} <= set(binary)
    attributes = _git("check-attr", "filter", "--", *binary, *large)
    filters = dict(re.findall(r"^(.*): filter: (\S+)$", attributes, re.MULTILINE))
    assert {path: filters[path] for path in binary + large if filters[path] != "lfs"} == {}


def test_readme_front_matter_configures_the_space():
    front_matter = yaml.safe_load((ROOT / "README.md").read_text().split("---\n")[1])
    gradio_pin = re.search(r"^gradio==(\S+)$", (ROOT / "requirements.txt").read_text(), re.MULTILINE)[1]
    assert front_matter["sdk"] == "gradio" and front_matter["sdk_version"] == gradio_pin
    assert front_matter["python_version"] == "3.11"
    assert (ROOT / front_matter["app_file"]).is_file()
    assert 0 < len(front_matter["short_description"]) <= 60


@pytest.fixture
def checkout_with_leftovers(tmp_path: Path) -> Path:
    """The tracked files, copied, plus what a working copy collects and a Space must not get."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs a git checkout to list the tracked files")
    for path in _tracked_files():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / path, tmp_path / path)
    for leftover in (".venv/lib/site.py", "recognition/__pycache__/video.cpython-311.pyc", ".env",
                     "runs/lrcn/model.keras", "weights/lrcn_experiment.keras", "cache/frames.npz",
                     ".git/config", "bench/results.json"):
        (tmp_path / leftover).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / leftover).write_text("not for the Space")
    return tmp_path


def test_the_space_gets_the_app_the_package_the_models_and_the_examples(checkout_with_leftovers: Path):
    sent = space_files(checkout_with_leftovers)
    modules = sorted(path.relative_to(ROOT).as_posix() for path in (ROOT / "recognition").glob("*.py"))
    examples = sorted(path.relative_to(ROOT).as_posix() for path in (ROOT / "examples").iterdir())
    expected = {"README.md", ".gitattributes", "requirements.txt", "app.py", "docs/screenshot.png",
                "weights/lrcn.keras", "weights/lrcn.json", "weights/convlstm.keras", "weights/convlstm.json",
                "weights/lrcn.familiarity.npz", "weights/convlstm.familiarity.npz",
                "weights/pose.npz", "weights/pose.json", "weights/pose_landmark_full.tflite", "weights/NOTICE",
                *(path.relative_to(ROOT).as_posix() for path in (ROOT / "weights").glob("*-*.*")),
                *modules, *examples}
    assert set(sent) == expected


@pytest.mark.slow
def test_the_files_sent_are_enough_to_start_the_app(checkout_with_leftovers: Path, tmp_path_factory):
    """Only the selection, in a fresh folder: the page's module and the models' module import from it."""
    space = tmp_path_factory.mktemp("space")
    for path in space_files(checkout_with_leftovers):
        (space / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(checkout_with_leftovers / path, space / path)
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "-c", "import app, recognition.pipeline; print(app.EXAMPLES_DIR)"],
                          cwd=space, env=environment, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert Path(done.stdout.strip()) == space / "examples"
