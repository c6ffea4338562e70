"""Calibrated confidence, and the decision whether an answer is one of the actions a model knows.

A model's softmax is not a probability: LRCN fuses four streams by averaging their
logits and was trained with label smoothing, which shrinks every score, and a model
can be sure of a class on footage unlike anything it was taught. Each model's
metadata therefore carries a `Calibration`, fitted on groups the model never trained
on: one temperature for its window probabilities (temperature scaling, Guo et al.
2017), and a threshold on the calibrated confidence under which the answer is
"none of the actions this model knows".

Where there is a pose stream (see `recognition.pose`), its window answers are first
fused with the model's by a weighted geometric mean, the weight fitted on the same
held-out groups, and the temperature and thresholds are fitted on the fused answers.

The video-level answer is the mean of the calibrated window probabilities; a
segment's is the mean over its windows. Both are compared with the same threshold.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from recognition.metrics import expected_calibration_error

TEMPERATURES = np.exp(np.linspace(np.log(0.1), np.log(5.0), 161))
"""The grid searched for the temperature (fine enough: ECE moves by < 0.005 between neighbours)."""
POSE_WEIGHTS = np.round(np.linspace(0.0, 0.6, 13), 2)
"""The pose stream's shares tried in the fusion."""
KNOWN_SHARE = 0.95
"""Share of held-out clips of known actions that must stay "known": sets the threshold."""
FAMILIARITY_SHARE = 0.8
"""Of the held-out clips let go, the share that familiarity lets go (the rest, confidence): on real footage of
other things it tells them from the actions better than the confidence does (docs/trust.md)."""


@dataclasses.dataclass(frozen=True)
class Calibration:
    """Applies to a model's window probabilities; fitted by `fit`, saved in the model's metadata."""

    temperature: float = 1.0
    known_threshold: float = 0.0
    """Calibrated confidence under which an answer is "none of the actions this model knows"."""
    familiarity_threshold: float | None = None
    """Familiarity (see `recognition.familiarity`) under which it is too; None when the model has none."""
    pose_weight: float = 0.0
    """The pose stream's share in the fused answer (0: the model's answer alone)."""
    fitted_on: dict = dataclasses.field(default_factory=dict, compare=False)
    """Where the numbers come from: groups, clip count, error before and after (for people, not for inference)."""

    def apply(self, probabilities: np.ndarray, pose: np.ndarray | None = None) -> np.ndarray:
        """The model's window probabilities (..., classes), fused with the pose head's (`pose`, the same shape)
        where this calibration has a pose weight, then rescaled by the temperature: softmax(log p / T)."""
        if self.pose_weight:
            if pose is None:
                raise ValueError("this calibration fuses a pose stream: pass the pose head's answers")
            probabilities = fused(probabilities, pose, self.pose_weight)
        return tempered(probabilities, self.temperature)

    def is_known(self, confidence: float, familiarity: float | None = None) -> bool:
        """Whether an answer of this confidence, from windows this familiar, is one of the model's actions."""
        if familiarity is not None and self.familiarity_threshold is not None \
                and familiarity < self.familiarity_threshold:
            return False
        return confidence >= self.known_threshold

    @classmethod
    def fit(cls, window_probabilities: Sequence[np.ndarray], labels: np.ndarray, groups: np.ndarray,
            window_familiarity: Sequence[np.ndarray | None] | None = None,
            known_share: float = KNOWN_SHARE, familiarity_share: float = FAMILIARITY_SHARE,
            pose: Sequence[np.ndarray] | None = None) -> "Calibration":
        """Fit on held-out clips: each clip's raw window probabilities (windows, classes), its label and UCF group.

        With the pose head's window answers (`pose`), the pose weight is the one on `POSE_WEIGHTS` whose
        fused answers are right most often (the lower log-likelihood loss breaks ties), and all that
        follows is fitted on the fused answers. The temperature minimises the negative log-likelihood
        of the clip-level answers. The thresholds keep `known_share` of the clips "known"; with each
        clip's window familiarity too, familiarity lets go `familiarity_share` of the clips let go, then
        the confidence threshold is the highest that still keeps `known_share`. `fitted_on` also records
        the calibration error measured honestly, by leaving one group out at a time: fitted on the
        other groups, measured on the one left out (the pose weight too, with top-1 so measured).
        """
        model_only = window_probabilities
        pose_weight = fit_pose_weight(window_probabilities, pose, labels) if pose is not None else 0.0
        window_probabilities = _fused_windows(model_only, pose, pose_weight)
        temperature = fit_temperature(window_probabilities, labels)
        scores = clip_probabilities(window_probabilities, temperature)
        confidences = scores.max(axis=1)
        familiar_enough = np.ones(len(labels), bool)
        familiarity_threshold = None
        if window_familiarity is not None and all(f is not None for f in window_familiarity):
            familiarity = np.array([f.mean() for f in window_familiarity])
            familiarity_threshold = _floor(float(np.quantile(familiarity, (1.0 - known_share) * familiarity_share)))
            familiar_enough = familiarity >= familiarity_threshold
        kept = int(np.ceil(known_share * len(labels)))
        passing = np.sort(confidences[familiar_enough])[::-1]
        threshold = _floor(float(passing[min(kept, len(passing)) - 1]))
        known = familiar_enough & (confidences >= threshold)
        raw = clip_probabilities(window_probabilities, 1.0)
        left_out = np.zeros_like(raw)
        for group in np.unique(groups):
            rest = groups != group
            model_rest, model_out = _split(model_only, rest)
            weight = fit_pose_weight(model_rest, _split(pose, rest)[0], labels[rest]) if pose is not None else 0.0
            fitted = fit_temperature(_fused_windows(model_rest, _split(pose, rest)[0], weight), labels[rest])
            left_out[~rest] = clip_probabilities(_fused_windows(model_out, _split(pose, rest)[1], weight), fitted)
        with_pose = {}
        if pose is not None:
            alone = clip_probabilities(model_only, 1.0).argmax(axis=1)
            with_pose = {"top1_without_pose": float((alone == labels).mean()),
                         "top1_leave_one_group_out": float((left_out.argmax(axis=1) == labels).mean())}
        return cls(
            temperature=round(float(temperature), 4),
            known_threshold=threshold,
            familiarity_threshold=familiarity_threshold,
            pose_weight=float(pose_weight),
            fitted_on={
                "groups": sorted(int(g) for g in np.unique(groups)),
                "clips": int(len(labels)),
                "top1": float((scores.argmax(axis=1) == labels).mean()),
                "ece_raw": round(expected_calibration_error(raw, labels), 4),
                "ece_calibrated": round(expected_calibration_error(scores, labels), 4),
                "ece_calibrated_leave_one_group_out": round(expected_calibration_error(left_out, labels), 4),
                "known_share": round(float(known.mean()), 4),
                **with_pose,
            },
        )

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Calibration":
        return cls(**data)


