"""How far the served models (LiteRT, int8 heads) are from the float ones, on the clips of g21-g25.

    python -m bench.fidelity                              # the 213 clips of g21-g25, about 5 minutes on 2 cores
    python -m bench.fidelity --weights weights/split_run  # the split runs, which never trained on them
    python -m bench.fidelity --per-class 3                # a spread-out subset

The clips are those a model never trained on; for a model trained on every group, those its
split run held out and its calibration was fitted on (g21-g25), which it trained on, so its
top-1 there says nothing about new groups.

The float LiteRT copies give the Keras models' answers within 1e-4 (tests/test_litert.py),
so they stand in for Keras here at a third of the time. Per model: how many video labels
and "known" decisions change, the largest change of a video's and of a window's
probability, and top-1 both ways.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from bench.inputs import SHARED_UCF14
from recognition import Recognizer
from recognition.evaluation import first_per_class
from recognition.litert import LiteRTModel
from recognition.metadata import WEIGHTS_DIR, ModelSpec
from recognition.training import dataset


def _windows(result) -> np.ndarray:
    return np.array([w.probabilities for w in result.timeline])


def compared(clips: list[dataset.Clip], spec: ModelSpec) -> list[dataset.Clip]:
    if spec.trained_on_every_group:
        groups = spec.calibration.fitted_on.get("groups", ()) if spec.calibration else ()
        return [clip for clip in clips if clip.group in groups]
    return dataset.held_out(clips, spec)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fidelity", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-class", type=int, help="only this many clips per class")
    parser.add_argument("--weights", type=Path, default=WEIGHTS_DIR)
    args = parser.parse_args(argv)
    if not SHARED_UCF14.is_dir():
        print(f"this benchmark needs the UCF clips in {SHARED_UCF14}", file=sys.stderr)
        return 2
    served = Recognizer.load(args.weights, engine="litert")
    float_copies = {name: LiteRTModel.load(args.weights / f"{name}.keras", quantized=False) for name in served.models}
    reference = Recognizer(float_copies, True, served.familiarities, served.pose)
    scanned = dataset.scan(SHARED_UCF14)
    clips = sorted({clip for spec in served.specs.values() for clip in compared(scanned, spec)},
                   key=lambda clip: str(clip.path))
    if args.per_class:
        clips = first_per_class(clips, args.per_class)
    rows: dict[str, list[tuple]] = {name: [] for name in served.models}
    for clip in clips:
        ours, theirs = served.recognize(clip.path), reference.recognize(clip.path)
        for name in served.models:
            a, b = ours.models[name], theirs.models[name]
            rows[name].append((a.label != b.label, a.known != b.known,
                               np.abs(a.probabilities - b.probabilities).max(),
                               np.abs(_windows(a) - _windows(b)).max(), a.label == clip.label, b.label == clip.label))
    for name, measured in rows.items():
        labels, known, video, window, right, right_float = np.array(measured, float).T
        print(f"{name}: {len(measured)} clips; labels changed {int(labels.sum())}, known changed {int(known.sum())}; "
              f"largest change of a video's probability {video.max():.3f}, of a window's {window.max():.3f}; "
              f"top-1 served {right.mean():.1%}, float {right_float.mean():.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
