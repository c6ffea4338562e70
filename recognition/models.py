"""The two architectures, built from one shared ImageNet stem.

Both models take a window of RGB frames, shape (frames, size, size, 3), and are
laid out as `recognition.contract` says (`frames -> TimeDistributed(frame_encoder)
-> sequence_head`), so the inference pipeline can run the per-frame part once per
frame and share it between overlapping windows.

- LRCN (Donahue et al.): an ImageNet CNN on each frame (the last blocks fine-tuned),
  pooled to a vector, then an LSTM over the sequence of vectors and their
  frame-to-frame differences (a cheap motion cue).
  A second, motion stream (the LRCN paper's flow model) runs a small CNN on each
  frame's optical flow (see `recognition.motion`) and its own LSTM. The shipped
  LRCN joins two members, each with both streams, trained with different seeds:
  on 575 training clips one run's accuracy varies by a few points, and their
  ensemble is steadier (see `assemble`).
- ConvLSTM (Shi et al.): the same CNN on each frame, its fine-tuned last blocks
  kept as 7x7 feature maps (64 channels), and a ConvLSTM2D layer over the maps
  and their frame-to-frame differences learns space and time together. (On the
  frozen stem's 14x14 maps instead, it stayed near 50 % on held-out groups.)
  The shipped ConvLSTM is fused with a motion stream of its own, like an LRCN
  member's.

The stem (the CNN up to its last block at 14x14, see `recognition.backbones`) is
always frozen: training runs it in inference mode and fits only what comes after it.
"""

from __future__ import annotations

import dataclasses

import keras
from keras import layers

from recognition.backbones import Backbone
from recognition.contract import (
    FRAME_ENCODER,
    FRAME_HEAD,
    MOTION_ENCODER,
    MOTION_SEQUENCE_HEAD,
    SEQUENCE_HEAD,
    STEM,
    split,
)


def split_backbone(backbone: Backbone, image_size: int, weights: str | None) -> tuple[keras.Model, keras.Model]:
    """Build the backbone and cut it into a frozen stem (with input scaling) and its top blocks.

    `weights` is a local file, `"imagenet"` (see `recognition.backbones`) or None
    (random, for tests that only check shapes).
    """
    cnn = backbone.build(image_size, weights)
    frames = keras.Input(cnn.input.shape[1:], name="frame")
    stem_body = keras.Model(cnn.input, cnn.get_layer(backbone.stem_output).output, name="stem_body")
    stem = keras.Model(frames, stem_body(backbone.scaling()(frames)), name=STEM)
    stem.trainable = False
    top = keras.Model(cnn.get_layer(backbone.stem_output).output, cnn.output, name="top_blocks")
    for layer in top.layers:
        if isinstance(layer, layers.BatchNormalization):
            layer.trainable = False
    return stem, top


def build_lrcn_head(
    feature_shape: tuple[int, ...], top: keras.Model, num_frames: int, num_classes: int
) -> keras.Model:
    """Trainable part of LRCN: top CNN blocks per frame, then the LSTM."""
    features = keras.Input((num_frames, *feature_shape), name="stem_features")
    x = layers.TimeDistributed(
        keras.Sequential([top, layers.GlobalAveragePooling2D()], name=FRAME_HEAD), name=FRAME_HEAD
    )(features)
    x = sequence_classifier(x, num_frames, num_classes)
    return keras.Model(features, x, name="lrcn_trainable")


def sequence_classifier(frame_vectors, num_frames: int, num_classes: int):
    """LSTM over per-frame vectors plus their differences (appearance and motion)."""
    dim = frame_vectors.shape[-1]
    head_input = keras.Input((num_frames, dim), name="frame_vectors")
    x = layers.Dropout(0.3)(head_input)
    x = layers.Concatenate()([x, frame_differences(x)])
    x = layers.TimeDistributed(layers.Dense(256, activation="relu"))(x)
    x = layers.LayerNormalization()(x)
    x = layers.LSTM(256)(x)
    x = layers.Dropout(0.4)(x)
    probabilities = layers.Dense(num_classes, activation="softmax")(x)
    head = keras.Model(head_input, probabilities, name=SEQUENCE_HEAD)
    return head(frame_vectors)


def frame_differences(x):
    """x[t] - x[t-1] (zero at t=0), from built-in layers so saved files need no custom code."""
    later = layers.Cropping1D((1, 0))(x)
    earlier = layers.Cropping1D((0, 1))(x)
    return layers.ZeroPadding1D((1, 0))(layers.Subtract()([later, earlier]))


