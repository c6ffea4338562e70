"""The training loop: `train(TrainConfig(...))`, or `python -m recognition train --model lrcn|convlstm --data DIR`.

Each clip's sampled frames are decoded once and cached (see `frame_cache`).
Every epoch draws windows at random positions of each training clip and gives
each window one random crop, flip and colour change, then fits everything above
the frozen ImageNet stem. Early stopping watches clip-level accuracy on whole
held-out groups, and the best epoch is kept. With `all_groups`, nothing is held
out: every epoch is run and the last one is kept.

With a motion stream (LRCN's default), a second network is then trained from
scratch on the clips' optical flow (see `recognition.motion`). With several
members (LRCN's default is two), all of that is repeated with the next seed,
and the saved model fuses every stream of every member (see `models.assemble`).
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import platform
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from recognition import models
from recognition.backbones import Backbone, get_backbone
from recognition.metadata import ModelSpec, metadata_path
from recognition.metrics import accuracy_report, clip_scores
from recognition.motion import MotionSpec, clip_flow
from recognition.training import dataset
from recognition.training.augmentation import WindowBatches, augment_flow, augment_window
from recognition.training.config import TrainConfig
from recognition.training.frame_cache import ClipFrames, FrameCache
from recognition.video import FrameFormat

ARCHITECTURES = {
    "lrcn": "{cnn} per frame (top blocks fine-tuned) -> LSTM over features and their differences",
    "convlstm": "{cnn} per frame (top blocks fine-tuned, 7x7 maps) -> ConvLSTM2D over maps "
                "and their differences -> pooling",
}
MOTION_ARCHITECTURE = ", plus a motion stream: small CNN per optical-flow field{camera} -> LSTM"


class HeldOutGroups(keras.callbacks.Callback):
    """Clip-level accuracy on the validation groups after each epoch; keeps the best weights.

    The frozen stem's output for the validation windows is computed once, so each
    check only runs the trained layers. The best epoch's window probabilities are
    kept with its weights, for the report and the fusion of streams after training.
    """

    def __init__(self, trainable: keras.Model, windows: np.ndarray, owners: np.ndarray, labels: np.ndarray,
                 classes: tuple[str, ...], patience: int):
        super().__init__()
        self.trainable, self.windows, self.owners = trainable, windows, owners
        self.labels, self.classes, self.patience = labels, classes, patience
        self.best_accuracy, self.best_epoch, self.best_weights = -1.0, 0, None
        self.best_probabilities: np.ndarray | None = None
        self.history: list[float] = []

    def report(self) -> dict | None:
        """Accuracy of the best epoch so far (None with no held-out windows)."""
        return None if self.best_probabilities is None else self._report(self.best_probabilities)

    def _report(self, window_probabilities: np.ndarray) -> dict:
        scores = clip_scores(window_probabilities, self.owners, len(self.labels))
        return accuracy_report(scores, self.labels, self.classes)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if not len(self.windows):  # nothing held out: the last epoch is kept
            self.best_epoch = epoch + 1
            return
        probabilities = self.trainable.predict(self.windows, batch_size=32, verbose=0)
        accuracy = self._report(probabilities)["top1"]
        self.history.append(accuracy)
        if logs is not None:
            logs["val_clip_accuracy"] = accuracy
        print(f"  epoch {epoch + 1}: held-out clip accuracy {accuracy:.3f}", flush=True)
        if accuracy > self.best_accuracy:
            self.best_accuracy, self.best_epoch = accuracy, epoch + 1
            self.best_weights, self.best_probabilities = self.trainable.get_weights(), probabilities
        elif epoch + 1 - self.best_epoch >= self.patience:
            self.model.stop_training = True

    def on_train_end(self, logs: dict | None = None) -> None:
        if self.best_weights is not None:
            self.trainable.set_weights(self.best_weights)


def stem_windows(stem: keras.Model, clips: list[ClipFrames], num_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Stem features of every window of every clip (frames shared across windows), and each window's clip."""
    size = stem.input.shape[1]
    encode = tf.function(lambda x: stem(x, training=False),
                         input_signature=[tf.TensorSpec([None, size, size, 3], tf.float32)])
    windows, owners = [np.zeros((0, num_frames, *stem.output.shape[1:]), np.float16)], []
    for index, clip in enumerate(clips):
        frames = np.asarray(clip.frames, np.float32)
        features = np.concatenate([encode(frames[i : i + 64]).numpy() for i in range(0, len(frames), 64)])
        for start in clip.window_starts:
            windows.append(features[start : start + num_frames][None].astype(np.float16))
            owners.append(index)
    return np.concatenate(windows), np.array(owners, int)


