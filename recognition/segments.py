"""Segments: the stretches of a video that show one action, read from a model's window timeline.

A long video often holds several actions in a row. Each window of the timeline
says what it sees; one odd window should not split an action in two, so the
labels are smoothed before the timeline is cut. The smoothing is a Viterbi pass
over the windows: a label sequence earns each window's probability of its label
and pays `switch_cost` for every change of label. A change therefore survives
only when the windows after it favour the new label by more than the cost of
switching there and back. With a cost of at least 0.5, a single window, whose
probability is at most 1, can never pay for two switches: one odd window inside
an action never splits it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from recognition.calibration import Calibration

SWITCH_COST = 0.5
"""In units of window probability: what a change of label costs the smoothed sequence."""


@dataclasses.dataclass(frozen=True)
class Segment:
    """One action from `start_s` to `end_s`; `confidence` is the mean probability of `label` over its windows."""

    start_s: float
    end_s: float
    label: str
    confidence: float
    known: bool

    def summary(self) -> dict:
        return {"start_s": round(self.start_s, 3), "end_s": round(self.end_s, 3), "label": self.label,
                "confidence": round(self.confidence, 4), "known": self.known}


def smoothed_labels(probabilities: np.ndarray, switch_cost: float = SWITCH_COST) -> np.ndarray:
    """The class index per window that maximises the summed probabilities minus `switch_cost` per change."""
    windows, classes = probabilities.shape
    score = probabilities[0].astype(np.float64)
    came_from = np.zeros((windows, classes), np.int64)
    for t in range(1, windows):
        best = int(np.argmax(score))
        switch = score[best] - switch_cost
        stay = score >= switch
        came_from[t] = np.where(stay, np.arange(classes), best)
        score = np.where(stay, score, switch) + probabilities[t]
    labels = np.empty(windows, np.int64)
    labels[-1] = int(np.argmax(score))
    for t in range(windows - 1, 0, -1):
        labels[t - 1] = came_from[t, labels[t]]
    return labels


def find_segments(windows: Sequence[tuple[float, float]], probabilities: np.ndarray, classes: Sequence[str],
                  duration_s: float, calibration: Calibration | None = None, familiarity: np.ndarray | None = None,
                  switch_cost: float = SWITCH_COST) -> tuple[Segment, ...]:
    """The video from 0 to `duration_s` cut into segments of one smoothed label each, in order, without gaps.

    Adjacent windows overlap; a cut between two of them falls halfway between their centres.
    A segment is `known` when `calibration` says so of its confidence and its windows' mean
    `familiarity` (always, without a calibration).
    """
    probabilities = np.asarray(probabilities, np.float64)
    labels = smoothed_labels(probabilities, switch_cost)
    centres = np.array([(start + end) / 2 for start, end in windows])
    changes = np.flatnonzero(labels[1:] != labels[:-1]) + 1
    firsts, lasts = np.r_[0, changes], np.r_[changes, len(labels)]
    cuts = [0.0, *((centres[i - 1] + centres[i]) / 2 for i in changes), float(duration_s)]
    segments = []
    for number, (first, last) in enumerate(zip(firsts, lasts)):
        label = labels[first]
        confidence = float(probabilities[first:last, label].mean())
        known = calibration is None or calibration.is_known(
            confidence, None if familiarity is None else float(np.mean(familiarity[first:last])))
        segments.append(Segment(float(cuts[number]), float(cuts[number + 1]), classes[label], confidence, known))
    return tuple(segments)
