"""Would a pose stream pay? Body landmarks beside a split run, on the groups it never saw.

    pip download --no-deps mediapipe==0.10.14 -d /tmp/mediapipe    # by hand: 36 MB, Apache-2.0
    python -m bench.pose_probe --wheel /tmp/mediapipe/mediapipe-0.10.14-*.whl [--model convlstm] [--landmarks FILE.npz]

The wheel's BlazePose landmark model (`pose_landmark_full.tflite`, run by LiteRT; no detector:
a first pass on the whole frame finds the person, a second on a square around them) gives 33
landmarks on 16 frames spread over each clip. A small GRU over them, normalised to the hips and
the torso's length so that only the body's shape and motion are left, trains on the split runs'
training groups (three seeds, averaged). Its answers on the held-out groups are scored alone and
fused with LRCN's (or ConvLSTM's) split run (`weights/split_run`, calibrated) by a weighted
geometric mean, the weight chosen with each group left out in turn. Nothing here ships: it
measures a lever.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from recognition.metadata import MODEL_NAMES, WEIGHTS_DIR, display_name
from recognition.metrics import bootstrap_interval, top1
from recognition.shifts import SHIFTS, shifted_copy
from recognition.training import dataset
from recognition.video import iter_frames, probe

LANDMARK_MODEL = "mediapipe/modules/pose_landmark/pose_landmark_full.tflite"
FRAMES_PER_CLIP = 16
BODY = 33
"""BlazePose's body landmarks (the model's other 6 rows only help it track)."""
HIPS, SHOULDERS = [23, 24], [11, 12]
SEEDS = 3
WEIGHTS = np.linspace(0.0, 0.6, 13)
"""Pose weights tried in the fusion."""


class Landmarks:
    """BlazePose's landmark model on a frame: (33, 4) x, y, z in the frame's longer side, and visibility."""

    def __init__(self, wheel: Path):
        from ai_edge_litert.interpreter import Interpreter

        with zipfile.ZipFile(wheel) as archive:
            model = archive.read(LANDMARK_MODEL)
        self.interpreter = Interpreter(model_content=model, num_threads=os.cpu_count())
        self.interpreter.allocate_tensors()
        self.input = self.interpreter.get_input_details()[0]["index"]
        self.output = self.interpreter.get_output_details()[0]["index"]  # (1, 195): 39 landmarks x 5

    def _run(self, rgb_square: np.ndarray) -> np.ndarray:
        import cv2

        self.interpreter.set_tensor(self.input, cv2.resize(rgb_square, (256, 256)).astype(np.float32)[None] / 255.0)
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self.output).reshape(39, 5)[:BODY]

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        height, width = rgb.shape[:2]
        longer = max(width, height)
        origin, scale = _square(rgb, width / 2, height / 2, longer)
        found = self._run(origin[0])
        points = origin[1] + found[:, :2] * scale
        visible = _sigmoid(found[:, 3]) > 0.5
        points = points[visible] if visible.sum() >= 4 else points
        low, high = points.min(axis=0), points.max(axis=0)
        centre, side = (low + high) / 2, float(max(high - low)) * 1.5 + 8
        (crop, corner), scale = _square(rgb, centre[0], centre[1], side)
        found = self._run(crop)
        return np.concatenate([(corner + found[:, :2] * scale) / longer, found[:, 2:3] * scale / longer,
                               _sigmoid(found[:, 3:4])], axis=1)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(x / 2))  # the logistic function, without overflow


def _square(rgb: np.ndarray, centre_x: float, centre_y: float, side: float):
    """The square of `side` around a centre, as 256x256 pixels (black outside the frame), its corner and scale."""
    import cv2

    half = side / 2
    corner = np.array([centre_x - half, centre_y - half])
    source = np.float32([corner, corner + [side, 0], corner + [0, side]])
    warp = cv2.getAffineTransform(source, np.float32([[0, 0], [256, 0], [0, 256]]))
    return (cv2.warpAffine(rgb, warp, (256, 256)), corner), side / 256


def clip_landmarks(landmarks: Landmarks, path: Path) -> np.ndarray:
    """(FRAMES_PER_CLIP, 33, 4) landmarks of frames spread evenly over the clip."""
    info = probe(path)
    wanted = set(np.linspace(0, max(info.frame_count - 2, 0), FRAMES_PER_CLIP).astype(int))
    frames = [frame[..., ::-1] for index, (_, frame) in enumerate(iter_frames(info)) if index in wanted]
    frames += frames[-1:] * (FRAMES_PER_CLIP - len(frames))
    return np.stack([landmarks(np.ascontiguousarray(frame)) for frame in frames])


def features(poses: np.ndarray) -> np.ndarray:
    """Per frame: landmarks relative to the hips in torso lengths, their change since the last frame, visibility."""
    points, visibility = poses[..., :2], poses[..., 3:4]
    hips = points[..., HIPS, :].mean(axis=-2, keepdims=True)
    torso = np.linalg.norm(points[..., SHOULDERS, :].mean(axis=-2, keepdims=True) - hips, axis=-1, keepdims=True)
    body = ((points - hips) / torso.clip(1e-3)).clip(-4, 4)
    change = np.diff(body, axis=1, prepend=body[:, :1])
    return np.concatenate([body, change, visibility], axis=-1).reshape(*poses.shape[:2], -1).astype(np.float32)


def pose_answers(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, classes: int) -> np.ndarray:
    """The mean answer of SEEDS small GRUs trained on the training groups' landmark sequences."""
    import keras
    from keras import layers

    answers = []
    for seed in range(SEEDS):
        keras.utils.set_random_seed(seed)
        model = keras.Sequential([
            layers.Input(train_x.shape[1:]), layers.GaussianNoise(0.05), layers.Dense(128, activation="relu"),
            layers.Dropout(0.3), layers.Bidirectional(layers.GRU(64)), layers.Dropout(0.5),
            layers.Dense(classes, activation="softmax")])
        model.compile(keras.optimizers.AdamW(1e-3, weight_decay=1e-3), "sparse_categorical_crossentropy")
        model.fit(train_x, train_y, epochs=80, batch_size=32, verbose=0)
        answers.append(model.predict(test_x, verbose=0))
    return np.mean(answers, axis=0)


