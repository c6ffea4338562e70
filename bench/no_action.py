"""How often the models call a video of no action "known": stills, test patterns, noise, shuffled frames.

    python -m bench.no_action                          # the shipped models; 2 to 3 minutes on 2 cores
    python -m bench.no_action --weights weights/split_run
    python -m bench.no_action --footage DIR            # also every video in DIR, one row each

Real clips of other actions are not in ../shared, so this measures what can be made from what is:
a frame of a real clip frozen for 4 s (one clip per class), the frames of a real clip in random
order, a grey screen, a still test pattern, colour bars, white noise, a moving test pattern and a
Mandelbrot zoom. The clips are each class's first of g21-g25 (held out by the split runs; the
shipped models trained on them, which makes their frames look more familiar, not less).
`--footage DIR` adds real videos of anything but the 14 actions, which the user supplies
(`bench/other_footage.sh DIR` collects 30 from Debian's and PyPI's packages; docs/trust.md).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import imageio_ffmpeg
import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from bench.inputs import SHARED_UCF14, validation_clips
from recognition import Recognizer
from recognition.metadata import WEIGHTS_DIR, display_name
from recognition.video import VideoError, h264_writer, iter_frames

SIZE, FPS, SECONDS = (320, 240), 25.0, 4.0

_FORMAT = f"size={SIZE[0]}x{SIZE[1]}:rate={FPS:g}"
PATTERNS = {
    "grey screen": f"color=c=gray:{_FORMAT}",
    "still test pattern": f"testsrc={_FORMAT}:duration={SECONDS:g},select=eq(n\\,0),"
                          f"loop={int(SECONDS * FPS)}:1:0,setpts=N/{FPS:g}/TB",
    "colour bars": f"smptebars={_FORMAT}",
    "moving test pattern": f"testsrc={_FORMAT}",
    "Mandelbrot zoom": f"mandelbrot={_FORMAT}",
}
"""ffmpeg's generated sources (lavfi), each written for `SECONDS` (a source that loops needs its own end)."""


def generated(source: str, output: Path) -> Path:
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i", source,
                    "-t", str(SECONDS), "-frames:v", str(int(SECONDS * FPS)), "-pix_fmt", "yuv420p", str(output)],
                   check=True)
    return output


def written(frames: list[np.ndarray], output: Path) -> Path:
    """RGB frames at `SIZE` as an H.264 video at `FPS`."""
    writer = h264_writer(output, SIZE, fps=FPS)
    for frame in frames:
        writer.send(frame)
    writer.close()
    return output


def clip_frames(clip: Path) -> list[np.ndarray]:
    return [cv2.cvtColor(cv2.resize(frame, SIZE), cv2.COLOR_BGR2RGB) for _, frame in iter_frames(clip)]


def no_action_videos(folder: Path, rng: np.random.Generator) -> dict[str, list[Path]]:
    """Each kind of video of no action, by name: the paths of its videos."""
    frames_per_video = int(SECONDS * FPS)
    videos: dict[str, list[Path]] = {"a clip's middle frame, frozen": [], "a clip's frames shuffled": []}
    for clip in validation_clips():
        frames = clip_frames(clip)
        frozen = [frames[len(frames) // 2]] * frames_per_video
        shuffled = [frames[i] for i in rng.permutation(len(frames))]
        videos["a clip's middle frame, frozen"].append(written(frozen, folder / f"frozen_{clip.stem}.mp4"))
        videos["a clip's frames shuffled"].append(written(shuffled, folder / f"shuffled_{clip.stem}.mp4"))
    noise = rng.integers(0, 256, (frames_per_video, SIZE[1], SIZE[0], 3), np.uint8)
    videos["white noise"] = [written(list(noise), folder / "noise.mp4")]
    for name, source in PATTERNS.items():
        videos[name] = [generated(source, folder / f"{name.replace(' ', '_')}.mp4")]
    return videos


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.no_action", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", type=Path, default=WEIGHTS_DIR)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--footage", type=Path, help="a folder of real videos of none of the 14 actions")
    args = parser.parse_args(argv)
    if not SHARED_UCF14.is_dir():
        print(f"this benchmark needs the UCF clips in {SHARED_UCF14}", file=sys.stderr)
        return 2
    recognizer = Recognizer.load(args.weights)
    names = list(recognizer.models)
    print("| videos | " + " | ".join(f"{display_name(name)} called known" for name in names) + " |")
    print("|---|" + "---|" * len(names))
    with tempfile.TemporaryDirectory(prefix="action-lens-no-action-") as folder:
        for kind, videos in no_action_videos(Path(folder), np.random.default_rng(args.seed)).items():
            known = dict.fromkeys(names, 0)
            for video in videos:
                for name, result in recognizer.recognize(video).models.items():
                    known[name] += result.known
            print(f"| {kind} | " + " | ".join(f"{known[name]} of {len(videos)}" for name in names) + " |", flush=True)
    if args.footage is not None:
        print_footage(recognizer, sorted(p for p in args.footage.iterdir() if p.is_file()))
    return 0


def print_footage(recognizer: Recognizer, videos: list[Path]) -> None:
    """One row per video: each model's closest action, its calibrated confidence, and whether it is called known."""
    names = list(recognizer.models)
    print("\n| video | " + " | ".join(display_name(name) for name in names) + " |")
    print("|---|" + "---|" * len(names))
    known = dict.fromkeys(names, 0)
    for video in videos:
        try:
            results = recognizer.recognize(video).models
        except VideoError as error:
            print(f"| {video.name} | {error} |")
            continue
        for name, result in results.items():
            known[name] += result.known
        print(f"| {video.name} | " + " | ".join(
            f"{'known' if r.known else 'not known'} ({r.label} {r.confidence:.0%})" for r in results.values()) + " |",
            flush=True)
    print("| called known | " + " | ".join(f"{known[name]} of {len(videos)}" for name in names) + " |")


if __name__ == "__main__":
    sys.exit(main())
