"""How long and how large a video one request may be.

A demo on shared CPUs has to turn away a two-hour film before decoding it.
The caps come from the environment, so a deployment can change them without
code: `ACTION_LENS_MAX_SECONDS` (default 600), `ACTION_LENS_MAX_MB` (default 200)
and `ACTION_LENS_MAX_REQUEST_SECONDS` (default 300, the time one request may take).
"""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path

from recognition.video import VideoError, VideoInfo, probe

DEFAULT_MAX_SECONDS = 600.0
DEFAULT_MAX_MB = 200.0
DEFAULT_MAX_REQUEST_SECONDS = 300.0


def describe_seconds(seconds: float) -> str:
    """'45 s', '2 min 5 s' or '10 min': short enough for an error sentence."""
    minutes, rest = divmod(round(seconds), 60)
    if not minutes:
        return f"{rest} s"
    return f"{minutes} min {rest} s" if rest else f"{minutes} min"


def describe_bytes(size: float) -> str:
    return f"{size / 1e6:.0f} MB" if size >= 1e6 else f"{size / 1e3:.0f} kB"


@dataclasses.dataclass(frozen=True)
class Limits:
    max_seconds: float = DEFAULT_MAX_SECONDS
    max_bytes: int = int(DEFAULT_MAX_MB * 1e6)
    max_request_seconds: float = DEFAULT_MAX_REQUEST_SECONDS

    @classmethod
    def from_env(cls) -> "Limits":
        seconds = float(os.environ.get("ACTION_LENS_MAX_SECONDS", DEFAULT_MAX_SECONDS))
        megabytes = float(os.environ.get("ACTION_LENS_MAX_MB", DEFAULT_MAX_MB))
        request_seconds = float(os.environ.get("ACTION_LENS_MAX_REQUEST_SECONDS", DEFAULT_MAX_REQUEST_SECONDS))
        return cls(max_seconds=seconds, max_bytes=int(megabytes * 1e6), max_request_seconds=request_seconds)

    def deadline(self) -> "Deadline":
        """A clock for one request, started now."""
        return Deadline(self.max_request_seconds)

    def duration_problem(self, seconds: float | None) -> str | None:
        """Why a video of `seconds` is refused, or None when it is fine (or unknown)."""
        if seconds is None or seconds <= self.max_seconds:
            return None
        return (f"it is {describe_seconds(seconds)} long and this demo takes videos up to "
                f"{describe_seconds(self.max_seconds)}: trim it or pick a shorter clip")

    def size_problem(self, size: float | None) -> str | None:
        """Why a file of `size` bytes is refused, or None when it is fine (or unknown)."""
        if size is None or size <= self.max_bytes:
            return None
        return f"it is {describe_bytes(size)} and this demo takes files up to {describe_bytes(self.max_bytes)}"

    def check_file(self, path: str | os.PathLike) -> VideoInfo:
        """The video's `VideoInfo`; `VideoError` when a local video file is over either cap."""
        path = Path(path)
        info = probe(path)
        problem = self.size_problem(path.stat().st_size) or self.duration_problem(info.duration_s)
        if problem:
            raise VideoError(f"{path.name}: {problem}.")
        return info


class Deadline:
    """The time one request may take; `check()` is called as work goes on and stops it once time is up."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.ends = time.monotonic() + seconds

    def check(self) -> None:
        if time.monotonic() > self.ends:
            raise VideoError(f"This video took longer than {describe_seconds(self.seconds)} to process, the "
                             "limit per request: try a shorter clip.")
