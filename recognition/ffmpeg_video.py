"""Video input through the ffmpeg binary that imageio-ffmpeg ships, for what OpenCV's wheel can't decode.

OpenCV's FFmpeg has no software AV1 decoder; the bundled ffmpeg has libdav1d.
It decodes the first video stream that is not a cover picture, applies the
rotation flag as OpenCV does, and pipes raw BGR frames (OpenCV's channel
order, so everything downstream is the same). Each frame's timestamp comes from
a `metadata` filter that prints it on stderr, which ffmpeg writes unbuffered, so
a frame's time is known by the time its pixels arrive.

ffmpeg is started without a `preexec_fn`, so Python `vfork()`s rather than
copying the whole TensorFlow process (see `annotate`).
"""

from __future__ import annotations

import dataclasses
import os
import queue
import re
import subprocess
import threading
from collections.abc import Iterator

import imageio_ffmpeg
import numpy as np

_STAMP = re.compile(rb"\] frame:\d+\s+pts:\S+\s+pts_time:(\S+)")
_DURATION = re.compile(rb"^\s*Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)")
_INPUT_VIDEO = re.compile(rb"^\s*Stream #0:\d+.*: Video: (\w+)")
_RATE = re.compile(rb", ([\d.]+)(k?) (fps|tbr)")
_OUTPUT_SIZE = re.compile(rb"^\s*Stream #0:\d+.*: Video: rawvideo.*?, (\d+)x(\d+)")
_TIMESTAMPS = "metadata=mode=add:key=at:value=1,metadata=mode=print"
STARTUP_TIMEOUT_S = 60.0


class FfmpegError(Exception):
    """ffmpeg found no video stream it can decode; `cover_only` when there is only a cover picture."""

    def __init__(self, message: str, cover_only: bool = False):
        super().__init__(message)
        self.cover_only = cover_only


@dataclasses.dataclass(frozen=True)
class FfmpegHeader:
    """What ffmpeg says about a file before its first frame: the picture size is after rotation."""

    width: int
    height: int
    fps: float | None
    duration_s: float | None
    codec: str


class _Decoder:
    """One running ffmpeg: raw BGR frames on stdout, its log (header and timestamps) read by a thread."""

    def __init__(self, path: str | os.PathLike, max_frames: int | None = None):
        command = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-nostats", "-loglevel", "info",
                   "-i", str(path), "-map", "0:V:0", "-vf", _TIMESTAMPS, "-fps_mode", "passthrough",
                   *(["-frames:v", str(max_frames)] if max_frames else []),
                   "-f", "rawvideo", "-pix_fmt", "bgr24", "-"]
        self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE)
        self.log: list[bytes] = []
        self.stamps: queue.Queue[float | None] = queue.Queue()
        self.header_read = threading.Event()
        self.header: FfmpegHeader | None = None
        self._input: tuple[str, float | None] | None = None
        self._duration: float | None = None
        threading.Thread(target=self._read_log, name="ffmpeg-log", daemon=True).start()

    def _read_log(self) -> None:
        for line in self.process.stderr:
            if match := _STAMP.search(line):
                self.stamps.put(float(match.group(1)))
                continue
            if len(self.log) < 200:
                self.log.append(line)
            self._parse_header(line)
        self.stamps.put(None)
        self.header_read.set()

    def _parse_header(self, line: bytes) -> None:
        if self.header is not None:
            return
        if match := _DURATION.match(line):
            hours, minutes, seconds = match.groups()
            self._duration = int(hours) * 3600 + int(minutes) * 60 + float(seconds)
        elif self._input is None and (match := _INPUT_VIDEO.match(line)) and b"attached pic" not in line:
            rates = {kind: float(value) * (1000 if thousands else 1)
                     for value, thousands, kind in _RATE.findall(line)}
            self._input = (match.group(1).decode(), rates.get(b"fps") or rates.get(b"tbr"))
        elif match := _OUTPUT_SIZE.match(line):
            codec, fps = self._input or ("unknown", None)
            self.header = FfmpegHeader(int(match.group(1)), int(match.group(2)), fps, self._duration, codec)
            self.header_read.set()

    def problem(self) -> FfmpegError:
        text = b"".join(self.log).decode("utf-8", "replace")
        return FfmpegError(text.strip().splitlines()[-1] if text.strip() else "ffmpeg failed",
                           cover_only="attached pic" in text and "matches no streams" in text)

    def frames(self) -> Iterator[tuple[float, np.ndarray]]:
        """`(timestamp_s, bgr_frame)` for every frame; the process is ended however the caller stops."""
        try:
            self.header_read.wait(STARTUP_TIMEOUT_S)
            if self.header is None:
                raise self.problem()
            width, height = self.header.width, self.header.height
            frame_bytes = width * height * 3
            while len(data := self.process.stdout.read(frame_bytes)) == frame_bytes:
                stamp = self.stamps.get(timeout=STARTUP_TIMEOUT_S)
                if stamp is None:
                    return
                yield stamp, np.frombuffer(data, np.uint8).reshape(height, width, 3)
        finally:
            self.close()

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.stdout.close()
        self.process.wait()


def probe(path: str | os.PathLike) -> tuple[FfmpegHeader, np.ndarray]:
    """The header and first frame; `FfmpegError` when no video stream decodes."""
    decoder = _Decoder(path, max_frames=1)
    for _, frame in decoder.frames():
        return decoder.header, frame
    raise decoder.problem()


def iter_frames(path: str | os.PathLike) -> Iterator[tuple[float, np.ndarray]]:
    """Yield `(timestamp_s, bgr_frame)` for every frame of the first (non-cover) video stream."""
    yield from _Decoder(path).frames()
