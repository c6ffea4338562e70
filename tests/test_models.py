"""The architectures' wiring: an assembled model fuses its streams and members as training measured them."""

import keras
import numpy as np
import pytest

from recognition import models
from recognition.backbones import get_backbone
from recognition.training.loop import geometric_mean

FRAMES, CLASSES = 4, 3


@pytest.fixture(scope="module")
def stem_and_backbone():
    backbone = get_backbone("mobilenet_v2_0.5")
    stem, _ = models.split_backbone(backbone, 64, None)
    return stem, backbone


def appearance_stream(stem_and_backbone, architecture: str = "lrcn") -> keras.Model:
    stem, backbone = stem_and_backbone
    _, top = models.split_backbone(backbone, 64, None)
    return models.build_trainable(architecture, stem, top, FRAMES, CLASSES)


def stem_features(stem: keras.Model, frames: np.ndarray):
    return keras.ops.stack([stem(frames[:, t]) for t in range(FRAMES)], axis=1)


def random_inputs():
    rng = np.random.default_rng(0)
    frames = rng.uniform(0, 255, (2, FRAMES, 64, 64, 3)).astype(np.float32)
    flows = rng.normal(0, 2, (2, FRAMES, 56, 56, 2)).astype(np.float32)
    return frames, flows


def test_two_members_with_two_streams_fuse_all_four(stem_and_backbone):
    stem, _ = stem_and_backbone
    appearances = [appearance_stream(stem_and_backbone) for _ in range(2)]
    motions = [models.build_motion_stream(FRAMES, 56, CLASSES) for _ in range(2)]
    model = models.assemble("lrcn", stem, appearances, FRAMES, motions)

    frames, flows = random_inputs()
    features = stem_features(stem, frames)
    streams = [np.asarray(a(features)) for a in appearances] + [np.asarray(m(flows)) for m in motions]
    np.testing.assert_allclose(np.asarray(model([frames, flows])), geometric_mean(streams), atol=1e-5)
    assert [layer.name for layer in model.layers if "encoder" in layer.name] == ["frame_encoder", "motion_encoder"]


def test_members_without_motion_fuse_their_feature_maps(stem_and_backbone):
    stem, _ = stem_and_backbone
    members = [appearance_stream(stem_and_backbone, "convlstm") for _ in range(2)]
    model = models.assemble("convlstm", stem, members, FRAMES)

    frames, _ = random_inputs()
    features = stem_features(stem, frames)
    expected = geometric_mean([np.asarray(m(features)) for m in members])
    np.testing.assert_allclose(np.asarray(model(frames)), expected, atol=1e-5)


def test_one_stream_model_takes_frames_only(stem_and_backbone):
    stem, _ = stem_and_backbone
    member = appearance_stream(stem_and_backbone, "convlstm")
    model = models.assemble("convlstm", stem, [member], FRAMES)
    assert len(model.inputs) == 1 and tuple(model.output.shape) == (None, CLASSES)

    frames, _ = random_inputs()
    np.testing.assert_allclose(np.asarray(model(frames)), np.asarray(member(stem_features(stem, frames))), atol=1e-5)


def test_models_trained_apart_join_into_one_that_fuses_all_their_streams(stem_and_backbone, tmp_path):
    stem, _ = stem_and_backbone
    runs = [models.assemble("convlstm", stem, [appearance_stream(stem_and_backbone, "convlstm")], FRAMES,
                            [models.build_motion_stream(FRAMES, 56, CLASSES)]) for _ in range(2)]
    for number, run in enumerate(runs):  # as `join` gets them: saved by their runs, loaded apart
        run.save(tmp_path / f"run{number}.keras")
    loaded = [keras.saving.load_model(tmp_path / f"run{number}.keras", compile=False) for number in range(2)]
    joined = models.join("convlstm", loaded, FRAMES)

    frames, flows = random_inputs()
    expected = geometric_mean([np.asarray(run([frames, flows])) for run in runs])
    np.testing.assert_allclose(np.asarray(joined([frames, flows])), expected, atol=1e-5)
    parts = models.members(joined)
    assert [len(p) for p in (parts.frame_heads, parts.sequence_heads, parts.motion_encoders, parts.motion_heads)] \
        == [2, 2, 2, 2]
    again = models.join("convlstm", [joined, loaded[0]], FRAMES)  # a joined model joins like any other
    assert len(models.members(again).sequence_heads) == 3


def test_a_model_without_a_motion_stream_joins_one_with_it(stem_and_backbone):
    stem, _ = stem_and_backbone
    with_motion = models.assemble("lrcn", stem, [appearance_stream(stem_and_backbone)], FRAMES,
                                  [models.build_motion_stream(FRAMES, 56, CLASSES)])
    without = models.assemble("lrcn", stem, [appearance_stream(stem_and_backbone)], FRAMES)
    joined = models.join("lrcn", [with_motion, without], FRAMES)

    frames, flows = random_inputs()
    # Three streams' mean logits: the two-stream model's fused log-probabilities count twice.
    log_two_streams, log_one = np.log(np.asarray(with_motion([frames, flows]))), np.log(np.asarray(without(frames)))
    expected = np.exp((2 * log_two_streams + log_one) / 3)
    np.testing.assert_allclose(np.asarray(joined([frames, flows])), expected / expected.sum(axis=1, keepdims=True),
                               atol=1e-5)
    parts = models.members(joined)
    assert (len(parts.sequence_heads), len(parts.motion_heads)) == (2, 1)
