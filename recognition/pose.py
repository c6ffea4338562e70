"""A pose stream: where the body's joints are in each sampled frame, and what their motion says.

Exercises look alike across gyms and cameras in the shape and motion of the body, which an
ImageNet CNN sees only through the scene around it. BlazePose's landmark model (from the
`mediapipe==0.10.14` wheel, Apache-2.0, `weights/pose_landmark_full.tflite`) finds 33 body
landmarks in a 256x256 square around a person. `PoseTracker` runs it over a video's sampled
frames as MediaPipe does, without a detector: where no body is being followed, a first pass on
the whole picture finds one and a second looks again around it; after that, each frame takes one
pass on the square around the body in the frame before.

`PoseHead` reads a window's landmarks, relative to the hips in torso lengths so that only the
body's shape and motion are left, with a small bidirectional GRU (trained by
`python -m recognition train-pose`). Its answers are fused with each model's by the weight in
that model's calibration (see `recognition.calibration`). The head runs in NumPy: a few
thousand multiply-adds a window need no TensorFlow at serving.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from recognition.metadata import WEIGHTS_DIR, SamplingSpec
from recognition.video import FrameFormat

LANDMARK_MODEL = WEIGHTS_DIR / "pose_landmark_full.tflite"
"""BlazePose GHUM 3D, full: `mediapipe/modules/pose_landmark/pose_landmark_full.tflite` in the mediapipe 0.10.14
wheel (see weights/NOTICE)."""
LANDMARK_INPUT = 256
BODY = 33
"""BlazePose's body landmarks (the model's other 6 rows only help it track)."""
HIPS, SHOULDERS = [23, 24], [11, 12]
FRAME_FORMAT = FrameFormat(384, crop_borders=True, aspect_range=(1.0, 1.0), padding="black")
"""The whole picture in a square, its shape kept (black around it, where no body can be found)."""
BODY_MARGIN = 1.5
"""The square a body is looked for in: its landmarks' extent times this."""
PRESENCE = 0.5
"""Under this presence score (the model's probability that a body is in the square) the body is lost, and is
looked for again in the whole picture."""
PARAMETERS = "pose.npz"
SPEC = "pose.json"


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(np.asarray(x, np.float64) / 2))  # the logistic function, without overflow


def _interpreter(model: Path):
    """A LiteRT interpreter for `model` (TensorFlow's own where ai-edge-litert is not installed)."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:  # pragma: no cover - the Keras engine without LiteRT
        from tensorflow.lite import Interpreter
    interpreter = Interpreter(model_path=str(model), num_threads=min(2, os.cpu_count() or 1))
    interpreter.allocate_tensors()
    return interpreter


class PoseTracker:
    """Landmarks of consecutive frames of one video: `track(frames)` -> (frames, 33, 4).

    Each landmark is x and y in the frame's side (0-1), depth in the same unit, and the
    probability that it is visible. A frame with no body found gets zeros. Call `reset()`
    between videos.
    """

    def __init__(self, model: Path = LANDMARK_MODEL):
        self.interpreter = _interpreter(model)
        self.input = self.interpreter.get_input_details()[0]["index"]
        outputs = {d["name"]: d["index"] for d in self.interpreter.get_output_details()}
        self.landmarks, self.presence = outputs["Identity"], outputs["Identity_1"]
        self.reset()

    def reset(self) -> None:
        self.square: tuple[np.ndarray, float] | None = None
        """The square (corner, side, in pixels) the body was in on the frame before; None when lost."""

    def track(self, frames: np.ndarray) -> np.ndarray:
        return np.stack([self._frame(frame) for frame in frames]) if len(frames) else np.zeros((0, BODY, 4))

    def _frame(self, rgb: np.ndarray) -> np.ndarray:
        side = float(rgb.shape[0])
        if self.square is not None:
            found, presence = self._look(rgb, *self.square)
            if presence >= PRESENCE:
                return self._keep(found, side)
        found, presence = self._look(rgb, np.zeros(2), side)  # the whole picture, then around what it found
        if presence < PRESENCE:
            self.square = None
            return np.zeros((BODY, 4))
        found, presence = self._look(rgb, *_around(found))
        if presence < PRESENCE:
            self.square = None
            return np.zeros((BODY, 4))
        return self._keep(found, side)

    def _keep(self, found: np.ndarray, side: float) -> np.ndarray:
        self.square = _around(found)
        return np.concatenate([found[:, :3] / side, found[:, 3:4]], axis=1)

    def _look(self, rgb: np.ndarray, corner: np.ndarray, side: float) -> tuple[np.ndarray, float]:
        """The landmarks found in the square at `corner` of `side` pixels, in the frame's pixels, and the
        model's presence score."""
        source = np.float32([corner, corner + [side, 0], corner + [0, side]])
        target = np.float32([[0, 0], [LANDMARK_INPUT, 0], [0, LANDMARK_INPUT]])
        square = cv2.warpAffine(rgb, cv2.getAffineTransform(source, target), (LANDMARK_INPUT, LANDMARK_INPUT))
        self.interpreter.set_tensor(self.input, (square.astype(np.float32) / 255.0)[None])
        self.interpreter.invoke()
        raw = self.interpreter.get_tensor(self.landmarks).reshape(-1, 5)[:BODY]
        scale = side / LANDMARK_INPUT
        found = np.concatenate([corner + raw[:, :2] * scale, raw[:, 2:3] * scale, _sigmoid(raw[:, 3:4])], axis=1)
        return found, float(self.interpreter.get_tensor(self.presence).ravel()[0])


