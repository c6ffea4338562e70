"""Joining runs trained apart: one model with every run's members, and metadata that says which is which."""

import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pytest

from recognition import Recognizer
from recognition.cli import main
from recognition.metadata import ModelSpec
from recognition.training import train
from recognition.training.join import join
from tests.training.test_loop import config, tiny_ucf  # noqa: F401 (the fixture)


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory, tiny_ucf: Path) -> list[Path]:  # noqa: F811
    runs = []
    for name, web_footage in (("plain", 0.0), ("web", 0.5)):
        folder = tmp_path_factory.mktemp(name)
        run = dataclasses.replace(config(folder, tiny_ucf, "convlstm", motion_stream=True, motion_epochs=1),
                                  web_footage=web_footage)
        train(run)
        runs.append(folder / "weights" / "convlstm.keras")
    return runs


@pytest.mark.slow
def test_runs_join_into_one_model_with_their_members(tmp_path: Path, tiny_ucf: Path, two_runs):  # noqa: F811
    assert main(["join", *map(str, two_runs), "--out", str(tmp_path)]) == 0
    spec = ModelSpec.load(tmp_path / "convlstm.json")
    training = spec.training
    assert "2 members" in spec.architecture and spec.calibration is None
    assert training["hyperparameters"]["members"] == 2 and training["hyperparameters"]["web_footage"] == [0.0, 0.5]
    assert [m["web_footage"] for m in training["members"]] == [0.0, 0.5]
    assert training["training_groups"] == [1, 2]
    assert [run["file"] for run in training["joined_from"]] == list(map(str, two_runs))

    joined = Recognizer.load(tmp_path, names=("convlstm",), engine="keras")
    runs = [Recognizer.load(run.parent, names=("convlstm",), engine="keras") for run in two_runs]
    clip = tiny_ucf / "Slow" / "v_Slow_g03_c01.avi"
    streams = [r.recognize(clip).models["convlstm"].timeline[0].probabilities for r in runs]
    fused = np.exp(np.mean(np.log(streams), axis=0))
    np.testing.assert_allclose(joined.recognize(clip).models["convlstm"].timeline[0].probabilities,
                               fused / fused.sum(), atol=1e-4)


@pytest.mark.slow
def test_runs_of_other_groups_do_not_join(tmp_path: Path, tiny_ucf: Path, two_runs):  # noqa: F811
    other = tmp_path / "other"  # the same run, as if trained with g02 held out instead of g03
    other.mkdir()
    shutil.copy(two_runs[0], other / "convlstm.keras")
    spec = ModelSpec.load(two_runs[0].with_suffix(".json"))
    dataclasses.replace(spec, training={**spec.training, "training_groups": [1, 3], "validation_groups": [2]}
                        ).save(other / "convlstm.json")
    with pytest.raises(ValueError, match="training_groups, validation_groups differ"):
        join([two_runs[0], other / "convlstm.keras"], tmp_path / "joined")
    assert main(["join", str(two_runs[0]), "--out", str(tmp_path)]) == 2


@pytest.mark.slow
def test_a_run_without_a_motion_stream_joins_runs_with_one(tmp_path: Path, tiny_ucf: Path, two_runs):  # noqa: F811
    appearance_only = tmp_path / "appearance_only"
    train(config(appearance_only, tiny_ucf, "convlstm"))
    spec = join([two_runs[0], appearance_only / "weights" / "convlstm.keras"], tmp_path / "joined")
    assert spec.motion is not None and "(1 of the members without the motion stream)" in spec.architecture
    result = Recognizer.load(tmp_path / "joined", names=("convlstm",), engine="keras").recognize(
        tiny_ucf / "Fast" / "v_Fast_g03_c01.avi").models["convlstm"]
    assert result.label in spec.classes
