"""Inference: a video in, one `ModelResult` per model out.

The video is decoded once for all models. Each model's per-frame encoder runs
once per sampled frame (overlapping windows share frames), in fixed-size
batches through a compiled function, and the sequence head then scores every
window in one batched call.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from recognition.annotate import write_annotated_videos
from recognition.metadata import ModelSpec, metadata_path
from recognition.results import ModelResult, Recognition
from recognition.sampling import SamplePlan, plan_samples
from recognition.video import Samples, VideoInfo, probe, read_samples

DEFAULT_WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"
MODEL_NAMES = ("lrcn", "convlstm")
ENCODER_BATCH = 32
EXTREME_ASPECT_RATIO = 4.0
TRUNCATION_SLACK_S = 0.5

Progress = Callable[[float, str], None]


def _no_progress(fraction: float, message: str) -> None:
    """Default progress callback: stay quiet."""


def _stage(progress: Progress, start: float, end: float, duration_s: float, message: str) -> Callable[[float], None]:
    """A per-frame callback (the frame's time) that reports `progress` across [start, end] in 2 % steps."""
    reported = [-1.0]

    def on_frame(stamp: float) -> None:
        fraction = min(stamp / duration_s, 1.0) if duration_s > 0 else 1.0
        if fraction - reported[0] >= 0.02:
            reported[0] = fraction
            progress(start + fraction * (end - start), message)

    return on_frame


@dataclasses.dataclass
class LoadedModel:
    """A saved model split into its compiled per-frame encoder and sequence head."""

    spec: ModelSpec
    encode_frames: Callable[[tf.Tensor], tf.Tensor]
    score_windows: Callable[[tf.Tensor], tf.Tensor]

    @classmethod
    def load(cls, path: Path) -> "LoadedModel":
        spec = ModelSpec.load(metadata_path(path))
        model = keras.saving.load_model(path, compile=False)
        encoder = model.get_layer("frame_encoder").layer
        head = model.get_layer("sequence_head")
        size = spec.image_size
        encode = tf.function(
            lambda x: encoder(x, training=False),
            input_signature=[tf.TensorSpec([None, size, size, 3], tf.float32)],
        )
        feature_shape = tuple(encoder.output.shape[1:])
        score = tf.function(
            lambda x: head(x, training=False),
            input_signature=[tf.TensorSpec([None, spec.sampling.num_frames, *feature_shape], tf.float32)],
        )
        return cls(spec, encode, score)

    def predict(self, frames: np.ndarray, plan: SamplePlan) -> np.ndarray:
        """Window probabilities, shape (windows, classes), for frames sampled per `plan`."""
        features = np.concatenate([
            self.encode_frames(tf.constant(frames[i : i + ENCODER_BATCH], tf.float32)).numpy()
            for i in range(0, len(frames), ENCODER_BATCH)
        ])
        windows = features[plan.window_indices()]
        return self.score_windows(tf.constant(windows, tf.float32)).numpy()


class Recognizer:
    """Loads the shipped models once; `recognize()` runs them on a video."""

    def __init__(self, models: dict[str, LoadedModel]):
        self.models = models

    @classmethod
    def load(cls, weights_dir: str | os.PathLike = DEFAULT_WEIGHTS_DIR,
             names: Sequence[str] = MODEL_NAMES) -> "Recognizer":
        weights_dir = Path(weights_dir)
        missing = [name for name in names if not (weights_dir / f"{name}.keras").exists()]
        if missing:
            raise FileNotFoundError(f"no trained model for {', '.join(missing)} in {weights_dir}")
        return cls({name: LoadedModel.load(weights_dir / f"{name}.keras") for name in names})

    @property
    def specs(self) -> dict[str, ModelSpec]:
        return {name: model.spec for name, model in self.models.items()}

    def warm_up(self) -> None:
        """Trace and run every compiled function once, so the first request is not slower."""
        for model in self.models.values():
            size = model.spec.image_size
            frames = np.zeros((model.spec.sampling.num_frames, size, size, 3), np.uint8)
            model.predict(frames, plan_samples(1.0, model.spec.sampling))

    def _sample(self, video: str | os.PathLike, duration_s: float,
                progress: Progress) -> tuple[dict[str, SamplePlan], np.ndarray, Samples]:
        """Every model's sampling plan, and all their frames from one decode."""
        plans = {name: plan_samples(duration_s, m.spec.sampling) for name, m in self.models.items()}
        all_times = np.unique(np.concatenate([plan.times for plan in plans.values()]))
        sizes = sorted({m.spec.image_size for m in self.models.values()})
        on_frame = _stage(progress, 0.0, 0.3, duration_s, "Decoding video")
        return plans, all_times, read_samples(video, all_times, sizes, on_frame)

    def _input_notes(self, info: VideoInfo) -> list[str]:
        """What was done to fit an odd video to the models, in words for the user."""
        notes = []
        window_s = max(m.spec.sampling.window_seconds for m in self.models.values())
        if info.frame_count == 1:
            notes.append("The video has a single frame: the models saw it repeated, so there is no motion to go on.")
        elif info.duration_s < window_s:
            notes.append(f"The video is {info.duration_s:.1f} s long, shorter than the {window_s:g} s window the "
                         "models look at: its frames were spread over one window.")
        if max(info.width, info.height) > EXTREME_ASPECT_RATIO * min(info.width, info.height):
            notes.append(f"The picture is {info.width}x{info.height}: it was squeezed into a square for the "
                         "models, which makes people look distorted.")
        return notes

    def recognize(self, video: str | os.PathLike, output_dir: str | os.PathLike | None = None,
                  progress: Progress = _no_progress) -> Recognition:
        """Predict with every model; with `output_dir`, also write one annotated video per model.

        A file that ends early (truncated or damaged) is recognised over the part that decodes, with a note.
        """
        progress(0.0, "Reading video")
        started = time.perf_counter()
        info = probe(video)
        notes = self._input_notes(info)
        duration_s = info.duration_s
        plans, all_times, samples = self._sample(video, duration_s, progress)
        if samples.last_frame_s < all_times[-1] - TRUNCATION_SLACK_S:
            duration_s = samples.last_frame_s + 1.0 / info.fps
            notes.append(f"Only the first {duration_s:.1f} s of the {info.duration_s:.1f} s the file announces could "
                         "be decoded (it looks truncated or damaged): the answer covers that part.")
            plans, all_times, samples = self._sample(video, duration_s, progress)
        frames = samples.frames
        stage_seconds = {"decode": time.perf_counter() - started}

        results: dict[str, ModelResult] = {}
        for number, (name, model) in enumerate(self.models.items()):
            progress(0.3 + 0.3 * number / len(self.models), f"Running {name.upper()}")
            started = time.perf_counter()
            plan = plans[name]
            picks = np.searchsorted(all_times, plan.times)
            probabilities = model.predict(frames[model.spec.image_size][picks], plan)
            windows = [(w.start_s, w.end_s) for w in plan.windows]
            results[name] = ModelResult.from_windows(
                name, model.spec.classes, windows, probabilities, time.perf_counter() - started)
            stage_seconds[name] = results[name].seconds

        if output_dir is not None:
            started = time.perf_counter()
            on_frame = _stage(progress, 0.6, 1.0, duration_s, "Writing annotated videos")
            results = write_annotated_videos(video, results, Path(output_dir), on_frame)
            stage_seconds["annotate"] = time.perf_counter() - started
        progress(1.0, "Done")
        return Recognition(str(video), duration_s, results, tuple(notes), stage_seconds)
