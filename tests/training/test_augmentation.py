"""Augmentation: flow fields mirror with the picture, mixup blends labels as it blends windows, web changes."""

import numpy as np
import pytest

from recognition.training import augmentation
from recognition.training.augmentation import (
    WEB_CHANGES,
    WindowBatches,
    augment_flow,
    augment_web,
    augment_window,
)


def test_flow_augmentation_mirrors_horizontal_motion():
    rightwards = np.zeros((4, 56, 56, 2), np.float16)
    rightwards[..., 0] = 1.0
    batches = WindowBatches([rightwards], augment_flow, np.array([0]), num_classes=2, num_frames=4, batch_size=1,
                            samples_per_clip=1, seed=0)
    directions = {float(np.sign(batches[0][0][..., 0].mean())) for _ in range(20)}
    assert directions == {-1.0, 1.0}
    assert batches[0][0].shape == (1, 4, 56, 56, 2) and batches[0][0][..., 1].max() == 0


@pytest.mark.parametrize("mixup", [0.0, 0.4])
def test_mixup_blends_labels_as_it_blends_windows(mixup: float):
    clips = [np.full((6, 32, 32, 3), 100 * i, np.uint8) for i in range(3)]
    batches = WindowBatches(clips, augment_window, np.array([0, 1, 2]), num_classes=3, num_frames=4,
                            batch_size=3, samples_per_clip=1, seed=0, mixup=mixup)
    x, y = batches[0]
    assert x.shape == (3, 4, 32, 32, 3)
    np.testing.assert_allclose(y.sum(axis=1), 1.0, rtol=1e-6)
    blended = ((y > 0) & (y < 1)).any(axis=1)
    assert blended.any() if mixup else not blended.any()


def _moving_window(frames: int = 16, size: int = 64) -> np.ndarray:
    """A textured square sliding right: every frame differs, no column mirrors its neighbours."""
    rng = np.random.default_rng(0)
    texture = rng.integers(0, 255, (size, size * 2, 3), np.uint8)
    return np.stack([texture[:, i * 2 : i * 2 + size] for i in range(frames)])


def _only(monkeypatch, change: str) -> None:
    monkeypatch.setattr(augmentation, "WEB_CHANGES", {name: float(name == change) for name in WEB_CHANGES})


def test_web_portrait_framing_pads_by_mirroring_not_squeezing(monkeypatch):
    _only(monkeypatch, "portrait")
    window = _moving_window()
    for seed in range(5):
        framed = augment_web(window, np.random.default_rng(seed))
        assert framed.shape == window.shape and framed.dtype == np.uint8
        first = framed[0].astype(int)
        # A mirrored edge: some column has its left neighbours equal to its right ones.
        mirrors = [p for p in range(4, 60) if all((first[:, p - k] == first[:, p + k]).all() for k in range(1, 4))]
        assert mirrors, "the padding should mirror the picture's edges"


def test_web_slow_motion_shows_fewer_distinct_frames(monkeypatch):
    _only(monkeypatch, "slow_motion")
    slowed = augment_web(_moving_window(), np.random.default_rng(0))
    distinct = {frame.tobytes() for frame in slowed}
    assert len(slowed) == 16 and 8 <= len(distinct) <= 11


@pytest.mark.parametrize("change", ["rotation", "blur", "low_resolution", "compression", "caption"])
def test_each_web_change_alters_every_frame_and_keeps_the_shape(monkeypatch, change: str):
    _only(monkeypatch, change)
    window = _moving_window()
    changed = augment_web(window, np.random.default_rng(1))
    assert changed.shape == window.shape and changed.dtype == window.dtype
    assert all((a != b).any() for a, b in zip(changed, window))
