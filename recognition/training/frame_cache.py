"""Decoded training frames, sampled once per clip and kept on disk.

Decoding and resizing every clip again each run would dominate training time,
so each clip's sampled frames (model size, uint8) are saved as one `.npy` file
and memory-mapped on later runs. The key covers the clip file and everything
that changes which frames are taken.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from recognition.metadata import SamplingSpec
from recognition.sampling import plan_samples
from recognition.training.dataset import Clip
from recognition.video import FrameFormat, VideoError, VideoInfo, probe, read_samples

CACHE_VERSION = 2


@dataclasses.dataclass
class ClipFrames:
    """Sampled frames of one clip, (samples, size, size, 3) uint8, and its window starts."""

    clip: Clip
    frames: np.ndarray
    window_starts: np.ndarray


class FrameCache:
    def __init__(self, cache_dir: Path, sampling: SamplingSpec, frame_format: FrameFormat):
        self.cache_dir = Path(cache_dir)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        self.sampling = sampling
        self.frame_format = frame_format

    def _path(self, clip: Clip) -> Path:
        stat = clip.path.stat()
        fields = [CACHE_VERSION, str(clip.path.resolve()), stat.st_size, stat.st_mtime_ns,
                  dataclasses.asdict(self.sampling), self.frame_format.size]
        if self.frame_format.crop_borders:  # uncut frames keep the keys they had before cutting existed
            fields.append("crop_borders")
        if self.frame_format.aspect_range is not None:  # likewise for frames scaled whole
            fields.append(list(self.frame_format.aspect_range))
        return self.cache_dir / f"{hashlib.sha1(json.dumps(fields).encode()).hexdigest()}.npy"

    def load(self, clips: Sequence[Clip]) -> list[ClipFrames]:
        """Frames of every clip, decoding the ones not cached yet; unreadable clips are skipped."""
        result, started = [], time.monotonic()
        for number, clip in enumerate(clips, 1):
            path = self._path(clip)
            try:
                info = probe(clip.path)
                duration = info.duration_s
                if not path.exists():
                    self._decode(info, path)
            except VideoError as error:
                print(f"  skipped {clip.path.name}: {error}", file=sys.stderr)
                continue
            starts = np.array([w.first_sample for w in plan_samples(duration, self.sampling).windows])
            result.append(ClipFrames(clip, np.load(path, mmap_mode="r"), starts))
            if number % 100 == 0 or number == len(clips):
                print(f"  frames of {number}/{len(clips)} clips ({time.monotonic() - started:.0f} s)", flush=True)
        return result

    def _decode(self, info: VideoInfo, path: Path) -> None:
        plan = plan_samples(info.duration_s, self.sampling)
        frames = read_samples(info, plan.times, [self.frame_format])[self.frame_format]
        temporary = path.with_suffix(".tmp.npy")
        np.save(temporary, frames)
        temporary.replace(path)