def flow_windows(flows: list[np.ndarray], clips: list[ClipFrames], num_frames: int) -> np.ndarray:
    """The flow fields of every window of every clip, in the order of `stem_windows`."""
    return np.array([flow[start : start + num_frames] for flow, clip in zip(flows, clips)
                     for start in clip.window_starts])


def clip_flows(clips: list[ClipFrames], spec: MotionSpec) -> list[np.ndarray]:
    """Each clip's flow fields (float16 to halve the memory), with progress."""
    flows, started = [], time.monotonic()
    for number, clip in enumerate(clips, 1):
        flows.append(clip_flow(np.asarray(clip.frames), spec).astype(np.float16))
        if number % 100 == 0 or number == len(clips):
            print(f"  optical flow of {number}/{len(clips)} clips ({time.monotonic() - started:.0f} s)", flush=True)
    return flows


def describe(architecture: str, backbone: Backbone, members: int, motion: MotionSpec | None) -> str:
    """The architecture in words, for the metadata (the app shows it under *About the models*)."""
    words = ARCHITECTURES[architecture].format(cnn=backbone.name)
    if motion is not None:
        camera = " (camera motion taken away)" if motion.subtract_camera_motion else ""
        words += MOTION_ARCHITECTURE.format(camera=camera)
    if members > 1:
        words = f"{members} members, each: {words}"
    if members > 1 or motion is not None:
        words += "; all streams fused by their mean logits"
    return words


def geometric_mean(probabilities: list[np.ndarray]) -> np.ndarray:
    """Streams' probabilities fused as the saved model fuses them: the softmax of their mean log-probability."""
    log_mean = np.mean([np.log(np.maximum(p, 1e-12)) for p in probabilities], axis=0)
    fused = np.exp(log_mean - log_mean.max(axis=1, keepdims=True))
    return fused / fused.sum(axis=1, keepdims=True)


def make_strategy(name: str) -> tf.distribute.Strategy:
    """`none`, `mirrored` (all local devices) or `multi-worker` (reads TF_CONFIG)."""
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi-worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "none":
        return tf.distribute.get_strategy()
    raise ValueError(f"unknown strategy {name!r}: use none, mirrored or multi-worker")


def starting_weights(backbone: Backbone, weights: str | None) -> str | None:
    """The backbone weights to start from: `imagenet` means their local copy when there is one."""
    if weights == "imagenet":
        return backbone.default_weights() or weights
    return weights


def _stem_id(weights: str | None) -> str:
    if weights is None or weights == "imagenet":
        return str(weights)
    path = Path(weights)
    return f"{path.name}:{path.stat().st_size}"


@dataclasses.dataclass
class TrainingData:
    """The clips split by group, decoded and labelled, with what every held-out check reuses.

    `windows` holds the frozen stem's output for every validation window and
    `owners` each window's clip; `flows` holds each clip's flow fields (training,
    validation) when a motion stream is trained.
    """

    clips: list[dataset.Clip]
    classes: tuple[str, ...]
    validation_groups: tuple[int, ...]
    train_frames: list[ClipFrames]
    train_labels: np.ndarray
    validation_frames: list[ClipFrames]
    validation_labels: np.ndarray
    windows: np.ndarray
    owners: np.ndarray
    flows: tuple[list[np.ndarray], list[np.ndarray]] | None


def load_data(config: TrainConfig, stem: keras.Model) -> TrainingData:
    """Split the clips by group, decode (or read from the cache) their frames, and prepare the held-out checks."""
    clips = dataset.scan(config.data_dir)
    if config.max_clips_per_class:
        clips = _first_per_class(clips, config.max_clips_per_class)
    classes = dataset.class_names(clips)
    validation_groups = () if config.all_groups else \
        tuple(config.validation_groups or dataset.default_validation_groups(clips))
    train_clips, validation_clips = dataset.split_by_group(clips, validation_groups)
    if not train_clips or not (validation_clips or config.all_groups):
        raise ValueError("the group split left no training or no validation clips")
    print(f"{config.architecture}: {len(classes)} classes, {len(train_clips)} training clips, "
          f"{len(validation_clips)} validation clips (groups {list(validation_groups)})", flush=True)

    cache = FrameCache(config.cache_dir, config.sampling,
                       FrameFormat(config.image_size, config.crop_borders, config.aspect_range))
    print("decoding clips (cached after the first run)", flush=True)
    train_frames = cache.load(train_clips)
    validation_frames = cache.load(validation_clips)
    index = {name: i for i, name in enumerate(classes)}
    windows, owners = stem_windows(stem, validation_frames, config.sampling.num_frames)
    flows = (clip_flows(train_frames, config.motion), clip_flows(validation_frames, config.motion)) \
        if config.motion_stream else None
    return TrainingData(clips, classes, validation_groups,
                        train_frames, np.array([index[f.clip.label] for f in train_frames]),
                        validation_frames, np.array([index[f.clip.label] for f in validation_frames]),
                        windows, owners, flows)


