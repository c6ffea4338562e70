"""The saved-model contract: the layer names that training writes and serving reads.

Every saved model is laid out as

    frames -> frame_encoder (per frame: stem, then frame_head) --> sequence_head -> probabilities
    flows  -> motion_encoder (per flow field) ------------------/   (models with a motion stream)

`models` builds its layers under these names, and the pipeline cuts a loaded model
at them (`split`), so it can run each frame once however many windows share it and
run the frozen stem once for every model built on it.
"""

from __future__ import annotations

import dataclasses

import keras

FRAME_ENCODER = "frame_encoder"
"""Per frame: the frozen `stem`, then the trained `frame_head`."""
STEM = "stem"
FRAME_HEAD = "frame_head"
MOTION_ENCODER = "motion_encoder"
"""Per flow field, in models with a motion stream."""
SEQUENCE_HEAD = "sequence_head"
"""Per window: every encoder's outputs for its frames in, class probabilities out."""
MOTION_SEQUENCE_HEAD = "motion_sequence_head"
"""A trained motion stream's own head, before `models.assemble` fuses it into the `sequence_head`."""


@dataclasses.dataclass(frozen=True)
class ModelParts:
    """A saved model cut where the pipeline runs it: per frame, per flow field and per window."""

    stem: keras.Model
    frame_head: keras.Model
    motion_encoder: keras.Model | None
    sequence_head: keras.Model


def split(model: keras.Model) -> ModelParts:
    """The parts of a model built by `models.assemble` (saved and loaded, or not)."""
    names = {layer.name for layer in model.layers}
    missing = sorted({FRAME_ENCODER, SEQUENCE_HEAD} - names)
    if missing:
        raise ValueError(f"model {model.name!r} has no {' or '.join(missing)} layer: it was not built by "
                         "recognition.models")
    encoder = model.get_layer(FRAME_ENCODER).layer
    motion_encoder = model.get_layer(MOTION_ENCODER).layer if MOTION_ENCODER in names else None
    return ModelParts(encoder.get_layer(STEM), encoder.get_layer(FRAME_HEAD), motion_encoder,
                      model.get_layer(SEQUENCE_HEAD))
