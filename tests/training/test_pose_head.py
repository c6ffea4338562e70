"""Training the pose head: cached landmarks, mirrored examples, and a NumPy head that answers as Keras does."""

from pathlib import Path

import numpy as np
import pytest

from recognition.cli import main
from recognition.pose import BODY, PoseHead, PoseSpec, pose_features
from recognition.training.pose_head import LandmarkCache, _network, _parameters, mirrored
from tests.helpers import UCF14, needs_ucf14


def test_the_numpy_head_answers_as_the_keras_network_it_was_taken_from():
    import keras

    keras.utils.set_random_seed(3)
    network = _network(16, BODY * 5, 4, 8)
    landmarks = np.random.default_rng(0).random((6, 16, BODY, 4)).astype(np.float32)
    head = PoseHead(PoseSpec(("a", "b", "c", "d"), None, 8), [_parameters(network)])
    assert np.allclose(head(landmarks), network.predict(pose_features(landmarks), verbose=0), atol=1e-5)


def test_a_mirror_image_swaps_left_and_right_and_twice_is_the_same():
    landmarks = np.random.default_rng(0).random((2, 16, BODY, 4))
    once = mirrored(landmarks)
    assert np.allclose(once[..., 12, 0], 1.0 - landmarks[..., 11, 0])  # the left shoulder is now on the right
    assert np.allclose(mirrored(once), landmarks)
    assert not mirrored(np.zeros((16, BODY, 4))).any()  # no body stays no body


@pytest.fixture(scope="module")
def small_ucf(tmp_path_factory) -> Path:
    """Two real classes, three groups, two clips each: links to ../shared's clips."""
    root = tmp_path_factory.mktemp("ucf")
    for label in ("JumpingJack", "PullUps"):
        (root / label).mkdir()
        for group in (8, 9, 10):
            for clip in sorted((UCF14 / label).glob(f"*_g{group:02d}_*.mp4"))[:2]:
                (root / label / clip.name).symlink_to(clip)
    return root


@needs_ucf14
@pytest.mark.slow
def test_train_pose_caches_landmarks_trains_and_saves_a_head(tmp_path: Path, small_ucf: Path):
    weights, cache = tmp_path / "weights", tmp_path / "cache"
    assert main(["train-pose", "--data", str(small_ucf), "--out", str(weights), "--cache", str(cache),
                 "--validation-groups", "10", "--seeds", "2", "--epochs", "3"]) == 0
    head = PoseHead.load(weights)
    assert head.spec.classes == ("JumpingJack", "PullUps") and len(head.members) == 2
    assert head.spec.training["training_groups"] == [8, 9] and head.spec.training["validation"]["top1"] >= 0
    cached = sorted(cache.glob("*.landmarks.npy"))
    assert len(cached) == 12
    stamps = [path.stat().st_mtime_ns for path in cached]
    assert len(LandmarkCache(cache, head.spec.sampling).load([])) == 0
    assert main(["train-pose", "--data", str(small_ucf), "--out", str(weights), "--cache", str(cache),
                 "--all-groups", "--seeds", "1", "--epochs", "1"]) == 0  # the cached landmarks are read again
    assert [path.stat().st_mtime_ns for path in sorted(cache.glob("*.landmarks.npy"))] == stamps
    assert PoseHead.load(weights).spec.training["training_groups"] == [8, 9, 10]