def fused(model: np.ndarray, pose: np.ndarray, weight: float) -> np.ndarray:
    scores = np.exp((1 - weight) * np.log(model + 1e-9) + weight * np.log(pose + 1e-9))
    return scores / scores.sum(axis=1, keepdims=True)


def model_answers(name: str, weights_dir: Path, data_dir: Path, shift: str | None,
                 per_class: int | None) -> tuple[list[dataset.Clip], np.ndarray, tuple[str, ...], set[int]]:
    """A model's calibrated clip answers on its held-out groups (or shifted copies), as `evaluate` computes them,
    and the groups it trained on."""
    from recognition.evaluation import held_out_windows
    from recognition.pipeline import Recognizer

    recognizer = Recognizer.load(weights_dir, [name])
    held = held_out_windows(recognizer, data_dir, shift, per_class)[name]
    spec = recognizer.specs[name]
    return (held.clips, np.stack([w.mean(axis=0) for w in held.probabilities]), spec.classes,
            set(spec.training["training_groups"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wheel", type=Path, required=True, help="mediapipe-0.10.14-*.whl (pip download)")
    parser.add_argument("--data", type=Path, default=Path("../shared/data/ucf14"))
    parser.add_argument("--model", choices=MODEL_NAMES, default="lrcn", help="the split run the pose head joins")
    parser.add_argument("--weights", type=Path, default=WEIGHTS_DIR / "split_run")
    parser.add_argument("--landmarks", type=Path, help="a .npz that keeps the landmarks between runs")
    parser.add_argument("--shift", choices=SHIFTS, help="score copies of the held-out clips changed so (evaluate's)")
    parser.add_argument("--per-class", type=int, help="at most this many held-out clips per class (evaluate's)")
    args = parser.parse_args()

    held_out, answers, classes, training_groups = model_answers(args.model, args.weights, args.data, args.shift,
                                                                 args.per_class)
    clips = dataset.scan(args.data)
    landmarks = Landmarks(args.wheel)
    if args.landmarks and args.landmarks.exists():
        poses = np.load(args.landmarks)["poses"]
    else:
        poses = np.stack([clip_landmarks(landmarks, clip.path) for clip in clips])
        if args.landmarks:
            np.savez(args.landmarks, poses=poses)
    index = {clip: number for number, clip in enumerate(clips)}
    test = np.array([index[clip] for clip in held_out])
    train = np.array([number for number, clip in enumerate(clips) if clip.group in training_groups])
    labels = np.array([classes.index(clip.label) for clip in clips])
    x, y, groups = features(poses), labels[test], np.array([clip.group for clip in held_out])
    test_x = x[test]
    if args.shift:
        with tempfile.TemporaryDirectory(prefix="action-lens-shift-") as folder:
            test_x = features(np.stack([clip_landmarks(landmarks, shifted_copy(clip.path, args.shift, Path(folder)))
                                        for clip in held_out]))
    pose = pose_answers(x[train], labels[train], test_x, len(classes))

    scenes = groups * len(classes) + y

    def line(name: str, answers: np.ndarray) -> str:
        low, high = bootstrap_interval(top1, answers, y, scenes)
        return f"{name}: top-1 {top1(answers, y):.1%} (95% interval {low:.1%}-{high:.1%})"

    copies = f"copies ({args.shift}) of " if args.shift else ""
    print(f"{len(test)} {copies}clips of groups {sorted(set(groups.tolist()))}; pose trained on {len(train)}")
    print(line("pose alone", pose))
    model = display_name(args.model)
    print(line(f"{model}'s split run", answers))
    left_out = np.zeros_like(answers)
    for group in np.unique(groups):
        rest = groups != group
        weight = max(WEIGHTS, key=lambda w: top1(fused(answers[rest], pose[rest], w), y[rest]))
        left_out[~rest] = fused(answers[~rest], pose[~rest], weight)
        print(f"  pose weight chosen without g{group}: {weight:.2f}")
    print(line("fused, weight chosen with each group left out", left_out))
    for number, name in enumerate(classes):
        mine = y == number
        print(f"    {name:<20} pose {top1(pose[mine], y[mine]):.0%}  {model} {top1(answers[mine], y[mine]):.0%}  "
              f"fused {top1(left_out[mine], y[mine]):.0%}")


if __name__ == "__main__":
    main()
