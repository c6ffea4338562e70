"""Model metadata: the single place where classes, frame count and sizes live.

Every `weights/<name>.keras` file has a `weights/<name>.json` beside it. Training
writes it, and inference reads it, so nothing about a model is hard-coded elsewhere.
Metadata written by earlier versions is upgraded as it is read (`ModelSpec.from_dict`).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from recognition.calibration import Calibration
from recognition.motion import MotionSpec
from recognition.video import FrameFormat

MODEL_NAMES = ("lrcn", "convlstm")  # the shipped models, as named in weights/
WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"
"""The shipped models and their metadata."""
SPLIT_RUN_DIR = WEIGHTS_DIR / "split_run"
"""The same recipes trained with g21-g25 held out: what the shipped models' calibration and figures come from."""

LEGACY_DEFAULTS: dict[str, Any] = {"crop_borders": False}
LEGACY_MOTION_DEFAULTS: dict[str, Any] = {"subtract_camera_motion": False}
"""What metadata saved before a setting existed meant by leaving it out: the behaviour of its day."""


DISPLAY_NAMES = {"lrcn": "LRCN", "convlstm": "ConvLSTM"}


def display_name(model: str) -> str:
    """A model's name as the page, the CLI and the progress messages write it."""
    return DISPLAY_NAMES.get(model, model.upper())


@dataclasses.dataclass(frozen=True)
class SamplingSpec:
    """How frames are taken from a video: the same rule in training and inference.

    A window holds `num_frames` frames spread uniformly over `window_seconds`.
    Longer videos get sliding windows every `hop_seconds`; shorter ones get a
    single window stretched over their whole length.
    """

    num_frames: int = dataclasses.field(default=16, metadata={"flag": "--frames", "help": "frames per window"})
    window_seconds: float = dataclasses.field(default=3.2, metadata={"help": "seconds a window spans"})
    hop_seconds: float = dataclasses.field(default=1.0, metadata={"help": "seconds between sliding windows"})

    @property
    def frames_per_second(self) -> float:
        return self.num_frames / self.window_seconds


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """Everything needed to use a trained model, saved as JSON next to it."""

    name: str
    architecture: str
    classes: tuple[str, ...]
    image_size: int
    sampling: SamplingSpec
    preprocessing: str = "RGB uint8 frames, resized to a square; scaled to [-1, 1] inside the model"
    training: dict[str, Any] = dataclasses.field(default_factory=dict)
    motion: MotionSpec | None = None
    """Set when the model has a motion stream: it then also takes each frame's flow field."""
    crop_borders: bool = True
    """Whether black borders are cut from the frames before resizing."""
    aspect_range: tuple[float, float] | None = None
    """Picture shapes (width / height) the model was trained on; others are padded into it (see `FrameFormat`)."""
    calibration: Calibration | None = None
    """Temperature and "known" thresholds, fitted on held-out groups by `python -m recognition calibrate`."""

    @property
    def frame_format(self) -> FrameFormat:
        return FrameFormat(self.image_size, self.crop_borders, self.aspect_range)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ModelSpec":
        """A spec from its JSON fields; settings that older metadata lacks get the meaning they had then."""
        fields = {**LEGACY_DEFAULTS, **data}
        fields["classes"] = tuple(fields["classes"])
        fields["sampling"] = SamplingSpec(**fields["sampling"])
        if fields.get("motion") is not None:
            fields["motion"] = MotionSpec(**{**LEGACY_MOTION_DEFAULTS, **fields["motion"]})
        if fields.get("aspect_range") is not None:
            fields["aspect_range"] = tuple(fields["aspect_range"])
        if fields.get("calibration") is not None:
            fields["calibration"] = Calibration.from_dict(fields["calibration"])
        return cls(**fields)

    def save(self, path: Path) -> None:
        Path(path).write_text(self.to_json() + "\n")

    @classmethod
    def load(cls, path: Path) -> "ModelSpec":
        return cls.from_dict(json.loads(Path(path).read_text()))

    @property
    def trained_on_every_group(self) -> bool:
        """Trained with `--all-groups`: no group of its data was held out (see `evaluation.split_run_calibration`)."""
        return bool(self.training.get("hyperparameters", {}).get("all_groups"))

    @property
    def validation_accuracy(self) -> float | None:
        return (self.training.get("validation") or {}).get("top1")


def metadata_path(model_path: Path) -> Path:
    """The JSON file that describes `model_path` (`x.keras` -> `x.json`)."""
    return Path(model_path).with_suffix(".json")
