"""How much a window looks like the footage a model was trained on: the evidence for "none of these actions".

A softmax picks the nearest of the classes it knows whatever it is shown: grey frames,
noise, or someone typing can all get a confident label. What a model's encoders make of
a window says more: each window is described by the mean of its frames' features and
by how much they change from frame to frame (for LRCN also by its motion encoder's
features), and compared with the same description of the windows of training clips.
The familiarity of a window is the mean cosine similarity of its `K` nearest training
windows (deep nearest neighbours, Sun et al. 2022); a clip or a segment far from all of
them is not one of the actions the model knows, however sure its softmax is.

Each part of a description is scaled to unit length, so every part counts alike, and
similarities are taken through the `PROJECTED` main directions of the training windows.
The projected training windows are kept in `weights/<name>.familiarity.npz`, written by
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
STILL_PERCENTILE = 5
"""Training windows that change less than this share of them set what counts as still."""


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

    A window that hardly changes (a still, a frozen picture) is no action however familiar its
    frames look: its familiarity is scaled down by how far its change falls below that of all but
    the stillest `STILL_PERCENTILE` % of training windows.
    """

    scales: np.ndarray
    """Each change part's median length over the training windows."""
    still: float
    """The change (relative to `scales`) under which a window counts as still."""
    projection: np.ndarray
    references: np.ndarray

    @classmethod
    def fit(cls, parts: list[np.ndarray], components: int = PROJECTED) -> "Familiarity":
        """From the training windows' parts (see `window_parts`)."""
        scales = np.array([np.median(np.linalg.norm(part, axis=1)) for part in parts[1::2]], np.float32)
        still = float(np.percentile(_change(parts, scales), STILL_PERCENTILE))
        descriptors = _describe(parts)
        _, _, directions = np.linalg.svd(descriptors, full_matrices=False)
        projection = directions[:components].T.astype(np.float32)
        return cls(scales, still, projection, (descriptors @ projection).astype(np.float16))

    def scores(self, parts: list[np.ndarray]) -> np.ndarray:
        """Each window's familiarity (windows,): mean cosine similarity of its `K` nearest training windows."""
        similarities = (_describe(parts) @ self.projection) @ self.references.astype(np.float32).T
        nearest = np.partition(similarities, -min(K, similarities.shape[1]), axis=1)[:, -K:]
        return nearest.mean(axis=1) * np.minimum(1.0, _change(parts, self.scales) / self.still)

    def save(self, path: Path) -> None:
        np.savez_compressed(path, scales=self.scales, still=self.still, projection=self.projection,
                            references=self.references)

    @classmethod
    def load(cls, path: Path) -> "Familiarity":
        with np.load(path) as data:
            return cls(data["scales"], float(data["still"]), data["projection"], data["references"])


def _describe(parts: list[np.ndarray]) -> np.ndarray:
    """Unit-length descriptions (windows, dims): the parts, each scaled to unit length, joined."""
    return _unit(np.concatenate([_unit(part) for part in parts], axis=1))


def _change(parts: list[np.ndarray], scales: np.ndarray) -> np.ndarray:
    """How much each window changes, relative to the training windows' median: the mean of its change parts."""
    return np.mean([np.linalg.norm(part, axis=1) / scale for part, scale in zip(parts[1::2], scales)], axis=0)


def familiarity_path(model_path: Path) -> Path:
    """Where a model's training windows are kept (`x.keras` -> `x.familiarity.npz`)."""
    return Path(model_path).with_suffix(".familiarity.npz")


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-8)
