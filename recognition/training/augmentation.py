"""Augmentation for training: random changes to whole windows, redrawn every epoch.

A window is changed all at once (one crop, one flip, one colour change for all its
frames), so the motion between its frames stays what it was.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import cv2
import keras
import numpy as np


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
