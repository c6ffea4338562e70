"""UCF-style clip folders: `<Class>/*.{avi,mp4,...}` with `_gNN_` group tags.

Clips of one UCF group share actors and scenes, so validation is always split
by group: a split by clip would leak and overstate accuracy.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from recognition.metadata import ModelSpec
from recognition.video import VIDEO_SUFFIXES

_GROUP = re.compile(r"_g(\d+)_", re.IGNORECASE)


@dataclasses.dataclass(frozen=True)
class Clip:
    path: Path
    label: str
    group: int


def group_of(path: Path) -> int:
    """The UCF group number in a clip's file name (`v_Diving_g08_c01.avi` -> 8)."""
    match = _GROUP.search(path.name)
    if not match:
        raise ValueError(f"{path.name}: no _gNN_ group tag in the file name")
    return int(match.group(1))


def scan(data_dir: Path) -> list[Clip]:
    """All clips under `data_dir`, labelled by their folder (not their file name)."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise FileNotFoundError(f"{data_dir}: not a folder of <Class>/ clip folders")
    clips = [
        Clip(path, path.parent.name, group_of(path))
        for path in sorted(data_dir.glob("*/*"))
        if path.suffix.lower() in VIDEO_SUFFIXES
    ]
    if not clips:
        raise FileNotFoundError(f"{data_dir}: no clips found (expected <Class>/*.mp4 or *.avi)")
    return clips


def held_out(clips: Iterable[Clip], spec: ModelSpec) -> list[Clip]:
    """Clips of the model's classes from groups it did not train on."""
    trained = set(spec.training.get("training_groups", []))
    return [c for c in clips if c.group not in trained and c.label in spec.classes]


def trained_on(clips: Iterable[Clip], spec: ModelSpec) -> list[Clip]:
    """Clips of the model's classes from the groups it trained on."""
    trained = set(spec.training.get("training_groups", []))
    return [c for c in clips if c.group in trained and c.label in spec.classes]


def class_names(clips: Iterable[Clip]) -> tuple[str, ...]:
    return tuple(sorted({clip.label for clip in clips}))


def default_validation_groups(clips: Sequence[Clip], fraction: float = 0.28) -> tuple[int, ...]:
    """The highest-numbered groups, about `fraction` of them (g21-g25 of g08-g25)."""
    groups = sorted({clip.group for clip in clips})
    count = max(1, round(len(groups) * fraction))
    return tuple(groups[-count:])


def split_by_group(
    clips: Sequence[Clip], validation_groups: Iterable[int]
) -> tuple[list[Clip], list[Clip]]:
    """(training clips, validation clips); no group is on both sides."""
    held_out = set(validation_groups)
    train = [clip for clip in clips if clip.group not in held_out]
    validation = [clip for clip in clips if clip.group in held_out]
    return train, validation
