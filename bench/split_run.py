"""Does a split run's calibration fit the model trained on every group? Both on clips both trained on.

    python -m bench.split_run            # weights/split_run against weights/; about two minutes on 2 cores

A model trained on every group takes its split run's temperature and "known" thresholds
(`calibrate --from`). They carry over if the two models' scores have the same scale. No
clip is new to both, so this compares them on g08-g20 clips that both trained on and that
neither keeps as a familiarity reference: raw confidence, familiarity, and the share each
model's thresholds call known. Held-out clips would score lower for both; the point is that
the two agree.
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
from recognition.calibration import clip_probabilities, tempered
from recognition.evaluation import first_per_class
from recognition.metadata import MODEL_NAMES, SPLIT_RUN_DIR, WEIGHTS_DIR, display_name
from recognition.training import dataset

REFERENCES_PER_CLASS = 20
"""As `calibrate --references-per-class` was run for the shipped models."""


def shared_training_clips(recognizers: dict[str, Recognizer], name: str, per_class: int) -> list[dataset.Clip]:
    """Up to `per_class` clips per class that every model trained on and none keeps as a reference."""
    clips = dataset.scan(SHARED_UCF14)
    specs = [recognizer.specs[name] for recognizer in recognizers.values()]
    trained = [set(dataset.trained_on(clips, spec)) for spec in specs]
    references = {c for spec in specs for c in first_per_class(dataset.trained_on(clips, spec), REFERENCES_PER_CLASS)}
    return first_per_class([c for c in clips if all(c in seen for seen in trained) and c not in references], per_class)


def compare(name: str, recognizers: dict[str, Recognizer], per_class: int) -> None:
    """Print each model's raw confidence, familiarity and known-rate on clips all of them trained on."""
    clips = shared_training_clips(recognizers, name, per_class)
    print(f"{display_name(name)}: {len(clips)} clips of groups {sorted({c.group for c in clips})}")
    for words, recognizer in recognizers.items():
        spec = recognizer.specs[name]
        calibration = spec.calibration
        raw, familiarity = [], []
        for clip in clips:
            windows = recognizer.recognize(clip.path).models[name].timeline
            raw.append(tempered(np.array([w.probabilities for w in windows]), 1.0 / calibration.temperature))
            familiarity.append(np.mean([w.familiarity for w in windows]))
        confidence = clip_probabilities(raw, 1.0).max(axis=1)
        shown = clip_probabilities(raw, calibration.temperature).max(axis=1)
        familiarity = np.array(familiarity)
        known = np.mean([calibration.is_known(c, f) for c, f in zip(shown, familiarity)])
        print(f"{words}: raw confidence {confidence.mean():.3f}, familiarity mean {familiarity.mean():.3f} "
              f"(5th percentile {np.quantile(familiarity, 0.05):.3f}), called known {known:.0%} "
              f"(temperature {calibration.temperature}, thresholds {calibration.known_threshold} and "
              f"{calibration.familiarity_threshold})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.split_run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("split_run", type=Path, nargs="?", default=SPLIT_RUN_DIR,
                        help=f"the weights folder of the split runs (default: {SPLIT_RUN_DIR})")
    parser.add_argument("--models", nargs="+", choices=MODEL_NAMES, default=list(MODEL_NAMES))
    parser.add_argument("--per-class", type=int, default=8)
    args = parser.parse_args(argv)
    if not SHARED_UCF14.is_dir():
        print(f"this benchmark needs the UCF clips in {SHARED_UCF14}", file=sys.stderr)
        return 2
    for name in args.models:
        compare(name, {"split run": Recognizer.load(args.split_run, (name,)),
                       "shipped": Recognizer.load(WEIGHTS_DIR, (name,))}, args.per_class)
    return 0


if __name__ == "__main__":
    sys.exit(main())
