"""How well the segments tell a long video's story: clips of several actions joined into one video.

    python -m bench.segments                  # 12 videos of 8 clips each, 4 to 5 minutes on 2 cores
    python -m bench.segments --videos 16 --weights weights/split_run    # models that never saw the clips

Each video joins one random clip of groups g21-g25 (held out by the split runs; the
models that ship trained on every group, so their figures here flatter them) of each of 8
random classes. An action counts as found when the segment at its middle carries its
label; the table gives, per model, the actions found in each video and the
number of segments. Clip lengths vary (some are shorter than one window), so
the figures vary from video to video: read the totals.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from bench.inputs import CLASSES, SHARED_UCF14, join_actions
from recognition import Recognizer
from recognition.metadata import WEIGHTS_DIR
from recognition.results import ModelResult


def actions_found(result: ModelResult, actions: list[tuple[float, float, str]]) -> int:
    """How many of `actions` (start s, end s, class) have a segment of their class at their middle."""
    return sum(result.segment_at((start + end) / 2).label == label for start, end, label in actions)


def random_clips(rng: random.Random, classes: int) -> list[Path]:
    chosen = rng.sample(CLASSES, classes)
    return [rng.choice(sorted((SHARED_UCF14 / label).glob("*_g2[1-5]_*.mp4"))) for label in chosen]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.segments", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=int, default=12)
    parser.add_argument("--classes", type=int, default=8, help="clips (one per class) per video")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--weights", type=Path, default=WEIGHTS_DIR)
    args = parser.parse_args(argv)
    if not SHARED_UCF14.is_dir():
        print(f"this benchmark needs the UCF clips in {SHARED_UCF14}", file=sys.stderr)
        return 2
    recognizer = Recognizer.load(args.weights)
    rng = random.Random(args.seed)
    totals = {name: [] for name in recognizer.models}
    print(f"{'video':>5} {'length':>7}  " + "  ".join(f"{name:>16}" for name in totals) + "   (found, segments)")
    with tempfile.TemporaryDirectory(prefix="action-lens-segments-") as folder:
        for number in range(args.videos):
            video = Path(folder) / f"joined_{number}.mp4"
            actions = join_actions(random_clips(rng, args.classes), video)
            recognition = recognizer.recognize(video)
            cells = []
            for name, result in recognition.models.items():
                found = actions_found(result, actions)
                totals[name].append((found, len(result.segments)))
                cells.append(f"{found:>2}/{len(actions)}, {len(result.segments):>2} seg")
            print(f"{number:>5} {recognition.duration_s:>6.1f}s  " + "  ".join(f"{c:>16}" for c in cells), flush=True)
            video.unlink()
    for name, rows in totals.items():
        found = [row[0] for row in rows]
        at_least = ", ".join(f"at least {n} in {sum(f >= n for f in found)}" for n in (args.classes - 2,
                                                                                     args.classes - 3))
        print(f"{name}: {sum(found)}/{args.classes * len(rows)} actions found; per video min {min(found)}, "
              f"mean {sum(found) / len(rows):.1f}, {at_least} of {len(rows)} videos; "
              f"segments per video max {max(row[1] for row in rows)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
