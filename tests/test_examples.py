"""The example clips the page offers: few, small, one per class, named by class, and recognized."""

from __future__ import annotations

import pytest

from recognition.metadata import ModelSpec
from tests.helpers import ROOT, WEIGHTS

EXAMPLES = ROOT / "examples"
CLIPS = sorted(EXAMPLES.glob("*.mp4"))


def test_three_to_five_small_clips_of_different_classes():
    classes = ModelSpec.load(WEIGHTS / "lrcn.json").classes
    assert 3 <= len(CLIPS) <= 5
    assert sum(clip.stat().st_size for clip in CLIPS) < 2e6
    assert all(clip.stem in classes for clip in CLIPS), [clip.stem for clip in CLIPS]


def test_the_readme_cites_ucf101_and_names_each_clip_and_its_source():
    readme = (EXAMPLES / "README.md").read_text()
    assert "Soomro" in readme and "CRCV-TR-12-01" in readme
    for clip in CLIPS:
        assert f"`{clip.name}` | {clip.stem} | `v_{clip.stem}_g2" in readme, clip.name


@pytest.mark.slow
@pytest.mark.parametrize("clip", CLIPS, ids=[clip.stem for clip in CLIPS])
def test_both_models_name_each_example(recognizer, clip, tmp_path):
    recognition = recognizer.recognize(clip, output_dir=tmp_path)
    assert {name: result.label for name, result in recognition.models.items()} == {
        "lrcn": clip.stem, "convlstm": clip.stem}
