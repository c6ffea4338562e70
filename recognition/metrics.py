"""Accuracy and calibration of clip-level answers, the same for training, calibration and evaluation."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

BINS = 10
"""Equal-width confidence bins of the calibration error and the reliability plot."""
RESAMPLES = 1000
"""Bootstrap resamples behind an interval (the interval's ends move by well under a point between seeds)."""


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


def reliability(probabilities: np.ndarray, labels: np.ndarray, bins: int = BINS) -> list[dict]:
    """Per confidence bin of equal width: clips, mean confidence, accuracy (empty bins left out)."""
    confidences = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidences, edges[1:-1], right=True), 0, bins - 1)
    return [{"low": float(edges[b]), "high": float(edges[b + 1]), "clips": int((which == b).sum()),
             "confidence": float(confidences[which == b].mean()), "accuracy": float(correct[which == b].mean())}
            for b in range(bins) if (which == b).any()]


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray, bins: int = BINS) -> float:
    """The clip-weighted mean gap between confidence and accuracy over `bins` equal-width bins."""
    rows = reliability(probabilities, labels, bins)
    return float(sum(r["clips"] * abs(r["confidence"] - r["accuracy"]) for r in rows) / len(labels))


def top1(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """Share of clips whose highest score is their label."""
    return float((probabilities.argmax(axis=1) == labels).mean())


def bootstrap_interval(statistic: Callable[[np.ndarray, np.ndarray], float], probabilities: np.ndarray,
                       labels: np.ndarray, clusters: np.ndarray, level: float = 0.95,
                       resamples: int = RESAMPLES, seed: int = 0) -> tuple[float, float]:
    """The central `level` interval of `statistic(probabilities, labels)` over resamples of whole clusters.

    Clips of one UCF group and class share a scene and a person, and are right or wrong together
    (every PullUps clip of one group can go to Diving), so a figure on a few hundred clips is as
    uncertain as its few dozen clusters make it: the clusters, not the clips, are drawn with replacement.
    Fit for top-1, not for the calibration error, which resampling biases upwards (repeated clips
    make every bin's gap noisier, and a gap counts whatever its sign).
    """
    rng = np.random.default_rng(seed)
    _, owner = np.unique(clusters, return_inverse=True)
    members = [np.flatnonzero(owner == cluster) for cluster in range(owner.max() + 1)]
    values = []
    for _ in range(resamples):
        picked = np.concatenate([members[c] for c in rng.integers(0, len(members), len(members))])
        values.append(statistic(probabilities[picked], labels[picked]))
    low, high = np.quantile(values, [(1.0 - level) / 2, (1.0 + level) / 2])
    return float(low), float(high)
