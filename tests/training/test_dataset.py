from pathlib import Path

import pytest

from recognition.metadata import ModelSpec, SamplingSpec
from recognition.training.dataset import (
    class_names,
    default_validation_groups,
    group_of,
    held_out,
    scan,
    split_by_group,
    trained_on,
)
from tests.helpers import UCF14, needs_ucf14


def make_tree(root: Path) -> Path:
    for label, groups in {"Diving": (8, 9, 21), "HandstandPushups": (8, 22)}.items():
        (root / label).mkdir(parents=True)
        for group in groups:
            (root / label / f"v_{label}_g{group:02d}_c01.avi").write_bytes(b"x")
    (root / "HandstandPushups" / "notes.txt").write_text("ignored")
    return root


def test_scan_labels_clips_by_folder_and_group(tmp_path: Path):
    clips = scan(make_tree(tmp_path))
    assert len(clips) == 5
    assert class_names(clips) == ("Diving", "HandstandPushups")
    assert {c.group for c in clips} == {8, 9, 21, 22}


def test_group_tag_is_required():
    assert group_of(Path("v_HandStandPushups_g08_c01.avi")) == 8
    with pytest.raises(ValueError, match="no _gNN_ group tag"):
        group_of(Path("holiday.mp4"))


def test_split_never_puts_a_group_on_both_sides(tmp_path: Path):
    clips = scan(make_tree(tmp_path))
    train, validation = split_by_group(clips, (21, 22))
    assert {c.group for c in train}.isdisjoint({c.group for c in validation})
    assert len(train) == 3 and len(validation) == 2


def test_a_models_clips_are_told_apart_by_the_groups_and_classes_it_trained_on(tmp_path: Path):
    clips = scan(make_tree(tmp_path))
    spec = ModelSpec("lrcn", "test", ("Diving",), 224, SamplingSpec(), training={"training_groups": [8, 9]})
    assert [(c.label, c.group) for c in trained_on(clips, spec)] == [("Diving", 8), ("Diving", 9)]
    assert [(c.label, c.group) for c in held_out(clips, spec)] == [("Diving", 21)]


def test_empty_folder_is_reported(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match="no clips"):
        scan(tmp_path)


@needs_ucf14
def test_default_split_of_ucf14_holds_out_g21_to_g25():
    clips = scan(UCF14)
    assert len(clips) == 788 and len(class_names(clips)) == 14
    assert default_validation_groups(clips) == (21, 22, 23, 24, 25)
