"""The benchmark's videos: a real clip from ../shared, and a longer video assembled from several."""

from __future__ import annotations

import subprocess
from pathlib import Path

import cv2
import imageio_ffmpeg

from recognition.video import h264_writer, iter_frames, probe

SHARED_UCF14 = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "ucf14"
CLASSES = ("PullUps", "Diving", "JumpingJack", "Surfing", "BodyWeightSquats", "TrampolineJumping",
           "Lunges", "Swing", "PushUps", "SkyDiving", "HandstandWalking", "JumpRope", "WallPushups",
           "HandstandPushups")


def validation_clips(data: Path = SHARED_UCF14) -> list[Path]:
    """The first g21-g25 clip of each class (groups the split runs hold out)."""
    return [sorted((data / label).glob("*_g2[1-5]_*.mp4"))[0] for label in CLASSES if (data / label).is_dir()]


def assemble(clips: list[Path], seconds: float, output: Path, size: tuple[int, int] = (320, 240)) -> Path:
    """Concatenate `clips` (repeating the list) into one H.264 video of about `seconds`, at 25 fps."""
    writer = h264_writer(output, size, fps=25.0)
    written, index = 0, 0
    while written < seconds * 25:
        clip = clips[index % len(clips)]
        index += 1
        for _, frame in iter_frames(clip):
            writer.send(cv2.cvtColor(cv2.resize(frame, size), cv2.COLOR_BGR2RGB))
            written += 1
    writer.close()
    return output


def join_actions(clips: list[Path], output: Path, size: tuple[int, int] = (320, 240),
                 fps: float = 25.0) -> list[tuple[float, float, str]]:
    """Concatenate `clips` once, in order, into one H.264 video; returns each clip's (start s, end s, class).

    Each clip keeps its real speed: its frames are repeated or dropped onto the output's `fps`.
    The class is the clip's folder name, as in a UCF-style `<Class>/*.mp4` folder.
    """
    writer = h264_writer(output, size, fps=fps)
    actions, written = [], 0
    for clip in clips:
        start, first, shown, frame_s = written, None, None, 1.0 / probe(clip).fps
        for stamp, frame in iter_frames(clip):
            first = stamp if first is None else first
            while shown is not None and (written - start) / fps < stamp - first:
                writer.send(shown)
                written += 1
            shown, last = cv2.cvtColor(cv2.resize(frame, size), cv2.COLOR_BGR2RGB), stamp - first
        while (written - start) / fps < last + frame_s - 1e-6:
            writer.send(shown)
            written += 1
        actions.append((start / fps, written / fps, clip.parent.name))
    writer.close()
    return actions


def test_pattern(seconds: float, output: Path, size: str = "1280x720") -> Path:
    """ffmpeg's moving test pattern: a long high-resolution video for the memory check."""
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi",
                    "-i", f"testsrc2=size={size}:rate=25", "-t", str(seconds), "-c:v", "libx264",
                    "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(output)], check=True)
    assert probe(output).duration_s > 0
    return output


def trimmed(video: Path, seconds: float, output: Path) -> Path:
    """The first `seconds` of `video`, re-encoded as H.264."""
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-loglevel", "error", "-y", "-i", str(video),
                    "-t", str(seconds), "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
                    str(output)], check=True)
    return output
