"""Training: `python -m recognition train --model lrcn|convlstm --data DIR`.

Each clip's sampled frames are decoded once and cached (see `frame_cache`).
Every epoch draws windows at random positions of each training clip and gives
each window one random crop, flip and colour change, then fits everything above
the frozen ImageNet stem. Early stopping watches clip-level accuracy on whole
held-out groups, and the best epoch is kept.

With a motion stream (LRCN's default), a second network is then trained from
scratch on the clips' optical flow (see `recognition.motion`). With several
members (LRCN's default is two), all of that is repeated with the next seed,
and the saved model fuses every stream of every member (see `models.assemble`).
"""

from __future__ import annotations

import dataclasses
import datetime
import math
import platform
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import keras
import numpy as np
import tensorflow as tf
from keras import layers

from recognition import dataset, models
from recognition.backbones import Backbone, get_backbone
from recognition.frame_cache import ClipFrames, FrameCache
from recognition.metadata import ModelSpec, SamplingSpec, metadata_path
from recognition.motion import MotionSpec, clip_flow
from recognition.video import FrameFormat

ARCHITECTURES = {
    "lrcn": "{cnn} per frame (top blocks fine-tuned) -> LSTM over features and their differences",
    "convlstm": "{cnn} per frame (top blocks fine-tuned, 7x7 maps) -> ConvLSTM2D over maps "
                "and their differences -> pooling",
}
MOTION_ARCHITECTURE = ", plus a motion stream: small CNN per optical-flow field{camera} -> LSTM"


@dataclasses.dataclass
class TrainConfig:
    architecture: str
    data_dir: Path
    out_dir: Path = Path("weights")
    cache_dir: Path = Path.home() / ".cache" / "action-lens" / "frames"
    backbone: str = "mobilenet_v2_1.0"
    backbone_weights: str | None = None
    validation_groups: tuple[int, ...] | None = None
    image_size: int = 224
    crop_borders: bool = True
    sampling: SamplingSpec = SamplingSpec()
    epochs: int = 20
    patience: int = 5
    batch_size: int = 16
    samples_per_clip: int = 1
    learning_rate: float = 3e-4
    weight_decay: float = 1e-3
    label_smoothing: float = 0.1
    mixup: float = 0.0
    motion_stream: bool = False
    motion: MotionSpec = MotionSpec(subtract_camera_motion=True)
    motion_epochs: int = 40
    motion_patience: int = 12
    motion_batch_size: int = 32
    motion_samples_per_clip: int = 2
    motion_learning_rate: float = 1e-3
    motion_weight_decay: float = 1e-2
    members: int = 1
    seed: int = 1
    distribute: str = "none"
    max_clips_per_class: int | None = None
    verbose: int = 2


