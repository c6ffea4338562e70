"""Decoding speed: OpenCV against the bundled ffmpeg, on what the models need from a video.

    python -m bench.decoders            # 20-s videos at 320x240 and 1280x720, median of 3

Three ways to get the frames a model samples (16 frames per 3.2 s, 224 px squares):
OpenCV decoding every frame and picking by timestamp (the default); the bundled
ffmpeg doing the same through a pipe (what AV1 gets); and ffmpeg picking the
frames itself (`fps` filter) and shrinking them (`scale`, area averaging), which
sends far fewer bytes through the pipe but rounds times to the nearest frame
and can't cut black borders first. The last column says how far its frames are
from the default's (mean absolute difference, 0-255).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import imageio_ffmpeg
import numpy as np

from bench.inputs import assemble, validation_clips
from recognition.metadata import SamplingSpec
from recognition.sampling import plan_samples
from recognition.video import FrameFormat, VideoInfo, probe, read_samples

SIZES = ((320, 240), (1280, 720))
FORMAT = FrameFormat(224)


def _timed(run, runs: int) -> tuple[float, object]:
    seconds, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = run()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), result


def ffmpeg_picks_and_scales(info: VideoInfo, rate: float, size: int) -> np.ndarray:
    """ffmpeg keeps `rate` frames a second and shrinks them to `size` squares; the pipe carries only those."""
    command = [imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-loglevel", "error", "-i", info.path, "-map", "0:V:0",
               "-vf", f"fps={rate}:start_time=0,scale={size}:{size}:flags=area", "-f", "rawvideo",
               "-pix_fmt", "rgb24", "-"]
    data = subprocess.run(command, capture_output=True, check=True).stdout
    return np.frombuffer(data, np.uint8).reshape(-1, size, size, 3)


def measure(video: Path, runs: int) -> dict[str, float]:
    info = probe(video)
    spec = SamplingSpec()
    times = plan_samples(info.duration_s, spec).times
    opencv_s, expected = _timed(lambda: read_samples(info, times, [FORMAT])[FORMAT], runs)
    piped_s, piped = _timed(lambda: read_samples(dataclasses.replace(info, decoder="ffmpeg"), times,
                                                 [FORMAT])[FORMAT], runs)
    picked_s, picked = _timed(lambda: ffmpeg_picks_and_scales(info, spec.frames_per_second, FORMAT.size), runs)
    common = min(len(picked), len(expected))
    return {
        "video": f"{info.width}x{info.height}, {info.duration_s:.0f} s",
        "opencv_s": round(opencv_s, 3),
        "ffmpeg_pipe_s": round(piped_s, 3),
        "ffmpeg_pipe_same_frames": bool(np.array_equal(piped, expected)),
        "ffmpeg_fps_scale_s": round(picked_s, 3),
        "ffmpeg_fps_scale_frames": f"{len(picked)} for {len(expected)}",
        "ffmpeg_fps_scale_mean_abs_diff": round(float(np.abs(picked[:common].astype(int)
                                                             - expected[:common]).mean()), 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    clips = validation_clips()
    with tempfile.TemporaryDirectory(prefix="bench-decoders-") as folder:
        for width, height in SIZES:
            video = assemble(clips, args.seconds, Path(folder) / f"{width}x{height}.mp4", (width, height))
            print(json.dumps(measure(video, args.runs)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
