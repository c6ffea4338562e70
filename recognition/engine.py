"""What both inference engines hand the pipeline: a model cut into the parts it runs.

`pipeline.LoadedModel` (Keras) and `litert.LiteRTModel` (LiteRT) load a saved
model into an `EngineModel`: numpy arrays in, numpy arrays out, for the frozen
stem, the per-frame head, the motion encoder and the sequence head (see
`recognition.contract`). Nothing here imports TensorFlow.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Iterable

import numpy as np

from recognition.metadata import ModelSpec
from recognition.sampling import SamplePlan

WINDOW_BATCH = 64
"""Windows scored at once by a sequence head."""


def weights_digest(stem_weights: Iterable[np.ndarray]) -> str:
    """A frozen stem's weights, fingerprinted."""
    digest = hashlib.sha1()
    for weight in stem_weights:
        digest.update(weight.tobytes())
    return digest.hexdigest()


def stem_fingerprint(spec: ModelSpec, stem_weights_digest: str) -> str:
    """What identifies a frozen stem: its weights and the frames it takes (models with the same one share it)."""
    return hashlib.sha1(f"{spec.frame_format!r}:{stem_weights_digest}".encode()).hexdigest()


@dataclasses.dataclass
class EngineModel:
    """A loaded model's inference parts, each taking and giving float32 numpy arrays.

    `stem_id` fingerprints the stem's weights and frame format: models on the same
    frozen ImageNet stem that take the same frames share it, so the pipeline runs
    it once per frame for all of them.
    """

    spec: ModelSpec
    stem_id: str
    run_stem: Callable[[np.ndarray], np.ndarray]
    run_frame_head: Callable[[np.ndarray], np.ndarray]
    run_motion_encoder: Callable[[np.ndarray], np.ndarray] | None
    score_windows: Callable[[list[np.ndarray]], np.ndarray]

    def score(self, features: list[np.ndarray], plan: SamplePlan) -> np.ndarray:
        """Window probabilities, shape (windows, classes), from each encoder's features of the frames of `plan`."""
        indices = plan.window_indices()
        return np.concatenate([self.score_windows([f[indices[i : i + WINDOW_BATCH]] for f in features])
                               for i in range(0, len(indices), WINDOW_BATCH)])
