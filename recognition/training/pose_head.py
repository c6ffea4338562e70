"""Training the pose head: `python -m recognition train-pose --data DIR [--all-groups] [--out DIR]`.

Each clip's landmarks are tracked once at the models' sample times and cached on disk
(`LandmarkCache`); every window of the training groups' clips, and its mirror image,
is a training example. `SEEDS` small networks are trained and their answers averaged;
their weights are saved for `recognition.pose.PoseHead`, which runs them in NumPy and is
checked here against Keras on the held-out windows.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from recognition.metadata import MODEL_NAMES, WEIGHTS_DIR, ModelSpec, SamplingSpec
from recognition.metrics import accuracy_report
from recognition.pose import (
    FRAME_FORMAT,
    LANDMARK_MODEL,
    PoseHead,
    PoseSpec,
    PoseTracker,
    pose_features,
    video_landmarks,
)
from recognition.sampling import plan_samples
from recognition.training import dataset
from recognition.video import VideoError, probe

CACHE_VERSION = 1
LANDMARK_CACHE = Path.home() / ".cache" / "action-lens" / "landmarks"
SEEDS = 3
EPOCHS = 25
UNITS = 64
MIRRORED = np.array([0, 4, 5, 6, 1, 2, 3, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15, 18, 17, 20, 19, 22, 21, 24, 23, 26, 25,
                     28, 27, 30, 29, 32, 31])
"""Each landmark's counterpart on the other side of the body (BlazePose's order)."""


class LandmarkCache:
    """Each clip's landmarks at its sample times, tracked once and kept as one `.npy` file."""

    def __init__(self, cache_dir: Path, sampling: SamplingSpec):
        self.cache_dir = Path(cache_dir)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        self.sampling = sampling
        self.tracker: PoseTracker | None = None
        self.model_digest = hashlib.sha1(LANDMARK_MODEL.read_bytes()).hexdigest()[:16]

    def _path(self, clip: dataset.Clip) -> Path:
        stat = clip.path.stat()
        fields = [CACHE_VERSION, str(clip.path.resolve()), stat.st_size, stat.st_mtime_ns,
                  dataclasses.asdict(self.sampling), dataclasses.asdict(FRAME_FORMAT), self.model_digest]
        return self.cache_dir / f"{hashlib.sha1(json.dumps(fields).encode()).hexdigest()}.landmarks.npy"

    def load(self, clips: Sequence[dataset.Clip]) -> list[tuple[dataset.Clip, np.ndarray, np.ndarray]]:
        """(clip, landmarks (samples, 33, 4), window indices (windows, frames)) of every clip that decodes."""
        loaded, started = [], time.monotonic()
        for number, clip in enumerate(clips, 1):
            path = self._path(clip)
            try:
                info = probe(clip.path)
                plan = plan_samples(info.duration_s, self.sampling)
                if not path.exists():
                    self.tracker = self.tracker or PoseTracker()
                    temporary = path.with_suffix(".tmp.npy")
                    np.save(temporary, video_landmarks(info, plan.times, self.tracker).astype(np.float32))
                    temporary.replace(path)
            except VideoError as error:
                print(f"  skipped {clip.path.name}: {error}", file=sys.stderr)
                continue
            loaded.append((clip, np.load(path), plan.window_indices()))
            if number % 100 == 0 or number == len(clips):
                print(f"  landmarks of {number}/{len(clips)} clips ({time.monotonic() - started:.0f} s)", flush=True)
        return loaded


def mirrored(landmarks: np.ndarray) -> np.ndarray:
    """The same landmarks seen in a mirror: x flipped, left and right swapped."""
    flipped = landmarks[..., MIRRORED, :].copy()
    flipped[..., 0] = np.where(flipped[..., 3] > 0, 1.0 - flipped[..., 0], 0.0)
    return flipped


def _network(frames: int, features: int, classes: int, units: int):
    import keras
    from keras import layers

    return keras.Sequential([
        layers.Input((frames, features)), layers.GaussianNoise(0.05), layers.Dense(2 * units, activation="relu"),
        layers.Dropout(0.3), layers.Bidirectional(layers.GRU(units)), layers.Dropout(0.5),
        layers.Dense(classes, activation="softmax")])


