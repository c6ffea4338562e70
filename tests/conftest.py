"""Shared fixtures; the helpers they use live in `tests.helpers`."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import WEIGHTS, odd_inputs, write_clip


@pytest.fixture(scope="session")
def odd_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return odd_inputs(tmp_path_factory.mktemp("odd"))


@pytest.fixture
def synthetic_clip(tmp_path: Path) -> Path:
    return write_clip(tmp_path / "moving_square.avi")


@pytest.fixture(scope="session")
def recognizer():
    """Both shipped models, loaded once for the whole test session."""
    from recognition import MODEL_NAMES, Recognizer

    missing = [name for name in MODEL_NAMES if not (WEIGHTS / f"{name}.keras").exists()]
    if missing:
        pytest.skip(f"no trained weights yet for {', '.join(missing)} in weights/")
    return Recognizer.load(WEIGHTS)
