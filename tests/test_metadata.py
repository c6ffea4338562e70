import json
from pathlib import Path

from recognition.metadata import ModelSpec, SamplingSpec, metadata_path
from recognition.motion import MotionSpec
from recognition.video import FrameFormat


def test_a_spec_round_trips_through_its_json_file(tmp_path: Path):
    spec = ModelSpec("lrcn", "words", ("A", "B"), 224, SamplingSpec(8, 2.0, 1.0), training={"seconds": 1.0},
                     motion=MotionSpec(), crop_borders=True)
    path = metadata_path(tmp_path / "lrcn.keras")
    spec.save(path)
    assert path.name == "lrcn.json" and ModelSpec.load(path) == spec
    assert spec.frame_format == FrameFormat(224, crop_borders=True)


def test_metadata_written_before_border_cropping_loads_without_it(tmp_path: Path):
    data = json.loads(ModelSpec("convlstm", "words", ("A",), 112, SamplingSpec()).to_json())
    del data["crop_borders"]
    (tmp_path / "old.json").write_text(json.dumps(data))
    assert ModelSpec.load(tmp_path / "old.json").frame_format == FrameFormat(112, crop_borders=False)


def test_motion_metadata_written_before_camera_motion_was_taken_away_loads_without_it(tmp_path: Path):
    data = json.loads(ModelSpec("lrcn", "words", ("A",), 112, SamplingSpec(), motion=MotionSpec()).to_json())
    del data["motion"]["subtract_camera_motion"]
    (tmp_path / "old.json").write_text(json.dumps(data))
    assert ModelSpec.load(tmp_path / "old.json").motion == MotionSpec(subtract_camera_motion=False)


def test_a_model_trained_on_every_group_says_so():
    every = ModelSpec("lrcn", "words", ("A",), 112, SamplingSpec(), training={"hyperparameters": {"all_groups": True}})
    split = ModelSpec("lrcn", "words", ("A",), 112, SamplingSpec(), training={"hyperparameters": {"epochs": 20}})
    assert every.trained_on_every_group and not split.trained_on_every_group
