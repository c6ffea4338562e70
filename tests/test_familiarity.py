"""Familiarity: windows like the training ones score high, others low; descriptors see change over time."""

from pathlib import Path

import numpy as np

from recognition.familiarity import Familiarity, familiarity_path, window_parts

WINDOWS = np.arange(4)[:, None] + np.arange(16)[None, :]


def frame_features(action: int, clip: int = 0, frames: int = 19, still: bool = False) -> list[np.ndarray]:
    """Per-frame features of two encoders (vectors, and 3x3 maps) of one clip of an action (its own centre)."""
    centre, rng = np.random.default_rng(action), np.random.default_rng(1000 + clip)
    vectors = centre.normal(0, 1, 32) + rng.normal(0, 0.3, (frames, 32))
    maps = centre.normal(0, 1, 8) + rng.normal(0, 0.3, (frames, 3, 3, 8))
    if still:
        vectors, maps = np.repeat(vectors[:1], frames, 0), np.repeat(maps[:1], frames, 0)
    return [vectors, maps]


def test_a_window_is_described_by_its_mean_and_its_change():
    moving, still = window_parts(frame_features(0), WINDOWS), window_parts(frame_features(0, still=True), WINDOWS)
    assert [part.shape for part in moving] == [(4, 32), (4, 32), (4, 8), (4, 8)]
    assert np.abs(still[1]).max() == 0 and np.abs(still[3]).max() == 0
    assert np.abs(moving[1]).min() > 0


def test_training_like_windows_are_familiar_and_others_are_not(tmp_path: Path):
    clips = [window_parts(frame_features(action, clip), WINDOWS) for action in range(5) for clip in range(6)]
    training = [np.concatenate(part) for part in zip(*clips)]
    familiarity = Familiarity.fit(training, components=16)
    alike = familiarity.scores(window_parts(frame_features(3, clip=99), WINDOWS))
    unlike = familiarity.scores(window_parts(frame_features(77, clip=99), WINDOWS))
    still = familiarity.scores(window_parts(frame_features(3, clip=99, still=True), WINDOWS))
    assert alike.min() > 0.9 and alike.min() > unlike.max() + 0.2 and alike.min() > still.max() + 0.15

    familiarity.save(familiarity_path(tmp_path / "m.keras"))
    loaded = Familiarity.load(tmp_path / "m.familiarity.npz")
    assert np.allclose(loaded.scores(window_parts(frame_features(3, clip=99), WINDOWS)), alike, atol=1e-3)


def test_the_references_are_small():
    training = [np.random.default_rng(0).normal(size=(600, 150)).astype(np.float32) for _ in range(2)]
    familiarity = Familiarity.fit(training)
    assert familiarity.references.dtype == np.float16 and familiarity.references.shape == (600, 128)
    assert familiarity.projection.shape == (300, 128) and familiarity.scales.shape == (1,)
    assert familiarity.scores([part[:5] for part in training]).shape == (5,)
