"""The pose stream: the body's landmarks tracked over a video, and the head that reads them."""

from pathlib import Path

import numpy as np
import pytest

from recognition.metadata import SPLIT_RUN_DIR, WEIGHTS_DIR, ModelSpec
from recognition.pose import BODY, FRAME_FORMAT, HIPS, SHOULDERS, PoseHead, PoseTracker, pose_features, video_landmarks
from recognition.sampling import plan_samples
from recognition.video import probe, to_square_rgb
from tests.helpers import needs_ucf14, validation_clip, write_clip

KNEES, ANKLES = [25, 26], [27, 28]


def standing_body(rng: np.random.Generator, frames: int = 16) -> np.ndarray:
    """Landmarks (frames, 33, 4) of a body upright in the picture, moving a little."""
    body = np.zeros((frames, BODY, 4))
    body[..., 0] = 0.5 + rng.normal(0, 0.05, (frames, BODY))
    body[..., 1] = np.linspace(0.2, 0.9, BODY) + rng.normal(0, 0.01, (frames, BODY))
    body[..., 3] = 0.9
    return body


def test_pose_features_keep_shape_and_motion_not_place_or_size():
    body = standing_body(np.random.default_rng(0))
    moved = body.copy()
    moved[..., :2] = moved[..., :2] * 0.5 + [0.3, 0.1]  # the same body, half as large, elsewhere in the picture
    assert pose_features(body).shape == (16, BODY * 5)
    assert np.allclose(pose_features(body), pose_features(moved), atol=1e-5)
    turned = body.copy()
    turned[5:, :, 1] = 1.0 - turned[5:, :, 1]  # upside down from the sixth frame: a change the features show
    assert not np.allclose(pose_features(body), pose_features(turned), atol=1e-2)


def test_frames_with_no_body_give_features_of_zeros():
    assert not pose_features(np.zeros((2, 16, BODY, 4))).any()


def test_the_pose_frame_keeps_the_pictures_shape_in_black():
    portrait = np.full((200, 100, 3), 200, np.uint8)
    square = to_square_rgb(portrait, FRAME_FORMAT.size, FRAME_FORMAT.aspect_range, FRAME_FORMAT.padding)
    assert square.shape == (384, 384, 3)
    assert not square[:, :90].any() and not square[:, -90:].any()  # black beside the picture, not mirrored
    assert (square[:, 100:284] == 200).all()


@needs_ucf14
@pytest.mark.parametrize("label", ["BodyWeightSquats", "JumpingJack"])
def test_a_standing_person_is_tracked_head_above_hips_above_feet(label: str):
    video = probe(validation_clip(label))
    plan = plan_samples(video.duration_s, ModelSpec.load(WEIGHTS_DIR / "lrcn.json").sampling)
    landmarks = video_landmarks(video, plan.times, PoseTracker())
    assert landmarks.shape == (len(plan.times), BODY, 4)
    found = landmarks[:, 0, 3] > 0
    assert found.mean() > 0.9
    y = landmarks[found, :, 1].mean(axis=0)
    assert y[0] < y[SHOULDERS].mean() < y[HIPS].mean() < y[KNEES].mean() < y[ANKLES].mean()
    assert ((landmarks[found, :, :2] >= -0.1) & (landmarks[found, :, :2] <= 1.1)).all()


def test_no_body_is_found_in_a_moving_square(tmp_path: Path):
    video = probe(write_clip(tmp_path / "square.avi", frames=30, fps=10.0, size=(160, 120)))
    landmarks = video_landmarks(video, plan_samples(video.duration_s, ModelSpec.load(WEIGHTS_DIR / "lrcn.json")
                                                    .sampling).times, PoseTracker())
    assert (landmarks[:, 0, 3] == 0).mean() > 0.5


@pytest.mark.parametrize("folder", [WEIGHTS_DIR, SPLIT_RUN_DIR], ids=["shipped", "split_run"])
def test_each_weights_folder_has_a_pose_head_that_its_models_fuse(folder: Path):
    head = PoseHead.load(folder)
    for name in ("lrcn", "convlstm"):
        spec = ModelSpec.load(folder / f"{name}.json")
        assert head.spec.classes == spec.classes and head.spec.sampling == spec.sampling
        assert 0 < spec.calibration.pose_weight <= 0.6
    training_groups = ModelSpec.load(folder / "lrcn.json").training["training_groups"]
    assert head.spec.training["training_groups"] == training_groups
    probabilities = head(standing_body(np.random.default_rng(1))[None].repeat(3, axis=0))
    assert probabilities.shape == (3, len(head.spec.classes)) and np.allclose(probabilities.sum(axis=1), 1.0)
