"""Test helpers: synthetic clips, odd inputs, and the real UCF clips in ../shared when present."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2
import imageio_ffmpeg
import numpy as np
import pytest

from recognition.metadata import MODEL_NAMES
from recognition.metadata import WEIGHTS_DIR as WEIGHTS

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
UCF14 = SHARED / "data" / "ucf14"

needs_ucf14 = pytest.mark.skipif(
    not UCF14.is_dir(), reason="needs the real UCF clips in ../shared/data/ucf14 (not in a fresh clone)"
)

def missing_models(folder: Path) -> list[str]:
    """The shipped models' names that have no `.keras` file in `folder`."""
    return [name for name in MODEL_NAMES if not (folder / f"{name}.keras").exists()]


needs_weights = pytest.mark.skipif(
    bool(missing_models(WEIGHTS)),
    reason="needs both trained models in weights/ (python -m recognition train ...)",
)


def write_clip(path: Path, frames: int = 30, fps: float = 10.0, size: tuple[int, int] = (64, 48),
               fourcc: str = "MJPG") -> Path:
    """A small synthetic clip: a bright square moving left to right; frame i has gray level ~ i."""
    width, height = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (width, height))
    assert writer.isOpened(), f"OpenCV cannot write {fourcc}"
    for i in range(frames):
        frame = np.full((height, width, 3), (i * 8) % 256, np.uint8)
        x = int(i * (width - 8) / max(frames - 1, 1))
        frame[height // 2 - 4 : height // 2 + 4, x : x + 8] = 255
        writer.write(frame)
    writer.release()
    return path


def ffmpeg(*args: str) -> None:
    """Run the ffmpeg that imageio-ffmpeg ships (there is no system ffmpeg)."""
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-loglevel", "error", "-y", *args], check=True)


def pattern_clip(path: Path, size: str = "320x240", seconds: float = 4.0, *options: str) -> Path:
    """An H.264 mp4 of ffmpeg's moving test pattern, with extra output `options`."""
    ffmpeg("-f", "lavfi", "-i", f"testsrc=size={size}:rate=25", "-t", str(seconds), "-c:v", "libx264",
           "-preset", "ultrafast", "-pix_fmt", "yuv420p", *options, str(path))
    return path


def odd_inputs(folder: Path) -> dict[str, Path]:
    """Files a public page receives: broken ones, and odd ones that still decode. Named by what they are."""
    files = {"empty": folder / "empty.mp4", "text": folder / "text.mp4", "html": folder / "page.mp4"}
    files["empty"].write_bytes(b"")
    files["text"].write_text("just some notes, not a video\n" * 10)
    files["html"].write_text("<!doctype html><html><body><video src='x.mp4'></video></body></html>\n")
    whole = pattern_clip(folder / "whole.mp4")
    files["truncated"] = folder / "truncated.mp4"
    files["truncated"].write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    streamable = pattern_clip(folder / "streamable.mp4", "320x240", 4.0, "-movflags", "+faststart")
    files["truncated_streamable"] = folder / "truncated_streamable.mp4"
    files["truncated_streamable"].write_bytes(streamable.read_bytes()[: streamable.stat().st_size // 2])
    files["audio_m4a"], files["audio_wav"] = folder / "song.m4a", folder / "song.wav"
    for audio in (files["audio_m4a"], files["audio_wav"]):
        ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=2", str(audio))
    files["image_png"], files["image_jpg"] = folder / "photo.png", folder / "photo.jpg"
    for image in (files["image_png"], files["image_jpg"]):
        ffmpeg("-f", "lavfi", "-i", "testsrc=size=320x240", "-frames:v", "1", str(image))
    files["one_frame"] = pattern_clip(folder / "one_frame.mp4", "320x240", 0.04)
    files["short"] = pattern_clip(folder / "short.mp4", "320x240", 1.0)
    files["wide"] = pattern_clip(folder / "wide.mp4", "4000x100", 2.0)
    files["4k"] = pattern_clip(folder / "4k.mp4", "3840x2160", 1.0)
    files["rotated"] = folder / "rotated.mp4"
    ffmpeg("-display_rotation", "90", "-i", str(whole), "-c", "copy", str(files["rotated"]))
    files["variable_rate"] = pattern_clip(folder / "variable_rate.mp4", "320x240", 4.0,
                                          "-vf", "select='not(between(n,20,69))'", "-fps_mode", "vfr")
    return files


CONFIDENT_ACTION = "Surfing"  # its first validation clip is recognised by both models, confidently


def validation_clip(label: str) -> Path:
    """A real clip of `label` from the groups g21-g25 that the split runs hold out (weights/split_run)."""
    return sorted((UCF14 / label).glob("*_g2[1-5]_*.mp4"))[0]