def build_convlstm_head(
    feature_shape: tuple[int, ...], top: keras.Model, num_frames: int, num_classes: int
) -> keras.Model:
    """Trainable part of ConvLSTM: top CNN blocks per frame, kept as 7x7 maps, then ConvLSTM2D.

    The ConvLSTM sees each frame's maps and their change from the previous frame,
    so it learns where things move as well as what they are.
    """
    features = keras.Input((num_frames, *feature_shape), name="stem_features")
    frame_head = keras.Sequential([top, layers.Conv2D(64, 1, activation="relu", name="reduce")], name=FRAME_HEAD)
    maps = layers.TimeDistributed(frame_head, name=FRAME_HEAD)(features)

    head_input = keras.Input(tuple(maps.shape[1:]), name="frame_maps")
    x = layers.SpatialDropout3D(0.2)(head_input)
    x = layers.Concatenate()([x, map_differences(x)])
    x = layers.ConvLSTM2D(96, 3, padding="same", dropout=0.1)(x)
    x = layers.BatchNormalization()(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(0.4)(x)
    probabilities = layers.Dense(num_classes, activation="softmax")(x)
    head = keras.Model(head_input, probabilities, name=SEQUENCE_HEAD)
    return keras.Model(features, head(maps), name="convlstm_trainable")


def map_differences(x):
    """x[t] - x[t-1] for a sequence of feature maps (zero at t=0)."""
    later = layers.Cropping3D(((1, 0), (0, 0), (0, 0)))(x)
    earlier = layers.Cropping3D(((0, 1), (0, 0), (0, 0)))(x)
    return layers.ZeroPadding3D(((1, 0), (0, 0), (0, 0)))(layers.Subtract()([later, earlier]))


FUSED = "fused"
"""The softmax over the mean of the streams' logits, in a model with several streams or members."""
MOTION_FRAME = "motion_frame"
"""A motion stream's per-field CNN (several members': one model of that name holding `motion_frame_<n>`)."""

FLOW_SCALE = 0.7
"""Brings Farneback flow (in pixels of a 56-px field) to about unit spread."""


def build_motion_stream(num_frames: int, field_size: int, num_classes: int) -> keras.Model:
    """LRCN's motion stream, trained from scratch: a small CNN per flow field, then an LSTM.

    Flow carries no scenery to memorise, so this stream learns how each action
    moves; it is weaker alone than the RGB stream but corrects its confusions.
    """
    field = keras.Input((field_size, field_size, 2), name="flow_field")
    x = layers.Rescaling(FLOW_SCALE)(field)
    for filters in (32, 64, 128):
        x = layers.MaxPooling2D()(_conv_bn_relu(x, filters))
    x = layers.GlobalAveragePooling2D()(_conv_bn_relu(x, 128))
    frame_motion = keras.Model(field, x, name=MOTION_FRAME)

    flows = keras.Input((num_frames, field_size, field_size, 2), name="flows")
    vectors = layers.TimeDistributed(frame_motion, name=MOTION_ENCODER)(flows)
    head_input = keras.Input(tuple(vectors.shape[1:]), name="motion_vectors")
    y = layers.Dropout(0.3)(head_input)
    y = layers.LSTM(128)(y)
    y = layers.Dropout(0.5)(y)
    probabilities = layers.Dense(num_classes, activation="softmax")(y)
    head = keras.Model(head_input, probabilities, name=MOTION_SEQUENCE_HEAD)
    return keras.Model(flows, head(vectors), name="motion_stream")


def _conv_bn_relu(x, filters: int):
    x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
    return layers.ReLU()(layers.BatchNormalization()(x))


def build_trainable(
    architecture: str, stem: keras.Model, top: keras.Model, num_frames: int, num_classes: int
) -> keras.Model:
    """The part of a model that training fits, fed with cached stem features."""
    feature_shape = tuple(stem.output.shape[1:])
    if architecture == "lrcn":
        return build_lrcn_head(feature_shape, top, num_frames, num_classes)
    if architecture == "convlstm":
        return build_convlstm_head(feature_shape, top, num_frames, num_classes)
    raise ValueError(f"unknown architecture {architecture!r}")


def assemble(architecture: str, stem: keras.Model, trainables: list[keras.Model], num_frames: int,
             motion_streams: list[keras.Model] = ()) -> keras.Model:
    """The full model: stem and trained layers joined for saving and inference.

    Its inputs are the frames, plus their flow fields when there are motion
    streams. Each input has one per-frame encoder (`frame_encoder`,
    `motion_encoder`) that concatenates what every member's encoder makes of the
    frame, and one `sequence_head` takes all the encoders' outputs for a window,
    so the pipeline can encode each frame once. With several streams or members,
    the head averages their logits: a geometric mean of their probabilities,
    so a class that every stream finds likely beats one that a single stream is
    sure of (on g21-g25 it beat averaging probabilities in both trained LRCNs).
    """
    return _assembled(architecture, stem, Members(
        [t.get_layer(FRAME_HEAD).layer for t in trainables], [t.get_layer(SEQUENCE_HEAD) for t in trainables],
        [m.get_layer(MOTION_ENCODER).layer for m in motion_streams],
        [m.get_layer(MOTION_SEQUENCE_HEAD) for m in motion_streams]), num_frames)


@dataclasses.dataclass(frozen=True)
class Members:
    """A model's trained parts, member by member: per-frame encoders and the heads over their windows."""

    frame_heads: list[keras.Model]
    sequence_heads: list[keras.Model]
    motion_encoders: list[keras.Model]
    motion_heads: list[keras.Model]

    def __add__(self, other: "Members") -> "Members":
        return Members(*(ours + theirs for ours, theirs in zip(dataclasses.astuple(self), dataclasses.astuple(other))))


def members(model: keras.Model) -> Members:
    """The members of a model built by `assemble` (saved and loaded, or not); their heads end in logits."""
    parts = split(model)
    head_layers = [layer for layer in parts.sequence_head.layers if isinstance(layer, keras.Model)]
    if FUSED not in {layer.name for layer in parts.sequence_head.layers}:  # one member, one stream
        head_layers = [parts.sequence_head]
    return Members(
        _each_member(parts.frame_head, FRAME_HEAD),
        [h for h in head_layers if not h.name.startswith(MOTION_SEQUENCE_HEAD)],
        _each_member(parts.motion_encoder, MOTION_FRAME) if parts.motion_encoder is not None else [],
        [h for h in head_layers if h.name.startswith(MOTION_SEQUENCE_HEAD)],
    )


def join(architecture: str, models: list[keras.Model], num_frames: int) -> keras.Model:
    """One model whose members are every member of `models` (trained apart, on the same stem).

    It fuses them as `assemble` fuses the members it trains: by their mean logits (a member
    without a motion stream adds its appearance stream only).
    """
    each = [members(model) for model in models]
    return _assembled(architecture, split(models[0]).stem, sum(each[1:], each[0]), num_frames)


def _each_member(encoder: keras.Model, name: str) -> list[keras.Model]:
    """A (possibly joined, see `_joined`) per-frame encoder's members."""
    joined = [layer for layer in encoder.layers if layer.name.startswith(f"{name}_") and isinstance(layer, keras.Model)]
    return joined or [encoder]


def _assembled(architecture: str, stem: keras.Model, parts: Members, num_frames: int) -> keras.Model:
    frames = keras.Input((num_frames, *stem.input.shape[1:]), name="frames")
    frame_head = _joined(parts.frame_heads, stem.output.shape[1:], FRAME_HEAD)
    encoder_input = keras.Input(stem.input.shape[1:], name="frame")
    encoder = keras.Model(encoder_input, frame_head(stem(encoder_input)), name=f"{FRAME_ENCODER}_model")
    vectors = layers.TimeDistributed(encoder, name=FRAME_ENCODER)(frames)
    if len(parts.sequence_heads) == 1 and not parts.motion_heads:
        return keras.Model(frames, parts.sequence_heads[0](vectors), name=architecture)

    appearance_input = keras.Input(tuple(vectors.shape[1:]), name="frame_vectors")
    appearance_logits = _member_logits(appearance_input, parts.sequence_heads, SEQUENCE_HEAD)
    if not parts.motion_heads:
        head = keras.Model(appearance_input, _fused(appearance_logits), name=SEQUENCE_HEAD)
        return keras.Model(frames, head(vectors), name=architecture)

    flow_field = parts.motion_encoders[0].inputs[0].shape[1:]
    flows = keras.Input((num_frames, *flow_field), name="flows")
    motion_frame = _joined(parts.motion_encoders, flow_field, MOTION_FRAME)
    motion_vectors = layers.TimeDistributed(motion_frame, name=MOTION_ENCODER)(flows)
    motion_input = keras.Input(tuple(motion_vectors.shape[1:]), name="motion_vectors")
    motion_logits = _member_logits(motion_input, parts.motion_heads, MOTION_SEQUENCE_HEAD)
    head = keras.Model([appearance_input, motion_input], _fused(appearance_logits + motion_logits),
                       name=SEQUENCE_HEAD)
    return keras.Model([frames, flows], head([vectors, motion_vectors]), name=architecture)


def _fused(logits: list) -> keras.KerasTensor:
    """The softmax of the streams' mean logits."""
    return layers.Activation("softmax", name=FUSED)(layers.Average()(logits))


def _joined(encoders: list[keras.Model], input_shape: tuple, name: str) -> keras.Model:
    """Several members' per-frame encoders as one, their outputs concatenated; one member's as it is."""
    if len(encoders) == 1:
        return encoders[0]
    x = keras.Input(input_shape, name=f"{name}_input")
    outputs = [keras.Model(x, encoder(x), name=f"{name}_{number}")(x) for number, encoder in enumerate(encoders, 1)]
    return keras.Model(x, layers.Concatenate()(outputs), name=name)


def _member_logits(vectors, heads: list[keras.Model], name: str) -> list:
    """Each head's logits on its own slice of the concatenated per-frame vectors."""
    logits, offset = [], 0
    for number, head in enumerate(heads, 1):
        width = head.inputs[0].shape[-1]
        part = vectors if len(heads) == 1 else vectors[..., offset : offset + width]
        logits.append(_logits(head, f"{name}_{number}_logits")(part))
        offset += width
    return logits


def _logits(head: keras.Model, name: str) -> keras.Model:
    """`head` without its final softmax: its last Dense layer copied without the activation (a head that
    already ends in logits is copied as it is)."""
    classifier = head.layers[-1]
    copy = layers.Dense(classifier.units, name=f"{name}_dense")
    outputs = copy(classifier.input)
    copy.set_weights(classifier.get_weights())
    return keras.Model(head.inputs, outputs, name=name)
