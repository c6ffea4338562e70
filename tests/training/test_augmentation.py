"""Augmentation: flow fields mirror with the picture, and mixup blends labels as it blends windows."""

import numpy as np
import pytest

from recognition.training.augmentation import WindowBatches, augment_flow, augment_window


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
