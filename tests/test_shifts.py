"""Shifted copies: each one decodes, has the shape its name says, and leaves the clip alone."""

from pathlib import Path

import numpy as np
import pytest

from recognition.shifts import SHIFTS, shifted_copy
from recognition.video import iter_frames, probe
from tests.helpers import pattern_clip


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return pattern_clip(tmp_path_factory.mktemp("shift") / "clip.mp4", "320x240", 2.0)


@pytest.mark.parametrize("shift", list(SHIFTS))
def test_every_shift_makes_a_video_and_leaves_the_clip_alone(clip: Path, tmp_path: Path, shift: str):
    before = clip.read_bytes()
    copy = shifted_copy(clip, shift, tmp_path)
    info, original = probe(copy), probe(clip)
    assert clip.read_bytes() == before and copy.parent == tmp_path
    expected_size = {"letterbox": (320, 320), "portrait": (134, 240), "zoom": (224, 168),
                     "compress": (160, 120), "phone": (134, 240)}.get(shift, (320, 240))
    assert (info.width, info.height) == expected_size
    expected_duration = {"fast": 2.0 / 1.5, "slow": 3.0}.get(shift, 2.0)
    assert info.duration_s == pytest.approx(expected_duration, abs=0.15)
    assert info.frame_count >= 25 and original.frame_count == 50


def test_a_letterboxed_copy_adds_bars_and_keeps_the_picture(clip: Path, tmp_path: Path):
    copy = shifted_copy(clip, "letterbox", tmp_path)
    (_, picture), (_, framed) = next(iter_frames(clip)), next(iter_frames(copy))
    assert framed[:38].max() < 30 and framed[-38:].max() < 30
    assert np.abs(framed[40:280].astype(int) - picture).mean() < 6


def test_an_unknown_shift_is_refused(clip: Path, tmp_path: Path):
    with pytest.raises(ValueError, match="unknown shift 'sepia'"):
        shifted_copy(clip, "sepia", tmp_path)


def test_a_mirrored_copy_is_the_picture_flipped_left_to_right(clip: Path, tmp_path: Path):
    copy = shifted_copy(clip, "mirror", tmp_path)
    (_, picture), (_, mirrored) = next(iter_frames(clip)), next(iter_frames(copy))
    assert np.abs(mirrored.astype(int) - picture[:, ::-1]).mean() < 6
    assert np.abs(mirrored.astype(int) - picture).mean() > 20
