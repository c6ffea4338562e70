"""Models trained in separate runs, joined into one model with every run's members.

Members that differ in more than their seed (one trained on plain windows, one on windows
made to look like web footage) make a stronger ensemble than two of a kind, but one `train`
run trains its members alike. `join` puts such runs together as `train --members` would:
one frame encoder, one motion encoder, the streams fused by their mean logits
(see `models.join`). The runs must share their stem, classes, sampling and training groups;
the joined model is calibrated like any other (`python -m recognition calibrate`).
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras

from recognition import models
from recognition.backbones import get_backbone
from recognition.contract import split
from recognition.engine import weights_digest
from recognition.metadata import ModelSpec, metadata_path
from recognition.training.config import TrainConfig
from recognition.training.loop import describe

SHARED = ("name", "classes", "image_size", "sampling", "preprocessing", "crop_borders", "aspect_range")
"""What every joined run must agree on: the joined model takes one input and gives one answer (and the
flow settings, among the runs with a motion stream)."""
SHARED_TRAINING = ("data", "training_groups", "validation_groups", "backbone", "backbone_weights")


def join(model_paths: Sequence[Path], out_dir: Path) -> ModelSpec:
    """Join the trained models at `model_paths` into `<out_dir>/<name>.keras` and its metadata (uncalibrated)."""
    if len(model_paths) < 2:
        raise ValueError("join needs at least two trained models")
    specs = [ModelSpec.load(metadata_path(path)) for path in model_paths]
    for spec, path in zip(specs[1:], model_paths[1:]):
        differ = [field for field in SHARED if getattr(spec, field) != getattr(specs[0], field)]
        differ += [key for key in SHARED_TRAINING if spec.training.get(key) != specs[0].training.get(key)]
        if differ:
            raise ValueError(f"{path} can't be joined with {model_paths[0]}: {', '.join(differ)} differ")
    if len({spec.motion for spec in specs if spec.motion is not None}) > 1:
        raise ValueError("the runs' motion streams take their optical flow differently: they can't share one")
    loaded = [keras.saving.load_model(path, compile=False) for path in model_paths]
    if len({weights_digest(split(model).stem.get_weights()) for model in loaded}) > 1:
        raise ValueError("the models were trained on different stems: their frames can't share one encoder")

    first = specs[0]
    member_count = sum(len(spec.training["members"]) for spec in specs)
    motion = next((spec.motion for spec in specs if spec.motion is not None), None)
    architecture = describe(first.name, get_backbone(first.training["hyperparameters"]["backbone"]), member_count,
                            motion)
    without_motion = sum(len(spec.training["members"]) for spec in specs if spec.motion is None)
    if motion is not None and without_motion:
        architecture += f" ({without_motion} of the members without the motion stream)"
    spec = dataclasses.replace(
        first,
        architecture=architecture,
        motion=motion,
        training=joined_training(specs, model_paths),
        calibration=None,
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    model_path = out_dir / f"{first.name}.keras"
    models.join(first.name, loaded, first.sampling.num_frames).save(model_path)
    spec.save(metadata_path(model_path))
    return spec


def joined_training(specs: Sequence[ModelSpec], model_paths: Sequence[Path]) -> dict[str, Any]:
    """The runs' training records as one: a hyperparameter the runs set alike keeps its value, one they
    set apart becomes the list of each run's value; each member's record also names its run's."""
    defaults = TrainConfig.defaults()  # for older records
    settings = [{**defaults, **spec.training.get("hyperparameters", {})} for spec in specs]
    keys = list(dict.fromkeys(key for spec in specs for key in spec.training.get("hyperparameters", {})))
    differing = [key for key in keys if len({repr(run.get(key)) for run in settings}) > 1]
    hyperparameters = {key: [run.get(key) for run in settings] if key in differing else settings[0].get(key)
                       for key in keys}
    members = [{**member, **{key: run.get(key) for key in differing}}
               for spec, run in zip(specs, settings) for member in spec.training["members"]]
    hyperparameters["members"] = len(members)
    return {
        **{key: specs[0].training.get(key) for key in ("clips", "training_clips", *SHARED_TRAINING)},
        "validation": None,
        "members": members,
        "hyperparameters": hyperparameters,
        "joined_from": [{"file": str(path), "date": spec.training.get("date")}
                        for spec, path in zip(specs, model_paths)],
        "seconds": round(sum(spec.training.get("seconds", 0.0) for spec in specs), 1),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "versions": specs[0].training.get("versions"),
    }
