"""What a recognition returns: plain data, shared by the CLI, the app and annotation."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from recognition.calibration import Calibration
from recognition.segments import Segment, find_segments


@dataclasses.dataclass(frozen=True)
class WindowScore:
    """One window of the timeline: where it sits in the video and its class probabilities."""

    start_s: float
    end_s: float
    probabilities: tuple[float, ...]
    familiarity: float | None = None
    """How much the window looks like the model's training footage (see `recognition.familiarity`)."""


@dataclasses.dataclass(frozen=True)
class ModelResult:
    """One model's answer for the whole video, its window timeline, and the segments read from it.

    `known` says whether the video shows actions among the model's classes, as the model's
    calibration decides from the confidence and the windows' familiarity. Each segment says the same of itself.
    """

    model: str
    classes: tuple[str, ...]
    label: str
    confidence: float
    top3: tuple[tuple[str, float], ...]
    timeline: tuple[WindowScore, ...]
    seconds: float
    segments: tuple[Segment, ...]
    known: bool
    annotated_video: Path | None = None

    @classmethod
    def from_windows(cls, model: str, classes: tuple[str, ...], windows: list[tuple[float, float]],
                     probabilities: np.ndarray, seconds: float, duration_s: float | None = None,
                     calibration: Calibration | None = None,
                     familiarity: np.ndarray | None = None) -> "ModelResult":
        """The video-level answer is the average of the window probabilities; segments cover 0 to `duration_s`.

        `duration_s` defaults to the end of the last window.
        """
        probabilities = np.asarray(probabilities)
        mean = probabilities.mean(axis=0)
        duration_s = windows[-1][1] if duration_s is None else duration_s
        segments = find_segments(windows, probabilities, classes, duration_s, calibration, familiarity)
        ranked = np.argsort(-mean)[:3]
        return cls(
            model=model,
            classes=classes,
            label=classes[ranked[0]],
            confidence=float(mean[ranked[0]]),
            top3=tuple((classes[i], float(mean[i])) for i in ranked),
            timeline=tuple(
                WindowScore(round(start, 3), round(end, 3), tuple(float(p) for p in row),
                            None if familiarity is None else round(float(familiarity[i]), 4))
                for i, ((start, end), row) in enumerate(zip(windows, probabilities))
            ),
            seconds=seconds,
            segments=segments,
            known=_known(segments, calibration, float(mean[ranked[0]]), familiarity),
        )

    @property
    def probabilities(self) -> np.ndarray:
        """Video-level class probabilities: the mean over the timeline's windows."""
        return np.mean([w.probabilities for w in self.timeline], axis=0)

    def segment_at(self, time_s: float) -> Segment:
        """The segment that covers `time_s` (the first or last one outside the video)."""
        for segment in self.segments:
            if time_s < segment.end_s:
                return segment
        return self.segments[-1]

    def summary(self) -> dict:
        """The JSON form used by `predict --json` and the app's API.

        Each timeline window gives its best label and that label's probability.
        """
        best = [int(np.argmax(window.probabilities)) for window in self.timeline]
        return {
            "label": self.label,
            "confidence": round(self.confidence, 4),
            "known": self.known,
            "top3": [[name, round(p, 4)] for name, p in self.top3],
            "seconds": round(self.seconds, 3),
            "segments": [segment.summary() for segment in self.segments],
            "timeline": [{"start_s": window.start_s, "end_s": window.end_s, "label": self.classes[i],
                          "confidence": round(window.probabilities[i], 4)}
                         for window, i in zip(self.timeline, best)],
        }


@dataclasses.dataclass(frozen=True)
class Recognition:
    video: str
    duration_s: float
    models: dict[str, ModelResult]
    notes: tuple[str, ...] = ()
    stage_seconds: dict[str, float] = dataclasses.field(default_factory=dict)
    """Wall-clock seconds per stage: 'decode', one per model, 'pose' with a pose head, and 'annotate' when videos
    were written."""
    pose: np.ndarray | None = dataclasses.field(default=None, compare=False)
    """The pose head's own answers per window (windows, classes), before any model fused them; None without one."""

    def summary(self) -> dict:
        data = {
            "video": self.video,
            "duration_s": round(self.duration_s, 3),
            "models": {name: result.summary() for name, result in self.models.items()},
        }
        if self.notes:
            data["notes"] = list(self.notes)
        return data


def _known(segments: tuple[Segment, ...], calibration: Calibration | None, confidence: float,
           familiarity: np.ndarray | None) -> bool:
    """Whether the video shows actions the model knows: its answer over all windows, or, for a video of
    several actions (whose average fits none of them), segments that cover at least half of it."""
    if calibration is None:
        return True
    if len(segments) > 1:
        covered = sum(s.end_s - s.start_s for s in segments if s.known)
        return covered >= 0.5 * (segments[-1].end_s - segments[0].start_s)
    return calibration.is_known(confidence, None if familiarity is None else float(np.mean(familiarity)))
