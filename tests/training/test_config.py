"""TrainConfig: its defaults are the shipped recipe, and the command line's flags are its fields."""

import argparse
import dataclasses
from pathlib import Path

import pytest

from recognition.cli import _add_flags, _train_config, build_parser
from recognition.metadata import SamplingSpec
from recognition.motion import MotionSpec
from recognition.training import TrainConfig


def test_defaults_are_the_shipped_recipes():
    lrcn, convlstm = TrainConfig("lrcn", Path("data")), TrainConfig("convlstm", Path("data"))
    assert (lrcn.members, lrcn.motion_stream) == (2, True)
    assert (convlstm.members, convlstm.motion_stream) == (1, True)
    assert lrcn.motion.subtract_camera_motion and lrcn.crop_borders and lrcn.backbone == "mobilenet_v2_1.0"
    assert TrainConfig("lrcn", Path("data"), members=1, motion_stream=False).members == 1


def test_unknown_architectures_and_empty_ensembles_are_refused():
    with pytest.raises(ValueError, match="unknown architecture 'resnet'"):
        TrainConfig("resnet", Path("data"))
    with pytest.raises(ValueError, match="members must be at least 1"):
        TrainConfig("lrcn", Path("data"), members=0)


def parsed(*flags: str) -> TrainConfig:
    return _train_config(build_parser().parse_args(["train", "--data", "clips", *flags]))


def test_flags_left_out_keep_the_configs_defaults():
    assert parsed("--model", "lrcn") == TrainConfig("lrcn", Path("clips"))
    assert parsed("--model", "convlstm") == TrainConfig("convlstm", Path("clips"))


def test_flags_set_their_field_and_nested_settings_replace_only_themselves():
    config = parsed("--model", "lrcn", "--frames", "8", "--no-subtract-camera-motion", "--members", "3",
                    "--validation-groups", "21", "22", "--weight-decay", "0.01", "--no-crop-borders")
    assert config.sampling == dataclasses.replace(SamplingSpec(), num_frames=8)
    assert config.motion == MotionSpec(subtract_camera_motion=False)
    assert (config.members, config.motion_stream, config.validation_groups) == (3, True, (21, 22))
    assert config.weight_decay == 0.01 and not config.crop_borders


def test_every_field_has_a_flag():
    parser = argparse.ArgumentParser()
    _add_flags(parser, TrainConfig)
    destinations = {action.dest for action in parser._actions}
    for field in dataclasses.fields(TrainConfig):
        nested = dataclasses.fields(field.default) if dataclasses.is_dataclass(field.default) else ()
        wanted = {f"{field.name}.{inner.name}" for inner in nested} or {field.name}
        assert wanted <= destinations, field.name


def test_the_shape_rule_is_part_of_the_recipe_and_reaches_the_frames():
    config = _train_config(build_parser().parse_args(
        ["train", "--model", "convlstm", "--data", "d", "--aspect-range", "1.2", "2.0"]))
    assert config.aspect_range == (1.2, 2.0) and hash(config.aspect_range)
    assert TrainConfig("lrcn", Path("d")).aspect_range == pytest.approx((4 / 3, 2.4))
