"""How much a window looks like the footage a model was trained on: the evidence for "none of these actions".

A softmax picks the nearest of the classes it knows whatever it is shown: grey frames,
noise, or someone typing can all get a confident label. What a model's encoders make of
a window says more: each window is described by the mean of its frames' features and
by how much they change from frame to frame (for LRCN also by its motion encoder's
features), and compared with the same description of every window of the training
clips. The familiarity of a window is the mean cosine similarity of its `K` nearest
training windows (deep nearest neighbours, Sun et al. 2022); a clip or a segment far
from all of them is not one of the actions the model knows, however sure its softmax is.

The training windows are kept as `PROJECTED` principal components, in
`weights/<name>.familiarity.npz`, written by `python -m recognition calibrate`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import numpy as np

PROJECTED = 128
"""Principal components kept of each window's description."""
K = 10
"""Nearest training windows averaged into a familiarity."""


def window_descriptors(features: Sequence[np.ndarray], window_indices: np.ndarray) -> np.ndarray:
    """One row per window (windows, dims) from each encoder's per-frame features (frames, ...).

    Per encoder: the mean of the window's frame features, and the mean change between
    consecutive frames, each scaled to unit length so that every part counts alike.
    Feature maps are averaged over their positions first.
    """
    parts = []
    for encoded in features:
        frames = encoded.reshape(len(encoded), -1, encoded.shape[-1]).mean(axis=1)
        windows = frames[window_indices]
        parts.append(windows.mean(axis=1))
        parts.append(np.abs(np.diff(windows, axis=1)).mean(axis=1))
    return np.concatenate([_unit(p) for p in parts], axis=1) / np.sqrt(len(parts))


@dataclasses.dataclass(frozen=True)
class Familiarity:
    """The training windows' descriptions, projected; `scores` compares new windows with them."""

    center: np.ndarray
    projection: np.ndarray
    references: np.ndarray

    @classmethod
    def fit(cls, descriptors: np.ndarray, components: int = PROJECTED) -> "Familiarity":
        """From the training windows' descriptors (windows, dims)."""
        center = descriptors.mean(axis=0)
        _, _, directions = np.linalg.svd(descriptors - center, full_matrices=False)
        projection = directions[:components].T
        return cls(center.astype(np.float32), projection.astype(np.float32),
                   _unit((descriptors - center) @ projection).astype(np.float16))

    def scores(self, descriptors: np.ndarray) -> np.ndarray:
        """Each window's familiarity (windows,): mean cosine similarity of its `K` nearest training windows."""
        projected = _unit((descriptors - self.center) @ self.projection)
        similarities = projected @ self.references.astype(np.float32).T
        nearest = np.partition(similarities, -K, axis=1)[:, -K:]
        return nearest.mean(axis=1)

    def save(self, path: Path) -> None:
        np.savez_compressed(path, center=self.center, projection=self.projection, references=self.references)

    @classmethod
    def load(cls, path: Path) -> "Familiarity":
        with np.load(path) as data:
            return cls(data["center"], data["projection"], data["references"])


def familiarity_path(model_path: Path) -> Path:
    """Where a model's training windows are kept (`x.keras` -> `x.familiarity.npz`)."""
    return Path(model_path).with_suffix(".familiarity.npz")


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-8)
