"""Training end to end on tiny synthetic UCF-style folders: a few clips, one epoch, saved and reloaded."""

import dataclasses
from pathlib import Path

import keras
import numpy as np
import pytest

from recognition import Recognizer
from recognition.metadata import SamplingSpec
from recognition.training import TrainConfig, dataset, train
from recognition.training.frame_cache import FrameCache
from recognition.video import FrameFormat
from tests.helpers import write_clip

SAMPLING = SamplingSpec(num_frames=4, window_seconds=1.0, hop_seconds=0.5)


@pytest.fixture(scope="module")
def tiny_ucf(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("ucf")
    for label, fps in (("Fast", 20.0), ("Slow", 5.0)):
        (root / label).mkdir()
        for group in (1, 2, 3):
            write_clip(root / label / f"v_{label}_g{group:02d}_c01.avi", frames=30, fps=fps, size=(48, 48))
    return root


def config(tmp_path: Path, data: Path, architecture: str, **extra) -> TrainConfig:
    """A quick run: random backbone weights, one epoch, one member without a motion stream unless `extra` says."""
    settings = {"members": 1, "motion_stream": False, **extra}
    return TrainConfig(architecture=architecture, data_dir=data, out_dir=tmp_path / "weights",
                       cache_dir=tmp_path / "cache", backbone_weights=None, validation_groups=(3,),
                       image_size=64, sampling=SAMPLING, epochs=1, batch_size=2, verbose=0, **settings)


@pytest.mark.slow
@pytest.mark.parametrize("architecture", ["lrcn", "convlstm"])
def test_one_epoch_trains_saves_and_reloads(tmp_path: Path, tiny_ucf: Path, architecture: str):
    spec = train(config(tmp_path, tiny_ucf, architecture))
    assert spec.motion is None and [list(m) for m in spec.training["members"]] == [["seed", "appearance"]]
    assert spec.classes == ("Fast", "Slow")
    assert spec.training["validation_groups"] == [3] and spec.training["training_groups"] == [1, 2]
    assert (tmp_path / "weights" / f"{architecture}.keras").exists()

    # LiteRT would convert the new model first (a minute); test_app watches that conversion.
    recognizer = Recognizer.load(tmp_path / "weights", names=(architecture,), engine="keras")
    result = recognizer.recognize(tiny_ucf / "Fast" / "v_Fast_g03_c01.avi").models[architecture]
    assert result.label in spec.classes and len(result.timeline) >= 1
    assert recognizer.specs[architecture].sampling == SAMPLING


@pytest.mark.slow
def test_two_members_with_motion_streams_are_trained_saved_and_used(tmp_path: Path, tiny_ucf: Path):
    spec = train(config(tmp_path, tiny_ucf, "lrcn", motion_stream=True, motion_epochs=2, members=2, seed=5))
    assert spec.motion is not None and "motion stream" in spec.architecture and "2 members" in spec.architecture
    assert spec.crop_borders and spec.training["hyperparameters"]["crop_borders"]
    assert spec.motion.subtract_camera_motion and "camera motion taken away" in spec.architecture
    members = spec.training["members"]
    assert [m["seed"] for m in members] == [5, 6]
    assert all(len(m["motion"]["held_out_accuracy_per_epoch"]) == 2 for m in members)

    model = keras.saving.load_model(tmp_path / "weights" / "lrcn.keras", compile=False)
    assert [tuple(i.shape[1:]) for i in model.inputs] == [(4, 64, 64, 3), (4, 56, 56, 2)]
    recognizer = Recognizer.load(tmp_path / "weights", names=("lrcn",), engine="keras")
    assert recognizer.models["lrcn"].spec.motion == spec.motion and recognizer.models["lrcn"].spec.crop_borders
    result = recognizer.recognize(tiny_ucf / "Slow" / "v_Slow_g03_c01.avi").models["lrcn"]
    np.testing.assert_allclose(result.probabilities.sum(), 1.0, rtol=1e-5)

    flow_model = recognizer.models["lrcn"]
    other = dataclasses.replace(flow_model, spec=dataclasses.replace(flow_model.spec, motion=None,
                                                                     sampling=SamplingSpec(8, 2.0, 1.0)))
    with pytest.raises(ValueError, match="sample frames alike"):
        Recognizer({"lrcn": flow_model, "other": other})


@pytest.mark.slow
def _frames_as_train_loads_them(run: TrainConfig) -> None:
    FrameCache(run.cache_dir, run.sampling, FrameFormat(run.image_size, run.crop_borders, run.aspect_range)
               ).load(dataset.scan(run.data_dir))


def test_features_are_cached_between_runs(tmp_path: Path, tiny_ucf: Path):
    train(config(tmp_path, tiny_ucf, "convlstm"))
    cached = sorted((tmp_path / "cache").glob("*.npy"))
    assert len(cached) == 6
    stamps = [p.stat().st_mtime_ns for p in cached]
    _frames_as_train_loads_them(config(tmp_path, tiny_ucf, "convlstm", seed=2))  # another run of the same frames
    assert [p.stat().st_mtime_ns for p in sorted((tmp_path / "cache").glob("*.npy"))] == stamps
    _frames_as_train_loads_them(config(tmp_path, tiny_ucf, "convlstm", crop_borders=False))
    assert len(list((tmp_path / "cache").glob("*.npy"))) == 12, "uncut frames are cached apart"


@pytest.mark.slow
def test_mirrored_strategy_trains_on_cpu(tmp_path: Path, tiny_ucf: Path):
    spec = train(config(tmp_path, tiny_ucf, "convlstm", distribute="mirrored"))
    assert spec.training["hyperparameters"]["distribute"] == "mirrored"
    assert (tmp_path / "weights" / "convlstm.keras").exists()


@pytest.mark.slow
def test_all_groups_trains_on_every_group_for_every_epoch(tmp_path: Path, tiny_ucf: Path):
    run = dataclasses.replace(config(tmp_path, tiny_ucf, "lrcn", motion_stream=True, motion_epochs=2),
                              validation_groups=None, all_groups=True, epochs=2)
    spec = train(run)
    assert spec.training["training_groups"] == [1, 2, 3] and spec.training["validation_groups"] == []
    assert spec.training["validation"] is None and spec.training["hyperparameters"]["all_groups"]
    assert spec.training["members"] == [{"seed": 1, "appearance": {"epochs": 2}, "motion": {"epochs": 2}}]
    assert Recognizer.load(tmp_path / "weights", names=("lrcn",), engine="keras").recognize(
        tiny_ucf / "Fast" / "v_Fast_g01_c01.avi").models["lrcn"].label in spec.classes


def test_all_groups_leaves_no_group_to_hold_out(tmp_path: Path, tiny_ucf: Path):
    with pytest.raises(ValueError, match="holds no group out"):
        config(tmp_path, tiny_ucf, "lrcn", all_groups=True)