def train(config: TrainConfig) -> ModelSpec:
    """Train one architecture and save `<out_dir>/<architecture>.keras` plus its metadata."""
    started = time.monotonic()
    keras.utils.set_random_seed(config.seed)
    backbone = get_backbone(config.backbone)
    weights = starting_weights(backbone, config.backbone_weights)
    strategy = make_strategy(config.distribute)
    with strategy.scope():
        stem, _ = models.split_backbone(backbone, config.image_size, weights)
    data = load_data(config, stem)

    trainables, motion_streams, trackers, records = [], [], [], []
    for member in range(config.members):
        seed = config.seed + member
        if config.members > 1:
            print(f"member {member + 1} of {config.members} (seed {seed})", flush=True)
        keras.utils.set_random_seed(seed)
        with strategy.scope():
            _, top = models.split_backbone(backbone, config.image_size, weights)
            trainable = models.build_trainable(
                config.architecture, stem, top, config.sampling.num_frames, len(data.classes))
        held_out = fit_appearance_stream(config, strategy, stem, trainable, data, seed)
        trainables.append(trainable)
        trackers.append(held_out)
        records.append({"seed": seed, "appearance": _stream_record(held_out)})
        if data.flows is not None:
            with strategy.scope():
                motion_stream = models.build_motion_stream(
                    config.sampling.num_frames, config.motion.field_size, len(data.classes))
            motion_held_out = fit_motion_stream(config, motion_stream, data, seed)
            motion_streams.append(motion_stream)
            trackers.append(motion_held_out)
            records[-1]["motion"] = _stream_record(motion_held_out)

    report = None
    if data.validation_groups:
        fused = geometric_mean([tracker.best_probabilities for tracker in trackers])
        report = accuracy_report(clip_scores(fused, data.owners, len(data.validation_labels)),
                                 data.validation_labels, data.classes)
        print(f"validation (clip level, groups {list(data.validation_groups)}, all streams): "
              f"top-1 {report['top1']:.3f}, top-3 {report['top3']:.3f}", flush=True)

    model = models.assemble(config.architecture, stem, trainables, config.sampling.num_frames, motion_streams)
    motion = config.motion if motion_streams else None
    spec = ModelSpec(
        name=config.architecture,
        architecture=describe(config.architecture, backbone, config.members, motion),
        classes=data.classes,
        image_size=config.image_size,
        sampling=config.sampling,
        preprocessing=backbone.preprocessing,
        training=_training_record(config, backbone, weights, data, report, records, time.monotonic() - started),
        motion=motion,
        crop_borders=config.crop_borders,
        aspect_range=config.aspect_range,
    )
    config.out_dir.mkdir(parents=True, exist_ok=True)
    model_path = config.out_dir / f"{config.architecture}.keras"
    model.save(model_path)
    spec.save(metadata_path(model_path))
    print(f"saved {model_path} and {metadata_path(model_path)}", flush=True)
    return spec


def fit_appearance_stream(config: TrainConfig, strategy: tf.distribute.Strategy, stem: keras.Model,
                          trainable: keras.Model, data: TrainingData, seed: int) -> HeldOutGroups:
    """Fit everything above the frozen stem on augmented frame windows; returns its held-out tracker.

    The best held-out epoch's weights are restored at the end.
    """
    held_out = HeldOutGroups(trainable, data.windows, data.owners, data.validation_labels, data.classes,
                             config.patience)
    augment = functools.partial(augment_window, web=config.web_footage)
    batches = WindowBatches([f.frames for f in data.train_frames], augment, data.train_labels,
                            len(data.classes), config.sampling.num_frames, config.batch_size,
                            config.samples_per_clip, seed, config.mixup)
    with strategy.scope():
        frames = keras.Input((config.sampling.num_frames, config.image_size, config.image_size, 3))
        trainer = keras.Model(frames, trainable(layers.TimeDistributed(stem)(frames)))
        _compile(trainer, config.learning_rate, config.epochs * len(batches), config.weight_decay,
                 config.label_smoothing)
    print("appearance stream", flush=True)
    trainer.fit(batches, epochs=config.epochs, callbacks=[held_out], verbose=config.verbose)
    return held_out


