"""Video input through OpenCV: probe a file, then decode it once, sequentially.

Frames are picked by timestamp while decoding (seeking is slow and unreliable
across codecs) and resized as soon as they are picked, so a long high-resolution
video never sits in memory whole.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import cv2
import numpy as np


class VideoError(ValueError):
    """A file that can't be used as a video; the message is meant for the user."""


@dataclasses.dataclass(frozen=True)
class VideoInfo:
    path: str
    fps: float
    frame_count: int
    width: int
    height: int

    @property
    def duration_s(self) -> float:
        return self.frame_count / self.fps


_FALLBACK_FPS = 25.0

# The first bytes of still images and audio files. FFmpeg opens a still image as a
# one-frame video, and says nothing useful about an audio file, so we look first.
_IMAGE_SIGNATURES = (b"\x89PNG", b"\xff\xd8\xff", b"BM", b"II*\x00", b"MM\x00*")
_AUDIO_SIGNATURES = (b"ID3", b"\xff\xfb", b"\xff\xf3", b"\xff\xf2", b"fLaC")


def _sniff(head: bytes) -> str | None:
    """'a still image', 'an audio file' or None, from a file's first bytes."""
    if head.startswith(_IMAGE_SIGNATURES) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP"):
        return "a still image"
    if head.startswith(_AUDIO_SIGNATURES) or (head[:4] == b"RIFF" and head[8:12] == b"WAVE") \
            or head[4:11] == b"ftypM4A":
        return "an audio file"
    return None


def _open(path: str | os.PathLike) -> cv2.VideoCapture:
    path = Path(path)
    if not path.exists():
        raise VideoError(f"{path}: no such file")
    if path.is_dir():
        raise VideoError(f"{path}: is a folder, not a video file")
    if path.stat().st_size == 0:
        raise VideoError(f"{path.name}: the file is empty")
    with path.open("rb") as file:
        kind = _sniff(file.read(16))
    if kind:
        raise VideoError(f"{path.name}: is {kind}, not a video")
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise VideoError(f"{path.name}: not a video that can be read (the file is corrupt, cut short, "
                         "audio only or in an unknown format)")
    return capture


def _fps(capture: cv2.VideoCapture) -> float:
    fps = capture.get(cv2.CAP_PROP_FPS)
    return float(fps) if 0 < fps < 1000 else _FALLBACK_FPS


def probe(path: str | os.PathLike) -> VideoInfo:
    """Read fps, frame count and size, and check that a first frame decodes."""
    capture = _open(path)
    try:
        fps = _fps(capture)
        ok, frame = capture.read()
        if not ok or frame is None:
            raise VideoError(f"{Path(path).name}: contains no decodable video frames")
        frame_count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        if frame_count <= 0:
            frame_count = 1 + sum(1 for _ in iter(lambda: capture.grab(), False))
        height, width = frame.shape[:2]
        return VideoInfo(str(path), fps, frame_count, width, height)
    finally:
        capture.release()


def iter_frames(path: str | os.PathLike) -> Iterator[tuple[float, np.ndarray]]:
    """Yield `(timestamp_s, bgr_frame)` for every frame, in decoding order.

    Timestamps come from the container where they rise; otherwise from the
    frame index and nominal fps, which copes with files that report none.
    """
    capture = _open(path)
    try:
        fps = _fps(capture)
        index, last = 0, -1.0
        while True:
            ok, frame = capture.read()
            if not ok or frame is None:
                return
            stamp = capture.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
            if not stamp > last:
                stamp = max(index / fps, last + 1e-3)
            last = stamp
            index += 1
            yield stamp, frame
    finally:
        capture.release()


def to_square_rgb(frame_bgr: np.ndarray, size: int) -> np.ndarray:
    """Resize a frame to `size` x `size` RGB, the model input (the whole view, squashed)."""
    resized = cv2.resize(frame_bgr, (size, size), interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(resized, cv2.COLOR_BGR2RGB)


class SampleStream:
    """The frames shown at ascending `times`, decoded once and handed out in batches as decoding goes.

    Iterating yields `{size: uint8 array (up to batch_size, size, size, 3)}`, in
    the order of `times`, so a caller can run a model on each batch and a long
    video never has all its sampled frames in memory at once. A frame is the one
    on screen at each time; times past the last decoded frame repeat it, since
    containers often overstate their length by a frame or two. After iterating,
    `last_frame_s` is the time of the last frame decoded: well before the last
    time asked for means the file ends early (truncated or damaged).
    """

    def __init__(self, path: str | os.PathLike, times: np.ndarray, sizes: Sequence[int], batch_size: int = 32,
                 on_frame: Callable[[float], None] | None = None):
        self.path, self.times, self.sizes, self.batch_size, self.on_frame = path, times, sizes, batch_size, on_frame
        self.last_frame_s = 0.0

    def __iter__(self) -> Iterator[dict[int, np.ndarray]]:
        batch: list[np.ndarray] = []
        for frame in self._frames_at_times():
            batch.append(frame)
            if len(batch) == self.batch_size:
                yield self._resized(batch)
                batch = []
        if batch:
            yield self._resized(batch)

    def _resized(self, frames: list[np.ndarray]) -> dict[int, np.ndarray]:
        return {size: np.stack([to_square_rgb(frame, size) for frame in frames]) for size in self.sizes}

    def _frames_at_times(self) -> Iterator[np.ndarray]:
        pending, previous = 0, None
        for stamp, frame in iter_frames(self.path):
            self.last_frame_s = stamp
            if self.on_frame:
                self.on_frame(stamp)
            while pending < len(self.times) and self.times[pending] < stamp and previous is not None:
                yield previous
                pending += 1
            if pending == len(self.times):
                return
            previous = frame
        if previous is None:
            raise VideoError(f"{Path(self.path).name}: contains no decodable video frames")
        for _ in range(pending, len(self.times)):
            yield previous


def read_samples(path: str | os.PathLike, times: np.ndarray, sizes: Sequence[int]) -> dict[int, np.ndarray]:
    """Decode once and return `{size: uint8 array (len(times), size, size, 3)}`: the frames shown at `times`.

    `times` may come in any order; the frames come back in the same order.
    """
    order = np.argsort(times, kind="stable")
    stream = SampleStream(path, np.asarray(times)[order], sizes)
    frames = {size: np.empty((len(times), size, size, 3), np.uint8) for size in sizes}
    filled = 0
    for batch in stream:
        count = len(batch[sizes[0]])
        for size, resized in batch.items():
            frames[size][order[filled : filled + count]] = resized
        filled += count
    return frames
