"""Shared test helpers: synthetic clips, and the real UCF clips in ../shared when present."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
UCF14 = SHARED / "data" / "ucf14"
WEIGHTS = ROOT / "weights"

needs_ucf14 = pytest.mark.skipif(
    not UCF14.is_dir(), reason="needs the real UCF clips in ../shared/data/ucf14 (not in a fresh clone)"
)

needs_weights = pytest.mark.skipif(
    not all((WEIGHTS / f"{name}.keras").exists() for name in ("lrcn", "convlstm")),
    reason="needs both trained models in weights/ (python -m recognition train ...)",
)


def write_clip(path: Path, frames: int = 30, fps: float = 10.0, size: tuple[int, int] = (64, 48),
               fourcc: str = "MJPG") -> Path:
    """A small synthetic clip: a bright square moving left to right; frame i has gray level ~ i."""
    width, height = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (width, height))
    assert writer.isOpened(), f"OpenCV cannot write {fourcc}"
    for i in range(frames):
        frame = np.full((height, width, 3), (i * 8) % 256, np.uint8)
        x = int(i * (width - 8) / max(frames - 1, 1))
        frame[height // 2 - 4 : height // 2 + 4, x : x + 8] = 255
        writer.write(frame)
    writer.release()
    return path


@pytest.fixture
def synthetic_clip(tmp_path: Path) -> Path:
    return write_clip(tmp_path / "moving_square.avi")


def validation_clip(label: str) -> Path:
    """A real clip of `label` from a group (g21-g25) that the shipped models never trained on."""
    return sorted((UCF14 / label).glob("*_g2[1-5]_*.mp4"))[0]


@pytest.fixture(scope="session")
def recognizer():
    """Both shipped models, loaded once for the whole test session."""
    from recognition import MODEL_NAMES, Recognizer

    missing = [name for name in MODEL_NAMES if not (WEIGHTS / f"{name}.keras").exists()]
    if missing:
        pytest.skip(f"no trained weights yet for {', '.join(missing)} in weights/")
    return Recognizer.load(WEIGHTS)
