"""Evaluation and calibration on clips whose UCF groups a model never trained on.

Runs the real inference pipeline (decoding included), so the figures are those a
user gets: top-1, top-3, per-class accuracy, the calibration error of the
confidence shown, and the share of clips called one of the known actions, with a
confusion matrix and a reliability plot. With a `shift` (see `recognition.shifts`),
each clip is first copied the way web footage differs from UCF's.

`calibrate` fits each model's `Calibration` on the same clips, from the raw softmax,
and writes it into the model's metadata. A model trained on every group has no such
clips: it takes the calibration of a split run of the same recipe (`split_run`).
"""

from __future__ import annotations

import dataclasses
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from recognition.calibration import Calibration, tempered
from recognition.familiarity import Familiarity, familiarity_path
from recognition.metadata import MODEL_NAMES, WEIGHTS_DIR, ModelSpec, metadata_path
from recognition.metrics import accuracy_report, bootstrap_interval, expected_calibration_error, reliability, top1
from recognition.pipeline import Recognizer
from recognition.results import Recognition
from recognition.shifts import shifted_copy
from recognition.training import dataset
from recognition.training.config import TrainConfig
from recognition.video import VideoError


def first_per_class(clips: list[dataset.Clip], count: int) -> list[dataset.Clip]:
    """Up to `count` clips of each class, taken from each group in turn (a fixed, spread-out subset)."""
    by_class: dict[str, dict[int, list[dataset.Clip]]] = {}
    for clip in sorted(clips, key=lambda c: str(c.path)):
        by_class.setdefault(clip.label, {}).setdefault(clip.group, []).append(clip)
    picked = []
    for groups in by_class.values():
        queues = [list(group) for _, group in sorted(groups.items())]
        taken = 0
        while taken < count and any(queues):
            for queue in queues:
                if queue and taken < count:
                    picked.append(queue.pop(0))
                    taken += 1
    return picked


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, count: int) -> np.ndarray:
    matrix = np.zeros((count, count), int)
    np.add.at(matrix, (labels, predictions), 1)
    return matrix


