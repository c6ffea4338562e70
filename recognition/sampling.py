"""Where frames are sampled and how they group into windows.

Training and inference share this one rule, so a model always sees frames spaced
the way it was trained on. Frames are sampled on a single time grid and windows
are runs of consecutive grid frames, so overlapping windows share their frames
and each frame's CNN features are computed once.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from recognition.metadata import SamplingSpec


@dataclasses.dataclass(frozen=True)
class Window:
    """A run of `num_frames` sampled frames, and the stretch of video it covers."""

    first_sample: int
    start_s: float
    end_s: float


@dataclasses.dataclass(frozen=True)
class SamplePlan:
    """The sample times of one video and the windows built on them."""

    times: np.ndarray
    windows: tuple[Window, ...]
    num_frames: int

    def window_indices(self) -> np.ndarray:
        """An array (windows, num_frames) of indices into `times`."""
        starts = np.array([w.first_sample for w in self.windows])
        return starts[:, None] + np.arange(self.num_frames)[None, :]


def plan_samples(duration_s: float, spec: SamplingSpec) -> SamplePlan:
    """Sample times and windows for a video of `duration_s` seconds.

    A video no longer than one window gets `num_frames` times spread over its
    whole length. A longer one gets a grid of `spec.frames_per_second`, with a
    window every `hop_seconds` and a last window aligned to the end so the tail
    is covered too.
    """
    if duration_s <= 0:
        raise ValueError("duration must be positive")
    n = spec.num_frames
    step = 1.0 / spec.frames_per_second
    grid_size = int(np.floor(duration_s / step + 1e-6))
    if grid_size <= n:
        times = (np.arange(n) + 0.5) * (duration_s / n)
        return SamplePlan(times, (Window(0, 0.0, float(duration_s)),), n)

    times = (np.arange(grid_size) + 0.5) * step
    hop = max(1, int(round(spec.hop_seconds / step)))
    starts = list(range(0, grid_size - n + 1, hop))
    if starts[-1] != grid_size - n:
        starts.append(grid_size - n)
    windows = tuple(Window(s, s * step, (s + n) * step) for s in starts)
    return SamplePlan(times, windows, n)


def window_for_time(windows: tuple[Window, ...], time_s: float) -> int:
    """Index of the window whose centre is closest to `time_s`."""
    centres = np.array([(w.start_s + w.end_s) / 2 for w in windows])
    return int(np.argmin(np.abs(centres - time_s)))