def _parameters(network) -> dict[str, np.ndarray]:
    """The network's weights under the names `recognition.pose` reads."""
    dense, gru, output = [layer for layer in network.layers if layer.weights]
    forward, backward = gru.forward_layer.get_weights(), gru.backward_layer.get_weights()
    return {"dense_kernel": dense.get_weights()[0], "dense_bias": dense.get_weights()[1],
            "forward_kernel": forward[0], "forward_recurrent": forward[1], "forward_bias": forward[2],
            "backward_kernel": backward[0], "backward_recurrent": backward[1], "backward_bias": backward[2],
            "output_kernel": output.get_weights()[0], "output_bias": output.get_weights()[1]}


def models_sampling(weights_dir: Path) -> SamplingSpec:
    """How the models in `weights_dir` sample frames (the pose head must take the same windows)."""
    paths = [Path(weights_dir) / f"{name}.json" for name in MODEL_NAMES]
    found = {ModelSpec.load(path).sampling for path in paths if path.exists()}
    if len(found) > 1:
        raise ValueError(f"the models in {weights_dir} sample frames differently: a pose head can join only one way")
    return found.pop() if found else SamplingSpec()


def train_pose(data_dir: Path, out_dir: Path = WEIGHTS_DIR, validation_groups: Sequence[int] | None = None,
               all_groups: bool = False, cache_dir: Path = LANDMARK_CACHE, seeds: int = SEEDS,
               epochs: int = EPOCHS) -> PoseSpec:
    """Train the pose head on the training groups' windows, sampled as the models in `out_dir` sample theirs;
    report it on the held-out groups; save it in `out_dir`."""
    import keras

    if all_groups and validation_groups:
        raise ValueError("--all-groups holds no group out: leave out --validation-groups")
    sampling = models_sampling(out_dir)

    clips = dataset.scan(data_dir)
    classes = dataset.class_names(clips)
    held_groups = () if all_groups else tuple(validation_groups or dataset.default_validation_groups(clips))
    train_clips, held_clips = dataset.split_by_group(clips, held_groups)
    print(f"pose head: {len(train_clips)} training clips, {len(held_clips)} held out (groups {list(held_groups)})",
          flush=True)
    cache = LandmarkCache(cache_dir, sampling)
    training, held = cache.load(train_clips), cache.load(held_clips)
    windows = np.concatenate([landmarks[indices] for _, landmarks, indices in training])
    labels = np.concatenate([np.full(len(indices), classes.index(clip.label)) for clip, _, indices in training])
    x = pose_features(np.concatenate([windows, mirrored(windows)]))
    y = np.concatenate([labels, labels])

    members = []
    for seed in range(seeds):
        keras.utils.set_random_seed(seed)
        network = _network(sampling.num_frames, x.shape[-1], len(classes), UNITS)
        network.compile(keras.optimizers.AdamW(1e-3, weight_decay=1e-3), "sparse_categorical_crossentropy")
        network.fit(x, y, epochs=epochs, batch_size=64, verbose=0)
        members.append((network, _parameters(network)))
        print(f"  member {seed + 1}/{seeds} trained", flush=True)
    head = PoseHead(PoseSpec(classes, sampling, UNITS), [parameters for _, parameters in members])

    report = None
    if held:
        held_windows = [landmarks[indices] for _, landmarks, indices in held]
        answers = [head(w) for w in held_windows]
        keras_answers = np.mean([network.predict(pose_features(np.concatenate(held_windows)), verbose=0)
                                 for network, _ in members], axis=0)
        difference = float(np.abs(np.concatenate(answers) - keras_answers).max())
        if difference > 1e-3:
            raise RuntimeError(f"the NumPy pose head differs from Keras by {difference:.4f}")
        report = accuracy_report(np.stack([a.mean(axis=0) for a in answers]),
                                 np.array([classes.index(clip.label) for clip, _, _ in held]), classes)
        print(f"held out (clip level, groups {list(held_groups)}): top-1 {report['top1']:.1%}", flush=True)
    spec = dataclasses.replace(head.spec, training={
        "data": str(data_dir), "training_groups": sorted({clip.group for clip, _, _ in training}),
        "validation_groups": list(held_groups), "validation": report, "seeds": seeds, "epochs": epochs,
        "landmark_model": LANDMARK_MODEL.name, "training_windows": int(len(windows))})
    head = PoseHead(spec, head.members)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    head.save(out_dir)
    return spec
