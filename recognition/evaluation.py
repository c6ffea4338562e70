"""Evaluation on clips whose UCF groups a model never trained on.

Runs the real inference pipeline (decoding included), so the figures are those
a user gets, and reports top-1, top-3, per-class accuracy and a confusion matrix.
With `letterbox`, each clip is first copied inside black bars above and below, as
much footage on the web is, to measure whether the bars change the answers.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from recognition.metadata import ModelSpec
from recognition.metrics import accuracy_report
from recognition.pipeline import Recognizer
from recognition.results import Recognition
from recognition.training import dataset
from recognition.video import VideoError, h264_writer, iter_frames, probe

LETTERBOX_SHARE = 1 / 6
"""Height of each bar of a letterboxed copy, as a share of the picture's height (the picture fills 3/4)."""


def held_out(clips: list[dataset.Clip], spec: ModelSpec) -> list[dataset.Clip]:
    """Clips of known classes from groups the model did not train on."""
    trained = set(spec.training.get("training_groups", []))
    return [c for c in clips if c.group not in trained and c.label in spec.classes]


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


def letterboxed_copy(video: Path, folder: Path) -> Path:
    """A copy of `video` with black bars added above and below; the picture itself is unchanged."""
    info = probe(video)
    bar = 2 * round(info.height * LETTERBOX_SHARE / 2)
    copy = folder / f"{video.stem}_letterboxed.mp4"
    writer = h264_writer(copy, (info.width, info.height + 2 * bar), info.fps)
    try:
        for _, frame in iter_frames(video):
            writer.send(np.pad(frame[:, :, ::-1], ((bar, bar), (0, 0), (0, 0))))
    finally:
        writer.close()
    return copy


def _recognize(recognizer: Recognizer, video: Path, letterbox: bool) -> Recognition:
    """Recognise `video`, or a letterboxed copy of it made for the occasion and deleted after."""
    if not letterbox:
        return recognizer.recognize(video)
    with tempfile.TemporaryDirectory(prefix="action-lens-letterbox-") as folder:
        return recognizer.recognize(letterboxed_copy(video, Path(folder)))


def evaluate(recognizer: Recognizer, data_dir: Path, out_dir: Path | None = None,
             letterbox: bool = False) -> dict[str, dict]:
    """Per-model accuracy report on held-out groups; confusion PNGs go to `out_dir`."""
    clips = dataset.scan(data_dir)
    chosen = {name: held_out(clips, spec) for name, spec in recognizer.specs.items()}
    wanted = sorted({c for picked in chosen.values() for c in picked}, key=lambda c: str(c.path))
    scores: dict[str, dict[dataset.Clip, np.ndarray]] = {name: {} for name in recognizer.models}
    for number, clip in enumerate(wanted, 1):
        try:
            recognition = _recognize(recognizer, clip.path, letterbox)
        except VideoError as error:
            print(f"  skipped {clip.path.name}: {error}", file=sys.stderr)
            continue
        for name, result in recognition.models.items():
            scores[name][clip] = result.probabilities
        if number % 25 == 0 or number == len(wanted):
            print(f"  evaluated {number}/{len(wanted)} clips", file=sys.stderr, flush=True)

    reports = {}
    for name, spec in recognizer.specs.items():
        picked = [c for c in chosen[name] if c in scores[name]]
        if not picked:
            reports[name] = {"clips": 0, "error": "no held-out clips of known classes in this folder"}
            continue
        index = {label: i for i, label in enumerate(spec.classes)}
        labels = np.array([index[c.label] for c in picked])
        probabilities = np.stack([scores[name][c] for c in picked])
        matrix = confusion_matrix(labels, np.argsort(-probabilities, axis=1)[:, 0], len(spec.classes))
        report = {
            **accuracy_report(probabilities, labels, spec.classes),
            "groups": sorted({c.group for c in picked}),
            "confusion": matrix.tolist(),
            "letterboxed": letterbox,
        }
        if out_dir is not None:
            out_dir.mkdir(parents=True, exist_ok=True)
            path = out_dir / f"confusion_{name}{'_letterboxed' if letterbox else ''}.png"
            plot_confusion(matrix, spec.classes, f"{name.upper()}: top-1 {report['top1']:.1%} on {len(picked)} "
                           f"held-out clips{', letterboxed' if letterbox else ''}", path)
            report["confusion_png"] = str(path)
        reports[name] = report
    return reports
