"""What a recognition returns: plain data, shared by the CLI, the app and annotation."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np


@dataclasses.dataclass(frozen=True)
class WindowScore:
    """One window of the timeline: where it sits in the video and its class probabilities."""

    start_s: float
    end_s: float
    probabilities: tuple[float, ...]


@dataclasses.dataclass(frozen=True)
class ModelResult:
    model: str
    classes: tuple[str, ...]
    label: str
    confidence: float
    top3: tuple[tuple[str, float], ...]
    timeline: tuple[WindowScore, ...]
    seconds: float
    annotated_video: Path | None = None

    @classmethod
    def from_windows(cls, model: str, classes: tuple[str, ...], windows: list[tuple[float, float]],
                     probabilities: np.ndarray, seconds: float) -> "ModelResult":
        """The video-level answer is the average of the window probabilities."""
        mean = probabilities.mean(axis=0)
        ranked = np.argsort(-mean)[:3]
        return cls(
            model=model,
            classes=classes,
            label=classes[ranked[0]],
            confidence=float(mean[ranked[0]]),
            top3=tuple((classes[i], float(mean[i])) for i in ranked),
            timeline=tuple(
                WindowScore(round(start, 3), round(end, 3), tuple(float(p) for p in row))
                for (start, end), row in zip(windows, probabilities)
            ),
            seconds=seconds,
        )

    @property
    def probabilities(self) -> np.ndarray:
        """Video-level class probabilities: the mean over the timeline's windows."""
        return np.mean([w.probabilities for w in self.timeline], axis=0)

    def summary(self) -> dict:
        """The short form used by `predict --json`."""
        return {
            "label": self.label,
            "confidence": round(self.confidence, 4),
            "top3": [[name, round(p, 4)] for name, p in self.top3],
            "seconds": round(self.seconds, 3),
        }


@dataclasses.dataclass(frozen=True)
class Recognition:
    video: str
    duration_s: float
    models: dict[str, ModelResult]
    notes: tuple[str, ...] = ()
    stage_seconds: dict[str, float] = dataclasses.field(default_factory=dict)
    """Wall-clock seconds per stage: 'decode', one per model, and 'annotate' when videos were written."""

    def summary(self) -> dict:
        data = {
            "video": self.video,
            "duration_s": round(self.duration_s, 3),
            "models": {name: result.summary() for name, result in self.models.items()},
        }
        if self.notes:
            data["notes"] = list(self.notes)
        return data