def _floor(threshold: float) -> float:
    """Rounded down to 4 decimals, so the clips that set a threshold stay on its side when it is saved."""
    return float(np.floor(threshold * 1e4) / 1e4)


def tempered(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(log p / T): the same ranking, sharper (T < 1) or softer (T > 1)."""
    logits = np.log(np.maximum(probabilities, 1e-12)) / temperature
    logits -= logits.max(axis=-1, keepdims=True)
    exp = np.exp(logits)
    return exp / exp.sum(axis=-1, keepdims=True)


def fused(model: np.ndarray, pose: np.ndarray, weight: float) -> np.ndarray:
    """The weighted geometric mean of two answers (..., classes), `weight` the pose stream's share, normalised."""
    logits = (1.0 - weight) * np.log(np.maximum(model, 1e-12)) + weight * np.log(np.maximum(pose, 1e-12))
    logits -= logits.max(axis=-1, keepdims=True)
    exp = np.exp(logits)
    return exp / exp.sum(axis=-1, keepdims=True)


def _fused_windows(model: Sequence[np.ndarray], pose: Sequence[np.ndarray] | None,
                   weight: float) -> list[np.ndarray]:
    return list(model) if pose is None or not weight else [fused(m, p, weight) for m, p in zip(model, pose)]


def _split(clips: Sequence[np.ndarray] | None, chosen: np.ndarray) -> tuple[list | None, list | None]:
    """(the clips where `chosen`, the others); None stays None."""
    if clips is None:
        return None, None
    return [c for c, keep in zip(clips, chosen) if keep], [c for c, keep in zip(clips, chosen) if not keep]


def fit_pose_weight(window_probabilities: Sequence[np.ndarray], pose: Sequence[np.ndarray],
                    labels: np.ndarray) -> float:
    """The pose share on `POSE_WEIGHTS` whose fused clip answers are right most often; the lower negative
    log-likelihood (at the best temperature) breaks ties."""
    rows = np.arange(len(labels))

    def merit(weight: float) -> tuple[float, float]:
        windows = _fused_windows(window_probabilities, pose, weight)
        answers = clip_probabilities(windows, 1.0)
        loss = -np.mean(np.log(np.maximum(clip_probabilities(windows, fit_temperature(windows, labels))[rows, labels],
                                          1e-12)))
        return float((answers.argmax(axis=1) == labels).mean()), -float(loss)

    return float(max(POSE_WEIGHTS, key=merit))


def clip_probabilities(window_probabilities: Sequence[np.ndarray], temperature: float) -> np.ndarray:
    """Each clip's answer (clips, classes): the mean of its tempered window probabilities."""
    windows = np.concatenate(window_probabilities)
    owners = np.repeat(np.arange(len(window_probabilities)), [len(p) for p in window_probabilities])
    sums = np.zeros((len(window_probabilities), windows.shape[1]))
    np.add.at(sums, owners, tempered(windows, temperature))
    return sums / np.bincount(owners)[:, None]


def fit_temperature(window_probabilities: Sequence[np.ndarray], labels: np.ndarray) -> float:
    """The temperature on `TEMPERATURES` that minimises the clip-level negative log-likelihood."""
    rows = np.arange(len(labels))
    losses = [-np.mean(np.log(np.maximum(clip_probabilities(window_probabilities, t)[rows, labels], 1e-12)))
              for t in TEMPERATURES]
    return float(TEMPERATURES[int(np.argmin(losses))])
