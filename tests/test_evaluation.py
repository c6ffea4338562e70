"""Calibration of a model trained on every group, taken from a split run of its recipe."""

import dataclasses
from pathlib import Path

import pytest

from recognition.calibration import Calibration
from recognition.evaluation import split_run_calibration
from recognition.metadata import ModelSpec, SamplingSpec

RECIPE = {"epochs": 20, "motion_epochs": 40, "learning_rate": 3e-4, "members": 2, "all_groups": False}


def spec(groups: list[int], calibration: Calibration | None = None, **recipe) -> ModelSpec:
    training = {"training_groups": groups, "hyperparameters": {**RECIPE, **recipe}}
    return ModelSpec("lrcn", "words", ("A", "B"), 112, SamplingSpec(), training=training, calibration=calibration)


SPLIT = Calibration(temperature=0.67, known_threshold=0.34, familiarity_threshold=0.72,
                    fitted_on={"groups": [21, 22], "clips": 40, "ece_calibrated": 0.05})


def test_a_model_trained_on_every_group_takes_its_split_runs_calibration(tmp_path: Path):
    spec([8, 9, 10], SPLIT).save(tmp_path / "lrcn.json")
    every_group = spec([8, 9, 10, 21, 22], epochs=12, motion_epochs=30, all_groups=True)
    taken = split_run_calibration(every_group, tmp_path)
    assert (taken.temperature, taken.known_threshold, taken.familiarity_threshold) == (0.67, 0.34, 0.72)
    assert taken.fitted_on["groups"] == [21, 22] and taken.fitted_on["ece_calibrated"] == 0.05
    assert taken.fitted_on["split_run"] == {"training_groups": [8, 9, 10], "file": str(tmp_path / "lrcn.json")}


def test_a_run_of_another_recipe_or_an_uncalibrated_one_is_refused(tmp_path: Path):
    every_group = spec([8, 9, 21], all_groups=True)
    spec([8, 9], SPLIT, learning_rate=1e-3).save(tmp_path / "lrcn.json")
    with pytest.raises(ValueError, match="not a split run of this recipe: learning_rate differ"):
        split_run_calibration(every_group, tmp_path)
    dataclasses.replace(spec([8, 9], SPLIT), image_size=224).save(tmp_path / "lrcn.json")
    with pytest.raises(ValueError, match="image_size differ"):
        split_run_calibration(every_group, tmp_path)
    spec([8, 9]).save(tmp_path / "lrcn.json")
    with pytest.raises(ValueError, match="has no calibration"):
        split_run_calibration(every_group, tmp_path)
