"""Accuracy of clip-level answers, the same for training's early stopping and for evaluation."""

from __future__ import annotations

import numpy as np


def clip_scores(window_probabilities: np.ndarray, owners: np.ndarray, count: int) -> np.ndarray:
    """Average the window probabilities of each clip: the video-level answer."""
    scores = np.zeros((count, window_probabilities.shape[1]))
    np.add.at(scores, owners, window_probabilities)
    return scores / np.bincount(owners, minlength=count)[:, None]


def accuracy_report(scores: np.ndarray, labels: np.ndarray, classes: tuple[str, ...]) -> dict:
    """Top-1, top-3 and per-class accuracy of clip-level scores."""
    ranked = np.argsort(-scores, axis=1)
    top1 = ranked[:, 0] == labels
    top3 = (ranked[:, :3] == labels[:, None]).any(axis=1)
    per_class = {name: float(top1[labels == i].mean()) for i, name in enumerate(classes) if (labels == i).any()}
    return {"clips": int(len(labels)), "top1": float(top1.mean()), "top3": float(top3.mean()), "per_class": per_class}
