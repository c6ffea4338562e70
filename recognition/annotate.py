"""Annotated videos: each frame shows the label of the window covering it.

Written as H.264 (libx264, yuv420p, +faststart) through the ffmpeg binary that
imageio-ffmpeg ships: browsers play it, and OpenCV's wheels can't write it.
One decoding pass feeds every model's output video, and the encoders run side by side.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import os
import queue
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from recognition.results import ModelResult
from recognition.sampling import Window, window_for_time
from recognition.video import VideoInfo, h264_writer, iter_frames, probe

MAX_OUTPUT_SIZE = (854, 480)
_FONT = cv2.FONT_HERSHEY_SIMPLEX
_WHITE, _ACCENT, _TRACK = (255, 255, 255), (60, 190, 250), (90, 90, 90)


def output_size(width: int, height: int, max_size: tuple[int, int] = MAX_OUTPUT_SIZE) -> tuple[int, int]:
    """Even dimensions within `max_size` (width, height), keeping the aspect ratio (yuv420p needs even)."""
    scale = min(1.0, max_size[0] / width, max_size[1] / height)
    return max(2, int(width * scale) // 2 * 2), max(2, int(height * scale) // 2 * 2)


def draw_overlay(frame: np.ndarray, model: str, top3: list[tuple[str, float]]) -> None:
    """Draw the model name, top label with confidence, and a small top-3 bar chart, in place.

    Sizes follow the frame's width, so the overlay reads the same in the page
    whatever the video's resolution (the app shows every video at about the same width).
    """
    height, width = frame.shape[:2]
    scale = max(0.3, width / 640)
    pad, thick = max(3, round(8 * scale)), max(1, round(1.6 * scale))
    label, confidence = top3[0]
    lines = [(model.upper(), 0.6 * scale, _ACCENT), (f"{label} {confidence:.0%}", 0.9 * scale, _WHITE)]
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


def _top3_per_window(result: ModelResult) -> list[list[tuple[str, float]]]:
    table = []
    for window in result.timeline:
        ranked = np.argsort(window.probabilities)[::-1][:3]
        table.append([(result.classes[i], window.probabilities[i]) for i in ranked])
    return table


class _VideoWriter:
    """One model's annotated video, encoded by its own ffmpeg and fed from its own thread.

    ffmpeg starts at construction; frames flow once `start()` gives the model's
    result. Feeding each ffmpeg from its own thread lets both encoders work at once
    (writes to a pipe release the GIL), instead of taking turns.
    """

    def __init__(self, path: Path, size: tuple[int, int], fps: float):
        self.path = path
        self.encoder = h264_writer(path, size, fps)
        self.frames: queue.Queue = queue.Queue(maxsize=32)
        self.done: concurrent.futures.Future | None = None

    def start(self, model: str, result: ModelResult) -> None:
        windows = tuple(Window(0, w.start_s, w.end_s) for w in result.timeline)
        self.done = _FEEDERS.submit(self._feed, model, windows, _top3_per_window(result))

    def _feed(self, model: str, windows: tuple[Window, ...], top3: list[list[tuple[str, float]]]) -> None:
        while (item := self.frames.get()) is not None:
            stamp, base = item
            canvas = base.copy()
            draw_overlay(canvas, model, top3[window_for_time(windows, stamp)])
            self.encoder.send(canvas)

    def put(self, item: tuple[float, np.ndarray] | None) -> None:
        """Queue a frame (None ends the video); re-raises the feeder's error if it stopped."""
        while True:
            if self.done.done():
                self.done.result()
                return
            try:
                self.frames.put(item, timeout=0.5)
                return
            except queue.Full:
                continue

    def __enter__(self) -> "_VideoWriter":
        return self

    def __exit__(self, *exc_info) -> None:
        """End the video: the feeder finishes the queued frames, then ffmpeg finishes the file.

        A video that never started (the models failed first) is removed rather than left empty.
        """
        try:
            if self.done is not None:
                self.put(None)
                self.done.result()
        finally:
            self.encoder.close()
            if self.done is None:
                self.path.unlink(missing_ok=True)


_FEEDERS = concurrent.futures.ThreadPoolExecutor(thread_name_prefix="annotate")


class AnnotatedVideos(contextlib.ExitStack):
    """One annotated video per model, `<output_dir>/<stem>_<model>.mp4`.

    The ffmpeg encoders start on entry, so a caller can open this before the models
    run and their start-up overlaps the models' work; `write()` then draws and encodes.
    """

    def __init__(self, video: str | os.PathLike, names: list[str], output_dir: Path, info: VideoInfo | None = None):
        super().__init__()
        self.video, self.info = video, info or probe(video)
        output_dir.mkdir(parents=True, exist_ok=True)
        self.size = output_size(self.info.width, self.info.height)
        self.paths = {name: output_dir / f"{Path(video).stem}_{name}.mp4" for name in names}

    def __enter__(self) -> "AnnotatedVideos":
        super().__enter__()
        self.writers = {name: self.enter_context(_VideoWriter(self.paths[name], self.size, self.info.fps))
                        for name in self.paths}
        return self

    def write(self, results: dict[str, ModelResult],
              on_frame: Callable[[float], None] | None = None) -> dict[str, ModelResult]:
        """Draw every model's labels on the video in one decoding pass; returns results that name the files.

        `on_frame` is called with each frame's time (progress, time limits).
        """
        for name, result in results.items():
            self.writers[name].start(name, result)
        for stamp, frame in iter_frames(self.video):
            if on_frame:
                on_frame(stamp)
            base = cv2.cvtColor(cv2.resize(frame, self.size, interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)
            for name in results:
                self.writers[name].put((stamp, base))
        self.close()
        return {name: dataclasses.replace(r, annotated_video=self.paths[name]) for name, r in results.items()}

