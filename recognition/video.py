"""Video input: probe a file, choose a decoder, then decode it once, sequentially.

OpenCV decodes what it can; what its wheel can't (AV1) goes through the ffmpeg
binary imageio-ffmpeg ships (`ffmpeg_video`), with the same frames out. Frames
are picked by timestamp while decoding (seeking is slow and unreliable across
codecs) and resized as soon as they are picked, so a long high-resolution
video never sits in memory whole. A model may ask for black borders (letterbox,
pillarbox) to be cut first: a third of the UCF clips have them, mostly in a few
classes, so a model that sees them learns the bars as a cue for those classes.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Generator, Iterator, Sequence
from pathlib import Path

import cv2
import imageio_ffmpeg
import numpy as np

from recognition import ffmpeg_video

# imageio-ffmpeg starts ffmpeg in its own process group through a `preexec_fn`, which makes Python
# fork() the whole TensorFlow process instead of vfork()ing it: 20 ms per encoder, and the
# copy-on-write faults that follow slow the models down as well (0.53 s -> 0.39 s for a 5.5-s clip).
# Without it, ffmpeg shares our process group, so Ctrl-C stops it together with us.
os.environ.setdefault("IMAGEIO_FFMPEG_NO_PREVENT_SIGINT", "1")


VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv", ".3gp")
"""File name endings taken as videos: uploads, example folders and datasets."""


class VideoError(ValueError):
    """A file that can't be used as a video; the message is meant for the user."""


@dataclasses.dataclass(frozen=True)
class VideoInfo:
    path: str
    fps: float
    frame_count: int
    width: int
    height: int
    decoder: str = "opencv"
    """"opencv", or "ffmpeg" for streams OpenCV's wheel can't decode."""

    @property
    def duration_s(self) -> float:
        return self.frame_count / self.fps


@dataclasses.dataclass(frozen=True)
class FrameFormat:
    """How a model takes its frames: a `size` x `size` RGB square, after cutting black borders if asked.

    `aspect_range` is the span of picture shapes (width / height) the model was trained on: a
    picture inside it is scaled to the square as in training; one outside it (a portrait phone
    video, a panorama) is first padded to the nearest shape inside it, so people keep the
    proportions the model knows instead of being squeezed. The padding mirrors the picture's
    edges: black bars are a sight the models never trained on, and still bars would hide the
    camera's motion from the optical flow. None scales every picture whole. `padding="black"`
    pads with black instead (the pose stream's frames, where a mirrored body would be found too).
    """

    size: int
    crop_borders: bool = False
    aspect_range: tuple[float, float] | None = None
    padding: str = "mirror"


_FALLBACK_FPS = 25.0
BORDER_CHUNK = 16
"""Consecutive sampled frames that share one border estimate, so a dark scene is not mistaken for a bar."""
BORDER_THRESHOLD = 40
"""A row or column is border while its brightest pixel stays at or below this, in every frame of a chunk."""
BORDER_MAX_SHARE = 0.3
"""The most that is cut from each side, so a dark scene is never cropped to a sliver."""
BORDER_PROBE_SIDE = 320
"""Frames larger than this (long side) are looked at every few pixels to find their borders."""

_OPENCV_CANNOT_DECODE = {"av01"}
"""Fourccs that OpenCV's wheel opens but has no software decoder for: they go straight to ffmpeg."""
_IMAGE_CODECS = {"mjpg", "png ", "mpng", "bmp ", "jpeg"}
"""Still-image codecs: a real video (MJPEG) or an audio file's cover picture, which only ffmpeg tells apart."""

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


def _check_file(path: Path) -> bytes:
    """Refuse what is plainly not a video before any decoder sees it; returns the file's first bytes."""
    if not path.exists():
        raise VideoError(f"{path}: no such file")
    if path.is_dir():
        raise VideoError(f"{path}: is a folder, not a video file")
    if path.stat().st_size == 0:
        raise VideoError(f"{path.name}: the file is empty")
    with path.open("rb") as file:
        head = file.read(16)
    if kind := _sniff(head):
        raise VideoError(f"{path.name}: is {kind}, not a video")
    return head


def _fps(capture: cv2.VideoCapture) -> float:
    fps = capture.get(cv2.CAP_PROP_FPS)
    return float(fps) if 0 < fps < 1000 else _FALLBACK_FPS