def _around(found: np.ndarray) -> tuple[np.ndarray, float]:
    """The square to look for this body in next: around its visible landmarks, `BODY_MARGIN` times their extent."""
    visible = found[:, 3] > 0.5
    points = found[visible, :2] if visible.sum() >= 4 else found[:, :2]
    low, high = points.min(axis=0), points.max(axis=0)
    side = float(max(high - low)) * BODY_MARGIN + 8.0
    return (low + high) / 2 - side / 2, side


def pose_features(landmarks: np.ndarray) -> np.ndarray:
    """Per frame of each window (..., frames, 33, 4) -> (..., frames, 165): landmarks relative to the hips in
    torso lengths, their change since the window's frame before, and visibility."""
    points, visibility = landmarks[..., :2], landmarks[..., 3:4]
    hips = points[..., HIPS, :].mean(axis=-2, keepdims=True)
    torso = np.linalg.norm(points[..., SHOULDERS, :].mean(axis=-2, keepdims=True) - hips, axis=-1, keepdims=True)
    body = ((points - hips) / torso.clip(1e-3)).clip(-4, 4)
    change = np.diff(body, axis=-3, prepend=body[..., :1, :, :])
    features = np.concatenate([body, change, visibility], axis=-1)
    return features.reshape(*landmarks.shape[:-2], -1).astype(np.float32)


@dataclasses.dataclass(frozen=True)
class PoseSpec:
    """What a trained pose head needs at inference, saved as `pose.json` beside its parameters."""

    classes: tuple[str, ...]
    sampling: SamplingSpec
    units: int
    training: dict[str, Any] = dataclasses.field(default_factory=dict)

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps(dataclasses.asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> "PoseSpec":
        data = json.loads(Path(path).read_text())
        return cls(tuple(data["classes"]), SamplingSpec(**data["sampling"]), data["units"], data.get("training", {}))


def _gru(x: np.ndarray, kernel: np.ndarray, recurrent: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """Keras' GRU (reset gate after the matrix product), its last state: x (batch, steps, dims) -> (batch, units)."""
    units = recurrent.shape[0]
    inputs = x @ kernel + bias[0]
    state = np.zeros((len(x), units), np.float32)
    for step in range(x.shape[1]):
        inner = state @ recurrent + bias[1]
        update = _sigmoid(inputs[:, step, :units] + inner[:, :units])
        reset = _sigmoid(inputs[:, step, units:2 * units] + inner[:, units:2 * units])
        candidate = np.tanh(inputs[:, step, 2 * units:] + reset * inner[:, 2 * units:])
        state = (update * state + (1 - update) * candidate).astype(np.float32)
    return state


class PoseHead:
    """The trained pose head's members; `__call__` turns windows of landmarks into class probabilities."""

    def __init__(self, spec: PoseSpec, members: list[dict[str, np.ndarray]]):
        self.spec, self.members = spec, members

    @classmethod
    def load(cls, weights_dir: Path) -> "PoseHead":
        spec = PoseSpec.load(Path(weights_dir) / SPEC)
        with np.load(Path(weights_dir) / PARAMETERS) as saved:
            count = 1 + max(int(key.split("/")[0]) for key in saved.files)
            members = [{key.split("/")[1]: saved[key] for key in saved.files if key.startswith(f"{m}/")}
                       for m in range(count)]
        return cls(spec, members)

    @staticmethod
    def exists(weights_dir: Path) -> bool:
        return (Path(weights_dir) / PARAMETERS).exists() and (Path(weights_dir) / SPEC).exists()

    def save(self, weights_dir: Path) -> None:
        named = {f"{m}/{key}": value for m, member in enumerate(self.members) for key, value in member.items()}
        np.savez_compressed(Path(weights_dir) / PARAMETERS, **named)
        self.spec.save(Path(weights_dir) / SPEC)

    def __call__(self, windows: np.ndarray) -> np.ndarray:
        """Landmark windows (windows, frames, 33, 4) -> the members' mean probabilities (windows, classes)."""
        x = pose_features(windows)
        return np.mean([_member(parameters, x) for parameters in self.members], axis=0)


def _member(p: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    hidden = np.maximum(x @ p["dense_kernel"] + p["dense_bias"], 0.0)
    forward = _gru(hidden, p["forward_kernel"], p["forward_recurrent"], p["forward_bias"])
    backward = _gru(hidden[:, ::-1], p["backward_kernel"], p["backward_recurrent"], p["backward_bias"])
    logits = np.concatenate([forward, backward], axis=1) @ p["output_kernel"] + p["output_bias"]
    logits -= logits.max(axis=1, keepdims=True)
    scores = np.exp(logits)
    return scores / scores.sum(axis=1, keepdims=True)


def video_landmarks(video, times: np.ndarray, tracker: PoseTracker) -> np.ndarray:
    """The landmarks (len(times), 33, 4) of a video's frames at ascending `times`, as inference takes them."""
    from recognition.video import SampleStream

    tracker.reset()
    return np.concatenate([tracker.track(batch[FRAME_FORMAT]) for batch in SampleStream(video, times, [FRAME_FORMAT])])
