"""Annotated videos: each frame shows the label of the segment it lies in, and the window's top 3.

Written as H.264 (libx264, yuv420p, +faststart) through the ffmpeg binary that
imageio-ffmpeg ships: browsers play it, and OpenCV's wheels can't write it.
One ffmpeg decodes the video once for every model's output video, and encodes them side by side.
"""

from __future__ import annotations

import bisect
import concurrent.futures
import contextlib
import dataclasses
import os
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

import cv2
import imageio_ffmpeg
import numpy as np

from recognition.metadata import display_name
from recognition.results import ModelResult
from recognition.video import VideoInfo, probe

MAX_OUTPUT_SIZE = (640, 360)
"""Long and short side of the annotated videos at most, either way round: the page shows each at about 640 px,
and encoding costs by the pixel (two 854x480 videos took half the time of a 720p request)."""
MAX_OUTPUT_FPS = 15.0
"""Frames per second of the annotated videos at most: the overlay changes once a second, and half the frames
of a 30-fps video is half the encoding."""
X264_PRESET, X264_CRF = "ultrafast", 23
_FONT = cv2.FONT_HERSHEY_SIMPLEX
_WHITE, _ACCENT, _TRACK = (255, 255, 255), (60, 190, 250), (90, 90, 90)


def output_size(width: int, height: int, max_size: tuple[int, int] = MAX_OUTPUT_SIZE) -> tuple[int, int]:
    """Even dimensions within `max_size` (long side, short side), keeping the aspect ratio (yuv420p needs even)."""
    long_side, short_side = max_size
    box_width, box_height = (long_side, short_side) if width >= height else (short_side, long_side)
    scale = min(1.0, box_width / width, box_height / height)
    return max(2, int(width * scale) // 2 * 2), max(2, int(height * scale) // 2 * 2)


def draw_overlay(frame: np.ndarray, model: str, headline: str, top3: list[tuple[str, float]]) -> tuple[int, int]:
    """Draw the model name, the `headline` (the segment's label) and a small top-3 bar chart, in place.

    Returns the height and width of the box drawn in, at the top left.

    Sizes follow the frame's width, so the overlay reads the same in the page
    whatever the video's resolution (the app shows every video at about the same width).
    """
    height, width = frame.shape[:2]
    scale = max(0.3, width / 640)
    pad, thick = max(3, round(8 * scale)), max(1, round(1.6 * scale))
    lines = [(display_name(model), 0.6 * scale, _ACCENT), (headline, 0.9 * scale, _WHITE)]
    bars = [(f"{name} {probability:.0%}", probability) for name, probability in top3]
    bar_font = 0.65 * scale
    line_sizes = [cv2.getTextSize(text, _FONT, font, thick)[0] for text, font, _ in lines]
    bar_text_w, bar_text_h = map(max, zip(*(cv2.getTextSize(text, _FONT, bar_font, thick)[0] for text, _ in bars)))
    bar_h = bar_text_h + pad
    box_w = min(width, max(max(w for w, _ in line_sizes), bar_text_w + pad) + 2 * pad)
    box_h = min(height, sum(h + pad for _, h in line_sizes) + len(bars) * (bar_h + pad // 2) + pad)
    region = frame[:box_h, :box_w]
    region[:] = (region * 0.35).astype(np.uint8)

    y = pad
    for (text, font, colour), (_, text_h) in zip(lines, line_sizes):
        y += text_h
        cv2.putText(frame, text, (pad, y), _FONT, font, colour, thick, cv2.LINE_AA)
        y += pad
    for text, probability in bars:
        right = box_w - pad
        cv2.rectangle(frame, (pad, y), (right, y + bar_h), _TRACK, -1)
        cv2.rectangle(frame, (pad, y), (pad + int((right - pad) * probability), y + bar_h), _ACCENT, -1)
        cv2.putText(frame, text, (pad + pad // 2, y + (bar_h + bar_text_h) // 2), _FONT, bar_font, _WHITE, thick,
                    cv2.LINE_AA)
        y += bar_h + pad // 2
    return box_h, box_w


def _top3_per_window(result: ModelResult) -> list[list[tuple[str, float]]]:
    table = []
    for window in result.timeline:
        ranked = np.argsort(window.probabilities)[::-1][:3]
        table.append([(result.classes[i], window.probabilities[i]) for i in ranked])
    return table


def headline(result: ModelResult, time_s: float) -> str:
    """What the video says at `time_s`: the label of the segment there, or that it is none the model knows."""
    segment = result.segment_at(time_s)
    return f"{segment.label} {segment.confidence:.0%}" if segment.known else "Not a known action"


def overlay_image(size: tuple[int, int], model: str, headline: str, top3: list[tuple[str, float]]) -> np.ndarray:
    """`draw_overlay` as an RGBA image of its box, for ffmpeg to lay over the frames.

    Drawn once on black and once on white: a pixel the overlay leaves at a share
    `1 - alpha` of what lies below, plus its own colour, comes out differently on the
    two, which gives its alpha and colour exactly (darkening, anti-aliased text and all).
    """
    width, height = size
    on_black, on_white = np.zeros((height, width, 3), np.uint8), np.full((height, width, 3), 255, np.uint8)
    box_h, box_w = draw_overlay(on_black, model, headline, top3)
    draw_overlay(on_white, model, headline, top3)
    box = (slice(0, box_h), slice(0, box_w))
    black, white = on_black[box].astype(np.float32), on_white[box].astype(np.float32)
    alpha = np.clip(1.0 - (white - black).mean(axis=-1, keepdims=True) / 255.0, 0.0, 1.0)
    colour = np.clip(black / np.maximum(alpha, 1e-6), 0, 255)
    return np.concatenate([colour, alpha * 255], axis=-1).round().astype(np.uint8)


def _overlay_spans(result: ModelResult) -> list[tuple[float, str, list[tuple[str, float]]]]:
    """(from when, headline, top-3) for each stretch of video that shows one overlay.

    The top-3 is the window's, from halfway after the previous window's centre to halfway
    before the next one's; the headline is the segment's, so the overlay also changes where
    a segment starts.
    """
    centres = [(w.start_s + w.end_s) / 2 for w in result.timeline]
    window_starts = [0.0] + [(before + after) / 2 for before, after in zip(centres, centres[1:])]
    top3 = _top3_per_window(result)
    starts = sorted({*window_starts, *(segment.start_s for segment in result.segments)})
    return [(start, headline(result, start), top3[bisect.bisect_right(window_starts, start) - 1]) for start in starts]


def _overlay_track(folder: Path, size: tuple[int, int], model: str, result: ModelResult) -> Path:
    """The model's overlays as an ffconcat playlist of PNG images, each shown for its span of the video.

    The images are padded (transparent) to one size: ffmpeg rebuilds its filters when a
    stream changes size, and loses the overlays it had so far.
    """
    spans = _overlay_spans(result)
    images = [overlay_image(size, model, words, top3) for _, words, top3 in spans]
    height, width = max(i.shape[0] for i in images), max(i.shape[1] for i in images)
    lines = ["ffconcat version 1.0"]
    for number, ((start, _, _), image) in enumerate(zip(spans, images)):
        padded = np.zeros((height, width, 4), np.uint8)
        padded[: image.shape[0], : image.shape[1]] = image
        name = f"{model}_{number:05d}.png"
        cv2.imwrite(str(folder / name), cv2.cvtColor(padded, cv2.COLOR_RGBA2BGRA), [cv2.IMWRITE_PNG_COMPRESSION, 1])
        lines.append(f"file '{name}'")
        if number + 1 < len(spans):
            lines.append(f"duration {spans[number + 1][0] - start:.6f}")
    track = folder / f"{model}.ffconcat"
    track.write_text("\n".join(lines) + "\n")
    return track


class AnnotatedVideos(contextlib.ExitStack):
    """One annotated video per model, `<output_dir>/<stem>_<model>.mp4`.

    `write()` runs one ffmpeg that decodes the video once, scales it and lays
    each model's overlay images over it, and encodes every model's video side
    by side: no frame passes through Python, and the overlay, which changes
    once per window, is drawn once per window rather than once per frame.
    """

    def __init__(self, video: str | os.PathLike, names: list[str], output_dir: Path, info: VideoInfo | None = None):
        super().__init__()
        self.video, self.info = video, info or probe(video)
        output_dir.mkdir(parents=True, exist_ok=True)
        self.size = output_size(self.info.width, self.info.height)
        self.paths = {name: output_dir / f"{Path(video).stem}_{name}.mp4" for name in names}

    def __enter__(self) -> "AnnotatedVideos":
        super().__enter__()
        self.folder = Path(self.enter_context(tempfile.TemporaryDirectory(prefix="action-lens-overlays-")))
        return self

    def _command(self, tracks: dict[str, Path]) -> list[str]:
        width, height = self.size
        names = list(tracks)
        # Deblocking is invisible once the picture is shrunk to half or less, and is a fifth of decoding it.
        shrunk = min(self.info.width, self.info.height) >= 2 * min(width, height)
        inputs = [*(["-skip_loop_filter", "all"] if shrunk else []), "-i", str(self.video)]
        for track in tracks.values():
            inputs += ["-f", "concat", "-safe", "0", "-i", str(track)]
        rate = f"fps={MAX_OUTPUT_FPS:g}," if self.info.fps > MAX_OUTPUT_FPS else ""
        graph = [f"[0:v]{rate}scale={width}:{height}:flags=area:out_range=tv,format=yuv420p,setsar=1,"
                 f"split={len(names)}"
                 + "".join(f"[base{i}]" for i in range(len(names)))]
        graph += [f"[{i + 1}:v]format=yuva420p[overlay{i}];"  # blending in the video's own format: no conversion
                  f"[base{i}][overlay{i}]overlay=eof_action=repeat:format=yuv420[out{i}]" for i in range(len(names))]
        outputs = []
        for number, name in enumerate(names):
            outputs += ["-map", f"[out{number}]", "-c:v", "libx264", "-preset", X264_PRESET, "-crf", str(X264_CRF),
                        "-pix_fmt", "yuv420p", "-movflags", "+faststart", str(self.paths[name])]
        return [imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-loglevel", "error", "-y", "-nostats",
                "-progress", "pipe:1", "-stats_period", "0.25", *inputs,
                "-filter_complex", ";".join(graph), *outputs]

    def write(self, results: dict[str, ModelResult],
              on_frame: Callable[[float], None] | None = None) -> dict[str, ModelResult]:
        """Draw every model's labels on the video; returns results that name the files.

        `on_frame` is called with the time reached in the video as ffmpeg goes
        (progress, time limits); if it raises, ffmpeg is stopped and the error goes on.
        """
        with concurrent.futures.ThreadPoolExecutor(max(1, len(results))) as pool:  # OpenCV draws without the GIL
            drawing = {name: pool.submit(_overlay_track, self.folder, self.size, name, result)
                       for name, result in results.items()}
            tracks = {name: track.result() for name, track in drawing.items()}
        with (self.folder / "ffmpeg.log").open("w+") as log:
            encoder = subprocess.Popen(self._command(tracks), stdout=subprocess.PIPE, stderr=log, text=True)
            try:
                for line in encoder.stdout:
                    key, _, value = line.strip().partition("=")
                    if key == "out_time_us" and value.isdigit() and on_frame:
                        on_frame(int(value) / 1e6)
                if encoder.wait():
                    log.seek(0)
                    raise RuntimeError(f"ffmpeg could not write the annotated videos: {log.read()[-500:]}")
            finally:
                if encoder.poll() is None:
                    encoder.kill()
                encoder.wait()
                encoder.stdout.close()
        return {name: dataclasses.replace(r, annotated_video=self.paths[name]) for name, r in results.items()}