def _fourcc(capture: cv2.VideoCapture) -> str:
    code = int(capture.get(cv2.CAP_PROP_FOURCC))
    return code.to_bytes(4, "little").decode("latin-1").lower()


def probe(path: str | os.PathLike) -> VideoInfo:
    """Read fps, frame count and size, check that a first frame decodes, and choose the decoder.

    OpenCV is tried first. A stream it can't decode (AV1, which its wheel has no
    software decoder for) goes to ffmpeg. A still-image codec is checked with
    ffmpeg too, since an audio file's cover picture looks to OpenCV like a video.
    """
    path = Path(path)
    head = _check_file(path)
    info, fourcc, opened = _probe_opencv(path)
    if info is None:
        return _probe_ffmpeg(path, opened)
    if head.startswith(b"GIF8") and info.frame_count == 1:  # an animated GIF is a video, a still one isn't
        raise VideoError(f"{path.name}: is a still image, not a video")
    if fourcc in _IMAGE_CODECS:
        _probe_ffmpeg(path, opened)  # raises for a cover picture
    return info


def _probe_opencv(path: Path) -> tuple[VideoInfo | None, str, bool]:
    """The video's info if OpenCV decodes a first frame (else None), its fourcc, and whether OpenCV opened it."""
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            return None, "", False
        fourcc = _fourcc(capture)
        if fourcc in _OPENCV_CANNOT_DECODE:
            return None, fourcc, True
        ok, frame = capture.read()
        if not ok or frame is None:
            return None, fourcc, True
        frame_count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        if frame_count <= 0:
            frame_count = 1 + sum(1 for _ in iter(lambda: capture.grab(), False))
        height, width = frame.shape[:2]
        return VideoInfo(str(path), _fps(capture), frame_count, width, height), fourcc, True
    finally:
        capture.release()


def _probe_ffmpeg(path: Path, opened_by_opencv: bool) -> VideoInfo:
    try:
        header, frame = ffmpeg_video.probe(path)
    except ffmpeg_video.FfmpegError as error:
        if error.cover_only:
            raise VideoError(f"{path.name}: is an audio file with a cover picture, not a video") from error
        if opened_by_opencv:
            raise VideoError(f"{path.name}: contains no decodable video frames") from error
        raise VideoError(f"{path.name}: not a video that can be read (the file is corrupt, cut short, "
                         "audio only or in an unknown format)") from error
    fps = header.fps if header.fps and 0 < header.fps < 1000 else _FALLBACK_FPS
    if header.duration_s:
        frame_count = max(1, round(header.duration_s * fps))
    else:
        frame_count = sum(1 for _ in ffmpeg_video.iter_frames(path))
    height, width = frame.shape[:2]
    return VideoInfo(str(path), fps, frame_count, width, height, decoder="ffmpeg")


def iter_frames(video: str | os.PathLike | VideoInfo,
                wanted: Callable[[float], bool] | None = None) -> Iterator[tuple[float, np.ndarray | None]]:
    """Yield `(timestamp_s, bgr_frame)` for every frame, in decoding order.

    Given a `VideoInfo`, decodes with the decoder its probe chose; given a path,
    probes first. Timestamps come from the container where they rise; otherwise
    from the frame index and nominal fps, which copes with files that report none.
    With `wanted`, a frame whose timestamp it turns down comes as None: OpenCV then
    decodes it but skips turning it into BGR pixels, most of the cost of a large
    frame nobody looks at.
    """
    info = video if isinstance(video, VideoInfo) else probe(video)
    frames = ffmpeg_video.iter_frames(info.path) if info.decoder == "ffmpeg" else _opencv_frames(info.path)
    last = -1.0
    for index, (stamp, pixels) in enumerate(frames):
        if not stamp > last:
            stamp = max(index / info.fps, last + 1e-3)
        last = stamp
        if wanted is not None and not wanted(stamp):
            yield stamp, None
            continue
        frame = pixels() if callable(pixels) else pixels
        if frame is None:
            return
        yield stamp, frame


