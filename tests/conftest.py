"""Shared fixtures; the helpers they use live in `tests.helpers`."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from recognition.metadata import SPLIT_RUN_DIR
from tests.helpers import (
    CONFIDENT_ACTION,
    UCF14,
    WEIGHTS,
    missing_models,
    odd_inputs,
    pattern_clip,
    validation_clip,
    write_clip,
)


@pytest.fixture(scope="session", autouse=True)
def temporary_files_stay_in_pytests_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The test process's temporary files go under pytest's own folder, which it prunes: gradio_client
    leaves an empty folder in the system's temporary directory for every file it downloads."""
    system = tempfile.tempdir
    tempfile.tempdir = str(tmp_path_factory.mktemp("tmp"))
    yield
    tempfile.tempdir = system


@pytest.fixture(scope="session")
def odd_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return odd_inputs(tmp_path_factory.mktemp("odd"))


@pytest.fixture
def synthetic_clip(tmp_path: Path) -> Path:
    return write_clip(tmp_path / "moving_square.avi")


def _both_models(folder: Path):
    from recognition import Recognizer

    missing = missing_models(folder)
    if missing:
        pytest.skip(f"no trained weights for {', '.join(missing)} in {folder}")
    return Recognizer.load(folder)


@pytest.fixture(scope="session")
def recognizer():
    """Both shipped models, loaded once for the whole test session."""
    return _both_models(WEIGHTS)


@pytest.fixture(scope="session")
def split_runs():
    """The shipped recipes trained without g21-g25 (`weights/split_run`): the models to measure on those groups."""
    return _both_models(SPLIT_RUN_DIR)


@pytest.fixture(scope="session")
def more_odd_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from tests.real_world import more_odd_inputs

    return more_odd_inputs(tmp_path_factory.mktemp("more-odd"))


@pytest.fixture(scope="session")
def synthetic_codec_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every format of `tests.real_world.CODECS`, from ffmpeg's test pattern (where content doesn't matter)."""
    from tests.real_world import codec_copies

    folder = tmp_path_factory.mktemp("codecs-synthetic")
    return codec_copies(pattern_clip(folder / "source.mp4", "320x240", 3.0), folder / "copies")


@pytest.fixture(scope="session")
def real_codec_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every format of `tests.real_world.CODECS`, from a g21-g25 clip the models name confidently."""
    from tests.real_world import codec_copies

    if not UCF14.is_dir():
        pytest.skip("needs the real UCF clips in ../shared/data/ucf14 (not in a fresh clone)")
    return codec_copies(validation_clip(CONFIDENT_ACTION), tmp_path_factory.mktemp("codecs-real"))
