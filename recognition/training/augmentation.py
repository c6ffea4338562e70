"""Augmentation for training: random changes to whole windows, redrawn every epoch.

A window is changed all at once (one crop, one flip, one colour change for all its
frames), so the motion between its frames stays what it was. `augment_web` makes a
window look like footage people bring rather than UCF101's: phone framing, a tilted
camera, blur, low resolution, compression, captions, slow motion.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import cv2
import keras
import numpy as np

CAPTION_CHARACTERS = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 !#:"))

WEB_CHANGES = {"portrait": 0.35, "rotation": 0.3, "blur": 0.25, "low_resolution": 0.3, "compression": 0.4,
               "caption": 0.25, "slow_motion": 0.15}
"""How often each change is made to a window chosen for `augment_web`."""


def augment_window(window: np.ndarray, rng: np.random.Generator, web: float = 0.0) -> np.ndarray:
    """One random crop, flip and colour change, applied alike to every frame of a window.

    With probability `web`, the window is first given some of `augment_web`'s changes.
    """
    if web and rng.random() < web:
        window = augment_web(window, rng)
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


def augment_web(window: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Some of `WEB_CHANGES`, each drawn once and applied alike to every frame of a (frames, size, size, 3) window.

    Portrait framing follows inference: a tall part of the 4:3 picture is padded
    to 4:3 by mirroring its edges (see `video.to_square_rgb`), never squeezed.
    """
    size = window.shape[1]
    made = {name for name, share in WEB_CHANGES.items() if rng.random() < share}
    frames = [np.asarray(frame) for frame in window]
    if "slow_motion" in made:  # half or two-thirds speed: fewer distinct frames, each shown longer
        shown = np.linspace(0, len(frames) * rng.choice([0.5, 0.67]) - 1, len(frames)).round().astype(int)
        frames = [frames[i] for i in shown]
    steps = []
    if "portrait" in made:
        aspect = rng.uniform(0.5, 1.0)  # 9:16 up to square, as a share of UCF101's 4:3
        height = int(size * rng.uniform(0.65, 1.0))
        width = max(8, int(height * aspect / (4 / 3)))
        top, left = rng.integers(0, size - height + 1), rng.integers(0, size - width + 1)
        shown_width = max(8, round(size * aspect / (4 / 3)))
        pad_left = (size - shown_width) // 2

        def portrait(frame):
            strip = cv2.resize(frame[top : top + height, left : left + width], (shown_width, size),
                               interpolation=cv2.INTER_AREA)
            return cv2.copyMakeBorder(strip, 0, 0, pad_left, size - shown_width - pad_left, cv2.BORDER_REFLECT_101)
        steps.append(portrait)
    if "rotation" in made:
        turn = cv2.getRotationMatrix2D((size / 2, size / 2), rng.uniform(-7, 7), rng.uniform(1.0, 1.12))
        steps.append(lambda frame: cv2.warpAffine(frame, turn, (size, size), borderMode=cv2.BORDER_REFLECT_101))
    if "low_resolution" in made:
        small = int(size * rng.uniform(0.25, 0.6))
        steps.append(lambda frame: cv2.resize(cv2.resize(frame, (small, small), interpolation=cv2.INTER_AREA),
                                              (size, size), interpolation=cv2.INTER_LINEAR))
    if "blur" in made:
        sigma = rng.uniform(0.8, 2.5)
        steps.append(lambda frame: cv2.GaussianBlur(frame, (0, 0), sigma))
    if "caption" in made:
        text = "".join(rng.choice(CAPTION_CHARACTERS, rng.integers(4, 22)))
        scale = size / 224 * rng.uniform(0.4, 1.0)
        origin = (int(rng.integers(0, size // 3)), int(rng.choice([rng.integers(size // 8, size // 4),
                                                                   rng.integers(size * 3 // 4, size - 4)])))
        ink = tuple(int(c) for c in rng.choice([(255, 255, 255), (255, 230, 0), (20, 20, 20)]))

        def caption(frame):
            frame = frame.copy()
            cv2.putText(frame, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 3, cv2.LINE_AA)
            cv2.putText(frame, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, ink, 1, cv2.LINE_AA)
            return frame
        steps.append(caption)
    if "compression" in made:
        quality = int(rng.integers(8, 40))
        steps.append(lambda frame: cv2.imdecode(
            cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])[1], cv2.IMREAD_UNCHANGED))
    for step in steps:
        frames = [step(frame) for frame in frames]
    return np.stack(frames).astype(window.dtype)


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