def _opencv_frames(path: str) -> Iterator[tuple[float, Callable[[], np.ndarray | None]]]:
    """`(timestamp_s, pixels)` per frame, where `pixels()` converts the frame just decoded (None if it fails)."""
    capture = cv2.VideoCapture(path)

    def pixels() -> np.ndarray | None:
        ok, frame = capture.retrieve()
        return frame if ok else None

    try:
        while capture.grab():
            yield capture.get(cv2.CAP_PROP_POS_MSEC) / 1000.0, pixels
    finally:
        capture.release()


def to_square_rgb(frame_bgr: np.ndarray, size: int,
                  aspect_range: tuple[float, float] | None = None, padding: str = "mirror") -> np.ndarray:
    """Resize a frame to `size` x `size` RGB, the model input, padding it first if its shape is outside `aspect_range`.

    The padding is added after shrinking (to the picture's share of the square), which costs less.
    """
    height, width = frame_bgr.shape[:2]
    content_width, content_height = size, size
    if aspect_range is not None:
        low, high = aspect_range
        aspect = width / height
        if aspect < low:  # too tall: pad left and right up to `low`
            content_width = max(1, round(size * aspect / low))
        elif aspect > high:  # too wide: pad above and below down to `high`
            content_height = max(1, round(size * high / aspect))
    resized = cv2.resize(frame_bgr, (content_width, content_height), interpolation=cv2.INTER_AREA)
    if (content_width, content_height) != (size, size):
        left, top = (size - content_width) // 2, (size - content_height) // 2
        resized = cv2.copyMakeBorder(resized, top, size - content_height - top, left, size - content_width - left,
                                     cv2.BORDER_CONSTANT if padding == "black" else cv2.BORDER_REFLECT_101)
    return cv2.cvtColor(resized, cv2.COLOR_BGR2RGB)


