"""How much a window looks like the footage a model was trained on: the evidence for "none of these actions".

A softmax picks the nearest of the classes it knows whatever it is shown: grey frames,
noise, or someone typing can all get a confident label. What a model's encoders make of
a window says more: each window is described by the mean of its frames' features and
by how much they change from frame to frame (for LRCN also by its motion encoder's
features), and compared with the same description of the windows of training clips.
The familiarity of a window is the mean cosine similarity of its `K` nearest training
windows (deep nearest neighbours, Sun et al. 2022); a clip or a segment far from all of
them is not one of the actions the model knows, however sure its softmax is.

Similarities are taken between unit-length descriptions, through the `PROJECTED` main
directions of the training windows (not centred, so a window that lacks a part every
training window has, such as any change over time, loses that part's share of its
similarity). The projected training windows are kept in `weights/<name>.familiarity.npz`, written by
`python -m recognition calibrate`.
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


def window_parts(features: Sequence[np.ndarray], window_indices: np.ndarray) -> list[np.ndarray]:
    """What a window's description is made of, one (windows, dims) array per part, from each encoder's
    per-frame features (frames, ...): the mean of the window's frame features, and the mean change
    between consecutive frames. Feature maps are averaged over their positions first.
    """
    parts = []
    for encoded in features:
        frames = encoded.reshape(len(encoded), -1, encoded.shape[-1]).mean(axis=1)
        windows = frames[window_indices]
        parts.append(windows.mean(axis=1))
        parts.append(np.abs(np.diff(windows, axis=1)).mean(axis=1))
    return parts


@dataclasses.dataclass(frozen=True)
class Familiarity:
    """The training windows' descriptions, projected; `scores` compares new windows with them.

    Each part of a description is divided by its typical length in the training windows, so
    every part counts alike in a window like the training ones, a still window has no change
    to show, and a jumpy one has too much.
    """

    scales: np.ndarray
    projection: np.ndarray
    references: np.ndarray

    @classmethod
    def fit(cls, parts: list[np.ndarray], components: int = PROJECTED) -> "Familiarity":
        """From the training windows' parts (see `window_parts`)."""
        scales = np.array([np.median(np.linalg.norm(part, axis=1)) for part in parts], np.float32)
        descriptors = _describe(parts, scales)
        _, _, directions = np.linalg.svd(descriptors, full_matrices=False)
        projection = directions[:components].T.astype(np.float32)
        return cls(scales, projection, (descriptors @ projection).astype(np.float16))

    def scores(self, parts: list[np.ndarray]) -> np.ndarray:
        """Each window's familiarity (windows,): mean cosine similarity of its `K` nearest training windows."""
        similarities = (_describe(parts, self.scales) @ self.projection) @ self.references.astype(np.float32).T
        nearest = np.partition(similarities, -min(K, similarities.shape[1]), axis=1)[:, -K:]
        return nearest.mean(axis=1)

    def save(self, path: Path) -> None:
        np.savez_compressed(path, scales=self.scales, projection=self.projection, references=self.references)

    @classmethod
    def load(cls, path: Path) -> "Familiarity":
        with np.load(path) as data:
            return cls(data["scales"], data["projection"], data["references"])


def _describe(parts: list[np.ndarray], scales: np.ndarray) -> np.ndarray:
    """Unit-length descriptions (windows, dims): the parts, each divided by its training scale, joined."""
    return _unit(np.concatenate([part / scale for part, scale in zip(parts, scales)], axis=1))


def familiarity_path(model_path: Path) -> Path:
    """Where a model's training windows are kept (`x.keras` -> `x.familiarity.npz`)."""
    return Path(model_path).with_suffix(".familiarity.npz")


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-8)