def fit_motion_stream(config: TrainConfig, motion_stream: keras.Model, data: TrainingData,
                      seed: int) -> HeldOutGroups:
    """Fit the motion stream on the clips' flow; returns its held-out tracker."""
    train_flows, validation_flows = data.flows
    num_frames = config.sampling.num_frames
    batches = WindowBatches(train_flows, augment_flow, data.train_labels, len(data.classes), num_frames,
                            config.motion_batch_size, config.motion_samples_per_clip, seed)
    _compile(motion_stream, config.motion_learning_rate, config.motion_epochs * len(batches),
             config.motion_weight_decay, config.label_smoothing)
    held_out = HeldOutGroups(motion_stream, flow_windows(validation_flows, data.validation_frames, num_frames),
                             data.owners, data.validation_labels, data.classes, config.motion_patience)
    print("motion stream", flush=True)
    motion_stream.fit(batches, epochs=config.motion_epochs, callbacks=[held_out], verbose=config.verbose)
    return held_out


def _compile(model: keras.Model, learning_rate: float, steps: int, weight_decay: float,
             label_smoothing: float) -> None:
    """AdamW with its learning rate on a cosine decay over `steps`, and label-smoothed cross-entropy."""
    model.compile(
        optimizer=keras.optimizers.AdamW(keras.optimizers.schedules.CosineDecay(learning_rate, steps),
                                         weight_decay=weight_decay),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=label_smoothing),
        metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")],
    )


def _stream_record(held_out: HeldOutGroups) -> dict:
    report = held_out.report()
    if report is None:
        return {"epochs": held_out.best_epoch}
    return {"top1": report["top1"], "top3": report["top3"], "best_epoch": held_out.best_epoch,
            "held_out_accuracy_per_epoch": [round(a, 4) for a in held_out.history]}


def _first_per_class(clips: list[dataset.Clip], count: int) -> list[dataset.Clip]:
    kept: dict[str, list[dataset.Clip]] = {}
    for clip in clips:
        kept.setdefault(clip.label, []).append(clip)
    groups = sorted({c.group for c in clips})
    return [c for label_clips in kept.values() for c in _spread(label_clips, groups, count)]


def _spread(clips: list[dataset.Clip], groups: list[int], count: int) -> list[dataset.Clip]:
    """Up to `count` clips of one class, taken from the first and last groups alike."""
    ordered = sorted(clips, key=lambda c: min(groups.index(c.group), len(groups) - 1 - groups.index(c.group)))
    return ordered[:count]


def _training_record(config: TrainConfig, backbone: Backbone, weights: str | None, data: TrainingData,
                     report: dict, members: list[dict], seconds: float) -> dict:
    return {
        "data": str(config.data_dir),
        "clips": len(data.clips),
        "training_clips": len(data.train_frames),
        "training_groups": sorted({f.clip.group for f in data.train_frames}),
        "validation_groups": list(data.validation_groups),
        "validation": report,
        "members": members,
        "hyperparameters": {
            "epochs": config.epochs, "patience": config.patience, "batch_size": config.batch_size,
            "samples_per_clip": config.samples_per_clip, "learning_rate": config.learning_rate,
            "weight_decay": config.weight_decay, "label_smoothing": config.label_smoothing,
            "mixup": config.mixup, "web_footage": config.web_footage, "backbone": config.backbone,
            "motion_stream": config.motion_stream,
            "motion_epochs": config.motion_epochs, "motion_patience": config.motion_patience,
            "motion_batch_size": config.motion_batch_size,
            "motion_samples_per_clip": config.motion_samples_per_clip,
            "motion_learning_rate": config.motion_learning_rate,
            "motion_weight_decay": config.motion_weight_decay,
            "members": config.members, "crop_borders": config.crop_borders, "seed": config.seed,
            "all_groups": config.all_groups,
            "distribute": config.distribute,
        },
        "backbone": backbone.description,
        "backbone_weights": _stem_id(weights),
        "seconds": round(seconds, 1),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "versions": {"python": platform.python_version(), "tensorflow": tf.__version__,
                     "keras": keras.__version__, "numpy": np.__version__},
    }