def content_box(frames: Sequence[np.ndarray]) -> tuple[slice, slice]:
    """The rows and columns inside the black borders that all of `frames` share.

    Border rows and columns are those at the edges whose brightest pixel stays dark
    in every frame; at most `BORDER_MAX_SHARE` of each side is cut. Large frames are
    looked at every few pixels, which is plenty to place a bar.
    """
    height, width = frames[0].shape[:2]
    step = max(1, max(height, width) // BORDER_PROBE_SIDE)
    brightest = np.zeros_like(frames[0][::step, ::step, 0])
    for frame in frames:
        probe_grid = frame[::step, ::step]
        for channel in range(probe_grid.shape[2]):  # numpy's max over a short last axis is 20x slower
            np.maximum(brightest, probe_grid[..., channel], out=brightest)
    return (_inner_span(brightest.max(axis=1) > BORDER_THRESHOLD, step, height),
            _inner_span(brightest.max(axis=0) > BORDER_THRESHOLD, step, width))


def _inner_span(lit: np.ndarray, step: int, length: int) -> slice:
    """From the first to the last lit line (every `step`-th of `length`), cutting at most `BORDER_MAX_SHARE` a side."""
    limit = int(length * BORDER_MAX_SHARE)
    lit_lines = np.flatnonzero(lit)
    if not len(lit_lines):
        return slice(0, length)
    return slice(min(int(lit_lines[0]) * step, limit),
                 max(min((int(lit_lines[-1]) + 1) * step, length), length - limit))


FRAME_GAP_SLACK = 1.5
"""How much longer than the last gap between frames the next gap may be before a sample falls on a frame not kept."""


class SampleStream:
    """The frames shown at ascending `times`, decoded once and handed out in batches as decoding goes.

    Iterating yields `{format: uint8 array (up to batch_size, size, size, 3)}` for
    each `FrameFormat` asked for, in the order of `times`. Borders are found per
    chunk of `BORDER_CHUNK` samples, counted from the first, so the frames come out
    the same whatever the batch size. A caller can run a model on each batch and a long
    video never has all its sampled frames in memory at once. A frame is the one
    on screen at each time; times past the last decoded frame repeat it, since
    containers often overstate their length by a frame or two. After iterating,
    `last_frame_s` is the time of the last frame decoded: well before the last
    time asked for means the file ends early (truncated or damaged).
    """

    def __init__(self, video: str | os.PathLike | VideoInfo, times: np.ndarray, formats: Sequence[FrameFormat],
                 batch_size: int = 32, on_frame: Callable[[float], None] | None = None):
        self.video, self.times, self.formats = video, times, formats
        self.batch_size, self.on_frame = batch_size, on_frame
        self.last_frame_s = 0.0

    def __iter__(self) -> Iterator[dict[FrameFormat, np.ndarray]]:
        pending: dict[FrameFormat, list[np.ndarray]] = {f: [] for f in self.formats}
        for chunk in self._chunks():
            for frame_format, frames in self._formatted(chunk).items():
                pending[frame_format].extend(frames)
            while len(pending[self.formats[0]]) >= self.batch_size:
                yield {f: np.stack(frames[: self.batch_size]) for f, frames in pending.items()}
                pending = {f: frames[self.batch_size :] for f, frames in pending.items()}
        if pending[self.formats[0]]:
            yield {f: np.stack(frames) for f, frames in pending.items()}

    def _chunks(self) -> Iterator[list[np.ndarray]]:
        chunk: list[np.ndarray] = []
        for frame in self._frames_at_times():
            chunk.append(frame)
            if len(chunk) == BORDER_CHUNK:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    def _formatted(self, chunk: list[np.ndarray]) -> dict[FrameFormat, list[np.ndarray]]:
        box = content_box(chunk) if any(f.crop_borders for f in self.formats) else None
        return {f: [to_square_rgb(frame[box] if f.crop_borders else frame, f.size, f.aspect_range, f.padding)
                    for frame in chunk]
                for f in self.formats}

    def _frames_at_times(self) -> Iterator[np.ndarray]:
        """The frame on screen at each time: the last one that starts at or before it.

        Only frames a time may fall on are turned into pixels, judged from the gap
        between the last two frames; a frame after a gap longer than
        `FRAME_GAP_SLACK` such gaps stands in with the last frame kept.
        """
        info = self.video if isinstance(self.video, VideoInfo) else probe(self.video)
        pending, shown, last_stamp, gap = 0, None, None, 1.0 / info.fps

        def wanted(stamp: float) -> bool:  # does a time fall between this frame and the next one expected?
            upcoming = np.searchsorted(self.times, stamp)
            return shown is None or (upcoming < len(self.times)
                                     and self.times[upcoming] < stamp + FRAME_GAP_SLACK * gap)

        for stamp, frame in iter_frames(info, wanted):
            self.last_frame_s = stamp
            if self.on_frame:
                self.on_frame(stamp)
            while pending < len(self.times) and self.times[pending] < stamp and shown is not None:
                yield shown
                pending += 1
            if pending == len(self.times):
                return
            if frame is not None:
                shown = frame
            if last_stamp is not None:
                gap = stamp - last_stamp
            last_stamp = stamp
        if shown is None:
            raise VideoError(f"{Path(info.path).name}: contains no decodable video frames")
        for _ in range(pending, len(self.times)):
            yield shown


def read_samples(video: str | os.PathLike | VideoInfo, times: np.ndarray,
                 formats: Sequence[FrameFormat]) -> dict[FrameFormat, np.ndarray]:
    """Decode once and return `{format: uint8 array (len(times), size, size, 3)}`: the frames shown at `times`.

    `times` may come in any order; the frames come back in the same order. `video` is a path, or
    the `VideoInfo` its probe gave (which says which decoder to use).
    """
    order = np.argsort(times, kind="stable")
    stream = SampleStream(video, np.asarray(times)[order], formats)
    frames = {f: np.empty((len(times), f.size, f.size, 3), np.uint8) for f in formats}
    filled = 0
    for batch in stream:
        count = len(batch[formats[0]])
        for frame_format, formatted in batch.items():
            frames[frame_format][order[filled : filled + count]] = formatted
        filled += count
    return frames


def h264_writer(path: Path, size: tuple[int, int], fps: float) -> Generator[None, np.ndarray | None, None]:
    """A started ffmpeg writer for browser-playable H.264: `send()` it RGB frames, then `close()` it."""
    writer = imageio_ffmpeg.write_frames(
        str(path), size, fps=fps, codec="libx264", pix_fmt_out="yuv420p", macro_block_size=2,
        output_params=["-preset", "veryfast", "-crf", "23", "-movflags", "+faststart"],
        ffmpeg_log_level="error",
    )
    writer.send(None)
    return writer
