from pathlib import Path

import numpy as np

from recognition.evaluation import letterboxed_copy
from recognition.video import iter_frames, probe
from tests.helpers import pattern_clip


def test_a_letterboxed_copy_adds_bars_and_keeps_the_picture(tmp_path: Path):
    clip = pattern_clip(tmp_path / "clip.mp4", "320x240", 2.0)
    before = clip.read_bytes()
    copy = letterboxed_copy(clip, tmp_path)
    original, boxed = probe(clip), probe(copy)
    assert (boxed.width, boxed.height) == (320, 320) and boxed.frame_count == original.frame_count
    assert clip.read_bytes() == before
    (_, picture), (_, framed) = next(iter_frames(clip)), next(iter_frames(copy))
    assert framed[:38].max() < 30 and framed[-38:].max() < 30
    assert np.abs(framed[40:280].astype(int) - picture).mean() < 6