def augment_window(window: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One random crop, flip and colour change, applied alike to every frame of a window."""
    size = window.shape[1]
    scale, aspect = rng.uniform(0.55, 1.0), np.exp(rng.uniform(np.log(0.8), np.log(1.25)))
    width = min(size, int(size * np.sqrt(scale * aspect)))
    height = min(size, int(size * np.sqrt(scale / aspect)))
    left, top = rng.integers(0, size - width + 1), rng.integers(0, size - height + 1)
    crops = np.stack([cv2.resize(np.asarray(frame[top : top + height, left : left + width]), (size, size),
                                 interpolation=cv2.INTER_LINEAR) for frame in window])
    if rng.random() < 0.5:
        crops = crops[:, :, ::-1]
    gray = crops.mean(axis=-1, keepdims=True)
    saturation = rng.uniform(0.7, 1.3)
    colour = gray + (crops - gray) * saturation
    return np.clip(colour * rng.uniform(0.75, 1.25) + rng.uniform(-20, 20), 0, 255).astype(np.float32)


class WindowBatches(keras.utils.PyDataset):
    """Augmented windows at random positions of each training clip, redrawn every epoch.

    `sequences` holds one array per clip, its frames or its flow fields, and
    `augment` changes a whole window at once. With `mixup` > 0, each window is
    blended with another of its batch, inputs and labels alike, by a weight drawn
    from Beta(mixup, mixup): on 575 clips the fine-tuned CNN otherwise learns the
    training groups' scenes by heart.
    """

    def __init__(self, sequences: list[np.ndarray], augment: Callable[[np.ndarray, np.random.Generator], np.ndarray],
                 labels: np.ndarray, num_classes: int, num_frames: int, batch_size: int, samples_per_clip: int,
                 seed: int, mixup: float = 0.0):
        super().__init__(workers=2, use_multiprocessing=False)
        self.sequences, self.augment, self.labels, self.num_classes = sequences, augment, labels, num_classes
        self.num_frames, self.batch_size = num_frames, batch_size
        self.samples_per_clip, self.mixup = samples_per_clip, mixup
        self.rng = np.random.default_rng(seed)
        self.on_epoch_end()

    def on_epoch_end(self) -> None:
        draws = [(index, int(self.rng.integers(len(sequence) - self.num_frames + 1)))
                 for index, sequence in enumerate(self.sequences) for _ in range(self.samples_per_clip)]
        self.draws = [draws[i] for i in self.rng.permutation(len(draws))]

    def __len__(self) -> int:
        return math.ceil(len(self.draws) / self.batch_size)

    def __getitem__(self, batch: int):
        picked = self.draws[batch * self.batch_size : (batch + 1) * self.batch_size]
        x = np.stack([self.augment(self.sequences[i][s : s + self.num_frames], self.rng) for i, s in picked])
        y = keras.utils.to_categorical(self.labels[[i for i, _ in picked]], self.num_classes)
        if self.mixup > 0:
            weight = self.rng.beta(self.mixup, self.mixup, size=len(x)).astype(np.float32)
            partner = self.rng.permutation(len(x))
            x = weight[:, None, None, None, None] * x + (1 - weight[:, None, None, None, None]) * x[partner]
            y = weight[:, None] * y + (1 - weight[:, None]) * y[partner]
        return x, y


def augment_flow(window: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One random zoom-crop, flip and speed change, applied alike to every flow field of a window."""
    size = window.shape[1]
    crop = int(size * rng.uniform(0.8, 1.0))
    left, top = rng.integers(0, size - crop + 1, 2)
    zoom = size / crop
    fields = np.stack([cv2.resize(np.asarray(field[top : top + crop, left : left + crop], np.float32), (size, size),
                                  interpolation=cv2.INTER_LINEAR) for field in window]) * zoom
    if rng.random() < 0.5:
        fields = fields[:, :, ::-1] * np.array([-1.0, 1.0], np.float32)
    return (fields * rng.uniform(0.8, 1.25)).astype(np.float32)


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

    def report(self) -> dict:
        """Accuracy of the best epoch so far."""
        return self._report(self.best_probabilities)

    def _report(self, window_probabilities: np.ndarray) -> dict:
        scores = clip_scores(window_probabilities, self.owners, len(self.labels))
        return accuracy_report(scores, self.labels, self.classes)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
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
    windows, owners = [], []
    for index, clip in enumerate(clips):
        frames = np.asarray(clip.frames, np.float32)
        features = np.concatenate([encode(frames[i : i + 64]).numpy() for i in range(0, len(frames), 64)])
        for start in clip.window_starts:
            windows.append(features[start : start + num_frames].astype(np.float16))
            owners.append(index)
    return np.stack(windows), np.array(owners)


def flow_windows(flows: list[np.ndarray], clips: list[ClipFrames], num_frames: int) -> np.ndarray:
    """The flow fields of every window of every clip, in the order of `stem_windows`."""
    return np.stack([flow[start : start + num_frames] for flow, clip in zip(flows, clips)
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


def clip_scores(window_probabilities: np.ndarray, owners: np.ndarray, count: int) -> np.ndarray:
    """Average the window probabilities of each clip: the video-level answer."""
    scores = np.zeros((count, window_probabilities.shape[1]))
    np.add.at(scores, owners, window_probabilities)
    return scores / np.bincount(owners, minlength=count)[:, None]


def accuracy_report(scores: np.ndarray, labels: np.ndarray, classes: tuple[str, ...]) -> dict:
    """Top-1, top-3 and per-class accuracy of clip-level scores."""
    ranked = np.argsort(-scores, axis=1)
    top1 = ranked[:, 0] == labels
    top3 = (ranked[:, :3] == labels[:, None]).any(axis=1)
    per_class = {name: float(top1[labels == i].mean()) for i, name in enumerate(classes) if (labels == i).any()}
    return {"clips": int(len(labels)), "top1": float(top1.mean()), "top3": float(top3.mean()), "per_class": per_class}


def make_strategy(name: str) -> tf.distribute.Strategy:
    """`none`, `mirrored` (all local devices) or `multi-worker` (reads TF_CONFIG)."""
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi-worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "none":
        return tf.distribute.get_strategy()
    raise ValueError(f"unknown strategy {name!r}: use none, mirrored or multi-worker")


def _stem_id(weights: str | None) -> str:
    if weights is None or weights == "imagenet":
        return str(weights)
    path = Path(weights)
    return f"{path.name}:{path.stat().st_size}"


def train(config: TrainConfig) -> ModelSpec:
    """Train one architecture and save `<out_dir>/<architecture>.keras` plus its metadata."""
    started = time.monotonic()
    keras.utils.set_random_seed(config.seed)
    backbone = get_backbone(config.backbone)
    clips = dataset.scan(config.data_dir)
    if config.max_clips_per_class:
        clips = _first_per_class(clips, config.max_clips_per_class)
    classes = dataset.class_names(clips)
    validation_groups = config.validation_groups or dataset.default_validation_groups(clips)
    train_clips, validation_clips = dataset.split_by_group(clips, validation_groups)
    if not train_clips or not validation_clips:
        raise ValueError("the group split left no training or no validation clips")
    if config.members < 1:
        raise ValueError(f"members must be at least 1, not {config.members}")
    print(f"{config.architecture}: {len(classes)} classes, {len(train_clips)} training clips, "
          f"{len(validation_clips)} validation clips (groups {list(validation_groups)})", flush=True)

    strategy = make_strategy(config.distribute)
    with strategy.scope():
        stem, _ = models.split_backbone(backbone, config.image_size, config.backbone_weights)
    cache = FrameCache(config.cache_dir, config.sampling, FrameFormat(config.image_size, config.crop_borders))
    print("decoding clips (cached after the first run)", flush=True)
    train_frames = cache.load(train_clips)
    validation_frames = cache.load(validation_clips)
    index = {name: i for i, name in enumerate(classes)}
    train_labels = np.array([index[f.clip.label] for f in train_frames])
    validation_labels = np.array([index[f.clip.label] for f in validation_frames])
    windows, owners = stem_windows(stem, validation_frames, config.sampling.num_frames)
    flows = (clip_flows(train_frames, config.motion), clip_flows(validation_frames, config.motion)) \
        if config.motion_stream else None

    trainables, motion_streams, trackers, records = [], [], [], []
    for member in range(config.members):
        seed = config.seed + member
        if config.members > 1:
            print(f"member {member + 1} of {config.members} (seed {seed})", flush=True)
        keras.utils.set_random_seed(seed)
        with strategy.scope():
            _, top = models.split_backbone(backbone, config.image_size, config.backbone_weights)
            trainable = models.build_trainable(
                config.architecture, stem, top, config.sampling.num_frames, len(classes))
        held_out = HeldOutGroups(trainable, windows, owners, validation_labels, classes, config.patience)
        batches = WindowBatches([f.frames for f in train_frames], augment_window, train_labels, len(classes),
                                config.sampling.num_frames, config.batch_size, config.samples_per_clip, seed,
                                config.mixup)
        fit_appearance_stream(config, strategy, stem, trainable, batches, held_out)
        trainables.append(trainable)
        trackers.append(held_out)
        records.append({"seed": seed, "appearance": _stream_record(held_out)})
        if flows is not None:
            with strategy.scope():
                motion_stream = models.build_motion_stream(
                    config.sampling.num_frames, config.motion.field_size, len(classes))
            motion_held_out = train_motion_stream(config, seed, motion_stream, flows, train_frames, train_labels,
                                                  validation_frames, validation_labels, classes, owners)
            motion_streams.append(motion_stream)
            trackers.append(motion_held_out)
            records[-1]["motion"] = _stream_record(motion_held_out)

    fused = geometric_mean([tracker.best_probabilities for tracker in trackers])
    report = accuracy_report(clip_scores(fused, owners, len(validation_labels)), validation_labels, classes)
    print(f"validation (clip level, groups {list(validation_groups)}, all streams): "
          f"top-1 {report['top1']:.3f}, top-3 {report['top3']:.3f}", flush=True)

    model = models.assemble(config.architecture, stem, trainables, config.sampling.num_frames, motion_streams)
    spec = ModelSpec(
        name=config.architecture,
        architecture=describe(config.architecture, backbone, config.members,
                              config.motion if motion_streams else None),
        classes=classes,
        image_size=config.image_size,
        sampling=config.sampling,
        preprocessing=backbone.preprocessing,
        training=_training_record(config, backbone, clips, train_frames, validation_groups, report,
                                  records, time.monotonic() - started),
        motion=config.motion if motion_streams else None,
        crop_borders=config.crop_borders,
    )
    config.out_dir.mkdir(parents=True, exist_ok=True)
    model_path = config.out_dir / f"{config.architecture}.keras"
    model.save(model_path)
    spec.save(metadata_path(model_path))
    print(f"saved {model_path} and {metadata_path(model_path)}", flush=True)
    return spec


def fit_appearance_stream(config: TrainConfig, strategy: tf.distribute.Strategy, stem: keras.Model,
                          trainable: keras.Model, batches: WindowBatches, held_out: HeldOutGroups) -> None:
    """Fit everything above the frozen stem on augmented frame windows (best held-out epoch restored)."""
    with strategy.scope():
        frames = keras.Input((config.sampling.num_frames, config.image_size, config.image_size, 3))
        trainer = keras.Model(frames, trainable(layers.TimeDistributed(stem)(frames)))
        _compile(trainer, config.learning_rate, config.epochs * len(batches), config.weight_decay,
                 config.label_smoothing)
    print("appearance stream", flush=True)
    trainer.fit(batches, epochs=config.epochs, callbacks=[held_out], verbose=config.verbose)


def train_motion_stream(config: TrainConfig, seed: int, motion_stream: keras.Model,
                        flows: tuple[list[np.ndarray], list[np.ndarray]], train_frames: list[ClipFrames],
                        train_labels: np.ndarray, validation_frames: list[ClipFrames],
                        validation_labels: np.ndarray, classes: tuple[str, ...],
                        owners: np.ndarray) -> HeldOutGroups:
    """Fit the motion stream on the clips' flow (training, validation); returns its held-out tracker."""
    train_flows, validation_flows = flows
    num_frames = config.sampling.num_frames
    batches = WindowBatches(train_flows, augment_flow, train_labels, len(classes), num_frames,
                            config.motion_batch_size, config.motion_samples_per_clip, seed)
    _compile(motion_stream, config.motion_learning_rate, config.motion_epochs * len(batches),
             config.motion_weight_decay, config.label_smoothing)
    held_out = HeldOutGroups(motion_stream, flow_windows(validation_flows, validation_frames, num_frames), owners,
                             validation_labels, classes, config.motion_patience)
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


def _training_record(config: TrainConfig, backbone: Backbone, clips, train_frames, validation_groups, report,
                     members: list[dict], seconds: float) -> dict:
    return {
        "data": str(config.data_dir),
        "clips": len(clips),
        "training_clips": len(train_frames),
        "training_groups": sorted({f.clip.group for f in train_frames}),
        "validation_groups": list(validation_groups),
        "validation": report,
        "members": members,
        "hyperparameters": {
            "epochs": config.epochs, "patience": config.patience, "batch_size": config.batch_size,
            "samples_per_clip": config.samples_per_clip, "learning_rate": config.learning_rate,
            "weight_decay": config.weight_decay, "label_smoothing": config.label_smoothing,
            "mixup": config.mixup, "backbone": config.backbone, "motion_stream": config.motion_stream,
            "motion_epochs": config.motion_epochs, "motion_patience": config.motion_patience,
            "motion_batch_size": config.motion_batch_size,
            "motion_samples_per_clip": config.motion_samples_per_clip,
            "motion_learning_rate": config.motion_learning_rate,
            "motion_weight_decay": config.motion_weight_decay,
            "members": config.members, "crop_borders": config.crop_borders, "seed": config.seed,
            "distribute": config.distribute,
        },
        "backbone": backbone.description,
        "backbone_weights": _stem_id(config.backbone_weights),
        "seconds": round(seconds, 1),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "versions": {"python": platform.python_version(), "tensorflow": tf.__version__,
                     "keras": keras.__version__, "numpy": np.__version__},
    }