def plot_confusion(matrix: np.ndarray, classes: tuple[str, ...], title: str, path: Path) -> None:
    figure, axes = plt.subplots(figsize=(8, 7))
    rates = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    axes.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    axes.set_xticks(range(len(classes)), classes, rotation=60, ha="right", fontsize=8)
    axes.set_yticks(range(len(classes)), classes, fontsize=8)
    for (row, column), value in np.ndenumerate(matrix):
        if value:
            axes.text(column, row, value, ha="center", va="center", fontsize=7,
                      color="white" if rates[row, column] > 0.5 else "black")
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title(title)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def plot_reliability(rows: list[dict], title: str, path: Path) -> None:
    """Accuracy against confidence per bin; the diagonal is a perfectly calibrated model."""
    figure, axes = plt.subplots(figsize=(5, 5))
    axes.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1)
    centres = [(r["low"] + r["high"]) / 2 for r in rows]
    axes.bar(centres, [r["accuracy"] for r in rows], width=0.09, color="#4C72B0", alpha=0.8, label="accuracy")
    axes.plot([r["confidence"] for r in rows], [r["accuracy"] for r in rows], "o", color="#DD8452",
              label="mean confidence")
    for centre, row in zip(centres, rows):
        axes.text(centre, 0.02, str(row["clips"]), ha="center", fontsize=7, color="white")
    axes.set(xlim=(0, 1), ylim=(0, 1), xlabel="confidence shown", ylabel="share right", title=title)
    axes.legend(loc="upper left", fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _recognize(recognizer: Recognizer, video: Path, shift: str | None) -> Recognition:
    """Recognise `video`, or a shifted copy of it made for the occasion and deleted after."""
    if shift is None:
        return recognizer.recognize(video)
    with tempfile.TemporaryDirectory(prefix="action-lens-shift-") as folder:
        return recognizer.recognize(shifted_copy(video, shift, Path(folder)))


@dataclasses.dataclass
class HeldOut:
    """One model's held-out clips that decoded, and per clip its windows' probabilities and familiarity, and the
    pose head's answers for the same windows (None without a pose head)."""

    clips: list[dataset.Clip]
    probabilities: list[np.ndarray]
    familiarity: list[np.ndarray | None]
    pose: list[np.ndarray] | None = None

    def labels(self, classes: tuple[str, ...]) -> np.ndarray:
        return np.array([classes.index(c.label) for c in self.clips])


def held_out_windows(recognizer: Recognizer, data_dir: Path, shift: str | None = None,
                     per_class: int | None = None) -> dict[str, HeldOut]:
    """Per model: its held-out clips that decoded, with what the model made of each one's windows."""
    clips = dataset.scan(data_dir)
    chosen = {name: dataset.held_out(clips, spec) for name, spec in recognizer.specs.items()}
    if per_class:
        chosen = {name: first_per_class(picked, per_class) for name, picked in chosen.items()}
    wanted = sorted({c for picked in chosen.values() for c in picked}, key=lambda c: str(c.path))
    windows: dict[str, dict[dataset.Clip, tuple]] = {name: {} for name in recognizer.models}
    for number, clip in enumerate(wanted, 1):
        try:
            recognition = _recognize(recognizer, clip.path, shift)
        except VideoError as error:
            print(f"  skipped {clip.path.name}: {error}", file=sys.stderr)
            continue
        for name, result in recognition.models.items():
            familiarity = [w.familiarity for w in result.timeline]
            windows[name][clip] = (np.array([w.probabilities for w in result.timeline]),
                                   None if None in familiarity else np.array(familiarity), recognition.pose)
        if number % 25 == 0 or number == len(wanted):
            print(f"  evaluated {number}/{len(wanted)} clips", file=sys.stderr, flush=True)
    held = {}
    for name in recognizer.models:
        decoded = [c for c in chosen[name] if c in windows[name]]
        pose = [windows[name][c][2] for c in decoded]
        held[name] = HeldOut(decoded, [windows[name][c][0] for c in decoded], [windows[name][c][1] for c in decoded],
                             None if any(p is None for p in pose) else pose)
    return held


def _nothing_held_out(spec: ModelSpec) -> str:
    if not spec.trained_on_every_group:
        return "no held-out clips of known classes in this folder"
    split_run = spec.calibration.fitted_on.get("split_run") if spec.calibration else None
    measure = f"evaluate --weights {Path(split_run['file']).parent}" if split_run else "docs/results.md"
    return f"trained on every group here, so none is held out to measure it on (its split run: {measure})"


def evaluate(recognizer: Recognizer, data_dir: Path, out_dir: Path | None = None, shift: str | None = None,
             per_class: int | None = None) -> dict[str, dict]:
    """Per-model report on held-out groups; confusion and reliability PNGs go to `out_dir`."""
    reports = {}
    for name, held in held_out_windows(recognizer, data_dir, shift, per_class).items():
        spec, picked, windows = recognizer.specs[name], held.clips, held.probabilities
        if not picked:
            reports[name] = {"clips": 0, "error": _nothing_held_out(spec)}
            continue
        labels = held.labels(spec.classes)
        probabilities = np.stack([w.mean(axis=0) for w in windows])
        matrix = confusion_matrix(labels, probabilities.argmax(axis=1), len(spec.classes))
        rows = reliability(probabilities, labels)
        calibration = spec.calibration if recognizer.calibrated else None
        scenes = np.array([c.group for c in picked]) * len(spec.classes) + labels  # a group's clips of a class
        report = {
            **accuracy_report(probabilities, labels, spec.classes),
            "top1_interval": bootstrap_interval(top1, probabilities, labels, scenes),
            "groups": sorted({c.group for c in picked}),
            "shift": shift,
            "ece": expected_calibration_error(probabilities, labels),
            "known": (float(np.mean([calibration.is_known(p.max(), None if f is None else f.mean())
                                     for p, f in zip(probabilities, held.familiarity)]))
                      if calibration else None),
            "reliability": rows,
            "confusion": matrix.tolist(),
        }
        if calibration is not None:  # what the raw softmax would have shown: undo the temperature
            raw = np.stack([tempered(w, 1.0 / calibration.temperature).mean(axis=0) for w in windows])
            report["ece_raw"] = expected_calibration_error(raw, labels)
        if out_dir is not None:
            out_dir.mkdir(parents=True, exist_ok=True)
            suffix, words = (f"_{shift}", f", {shift}") if shift else ("", "")
            report["confusion_png"] = str(out_dir / f"confusion_{name}{suffix}.png")
            plot_confusion(matrix, spec.classes, f"{name.upper()}: top-1 {report['top1']:.1%} on {len(picked)} "
                           f"held-out clips{words}", Path(report["confusion_png"]))
            report["reliability_png"] = str(out_dir / f"reliability_{name}{suffix}.png")
            plot_reliability(rows, f"{name.upper()}: calibration error {report['ece']:.3f}{words}",
                             Path(report["reliability_png"]))
        reports[name] = report
    return reports


RECIPE_SETTINGS_A_SPLIT_RUN_MAY_CHANGE = frozenset({"all_groups", "epochs", "motion_epochs", "patience",
                                                    "motion_patience"})
"""What may differ between a model trained on every group and the split run its calibration comes from:
the split run stops early on its held-out groups, the other runs the epochs it chose."""


def _as_recorded(path: Path) -> str:
    """`path` relative to the project's folder when it is inside it, so the metadata holds on any checkout."""
    project, path = WEIGHTS_DIR.parent, Path(path).resolve()
    return str(path.relative_to(project)) if path.is_relative_to(project) else str(path)


def split_run_calibration(spec: ModelSpec, split_run: Path) -> Calibration:
    """The calibration of `split_run/<name>.json`, a run of the same recipe with groups held out.

    A model trained on every group has no groups left to calibrate on; its split run's temperature
    and thresholds were fitted on groups that run never saw, through the same pipeline.
    """
    path = Path(split_run) / f"{spec.name}.json"
    split = ModelSpec.load(path)
    if split.calibration is None:
        raise ValueError(f"{path} has no calibration: run calibrate on that split run first")
    same = ("architecture", "classes", "image_size", "sampling", "preprocessing", "motion", "crop_borders",
            "aspect_range")
    differ = [field for field in same if getattr(split, field) != getattr(spec, field)]
    defaults = TrainConfig.defaults()  # for older records
    ours, theirs = spec.training.get("hyperparameters", {}), split.training.get("hyperparameters", {})
    differ += [key for key in ours.keys() | theirs.keys() if key not in RECIPE_SETTINGS_A_SPLIT_RUN_MAY_CHANGE
               and ours.get(key, defaults.get(key)) != theirs.get(key, defaults.get(key))]
    if differ:
        raise ValueError(f"{path} is not a split run of this recipe: {', '.join(sorted(differ))} differ")
    fitted_on = {**split.calibration.fitted_on,
                 "split_run": {"training_groups": split.training["training_groups"], "file": _as_recorded(path)}}
    return dataclasses.replace(split.calibration, fitted_on=fitted_on)


def calibrate(weights_dir: Path, data_dir: Path, references_per_class: int | None = None,
              names: Sequence[str] = MODEL_NAMES, split_run: Path | None = None,
              keep_familiarity: bool = False) -> dict[str, Calibration]:
    """Fit each model's familiarity on its training groups and its calibration on its held-out groups.

    `references_per_class` limits the training clips whose windows are kept, spread over the groups.
    A model with no held-out clips in `data_dir` (trained on every group) takes its calibration
    from `split_run` (see `split_run_calibration`). Writes `weights/<name>.familiarity.npz` and the
    calibration into `weights/<name>.json`. With `keep_familiarity`, a familiarity already saved is kept.
    """
    recognizer = Recognizer.load(weights_dir, names, calibrated=False)
    clips = dataset.scan(data_dir)
    saved = {name: familiarity_path(Path(weights_dir) / f"{name}.keras") for name in recognizer.models}
    if keep_familiarity:
        recognizer.familiarities = {name: Familiarity.load(path) for name, path in saved.items() if path.exists()}
    to_describe = [name for name in recognizer.models if name not in recognizer.familiarities]
    trained = {name: dataset.trained_on(clips, recognizer.specs[name]) for name in to_describe}
    if references_per_class:
        trained = {name: first_per_class(picked, references_per_class) for name, picked in trained.items()}
    descriptors: dict[str, list[list[np.ndarray]]] = {name: [] for name in to_describe}
    wanted = sorted({c for picked in trained.values() for c in picked}, key=lambda c: str(c.path))
    for number, clip in enumerate(wanted, 1):
        for name, described in recognizer.describe_windows(clip.path).items():
            if name in trained and clip in trained[name]:
                descriptors[name].append(described)
        if number % 25 == 0 or number == len(wanted):
            print(f"  described {number}/{len(wanted)} training clips", file=sys.stderr, flush=True)
    for name in to_describe:
        if not descriptors[name]:
            raise ValueError(f"{name}: no clips of its training groups in {data_dir}")
        recognizer.familiarities[name] = Familiarity.fit([np.concatenate(part) for part in zip(*descriptors[name])])
        recognizer.familiarities[name].save(saved[name])

    fitted = {}
    for name, held in held_out_windows(recognizer, data_dir).items():
        spec = recognizer.specs[name]
        if held.clips:
            fitted[name] = Calibration.fit(held.probabilities, held.labels(spec.classes),
                                           np.array([c.group for c in held.clips]), held.familiarity,
                                           pose=held.pose)
        elif split_run is not None:
            fitted[name] = split_run_calibration(spec, split_run)
        else:
            raise ValueError(f"{name}: no held-out clips of its classes in {data_dir} (trained on every group? "
                             "pass the split run of its recipe with --from)")
        dataclasses.replace(spec, calibration=fitted[name]).save(metadata_path(Path(weights_dir) / f"{name}.keras"))
    return fitted
