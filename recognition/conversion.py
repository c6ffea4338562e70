"""Converting a trained model for LiteRT: what `python -m recognition export` does.

Serving reads the copies (`recognition.litert`); this writes them, with TensorFlow,
from the `.keras` file and, for the int8 frame head, frames of the model's own
training clips.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from recognition.engine import weights_digest
from recognition.litert import (
    CACHE_DIR,
    FRAME_HEAD,
    MOTION_ENCODER,
    SEQUENCE_HEAD,
    STEM,
    STEM_SUFFIX,
    NotConverted,
    converted_path,
    find_converted,
    int8_path,
)
from recognition.metadata import ModelSpec, metadata_path
from recognition.training import dataset
from recognition.video import VideoError, probe, read_samples

CALIBRATION_FRAMES = 512
"""Frames of the model's training clips that set the int8 frame head's activation ranges."""


def calibration_frames(model_path: Path, data_dir: Path, count: int = CALIBRATION_FRAMES) -> np.ndarray:
    """`count` frames of the model's own training clips, as the model takes them: uint8 (count, size, size, 3).

    Two frames a clip (at a third and two thirds of it), from clips spread over every class and group.
    """
    spec = ModelSpec.load(metadata_path(model_path))
    clips = dataset.trained_on(dataset.scan(Path(data_dir)), spec)
    if not clips:
        raise ValueError(f"{data_dir} has no clips of the classes {Path(model_path).name} was trained on")
    frames = []
    for clip in clips[:: max(1, len(clips) // (count // 2))]:
        try:
            duration = probe(clip.path).duration_s
            frames.append(read_samples(clip.path, np.array([duration / 3, 2 * duration / 3]),
                                       [spec.frame_format])[spec.frame_format])
        except VideoError:
            continue
    return np.concatenate(frames)[:count]


def convert(model_path: Path, output: Path, calibration: np.ndarray | None = None) -> Path:
    """Convert a saved model's four inference parts into one `.tflite` file with a signature each.

    Recurrent layers are unrolled (16 steps) so every step's matrix products
    and convolutions reach XNNPACK instead of running in a LiteRT while loop,
    and their dropout is switched off: it does nothing at inference, but its
    random-seed state would otherwise become a variable that keeps XNNPACK
    away from the whole file. The `.tflite` is written whole, then moved into
    place, so a reader never sees half of one.

    What is served is quantized where it pays (`int8_path`). The sequence
    head is also written with int8 weights (dynamic-range quantization:
    activations are quantized per batch as they come, so it needs no data):
    XNNPACK runs the ConvLSTM's recurrent convolutions in a fifth of the
    float time. With `calibration` frames (`calibration_frames`), the
    per-frame head is also written wholly in int8, its activation ranges set
    on what the stem makes of them: a quarter of its float time (int8
    weights alone save a quarter). The stem and the motion encoder stay
    float: int8 gains nothing on the stem, and moves the small motion CNN's
    answers too much.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import tensorflow as tf

    from recognition import contract

    spec = ModelSpec.load(metadata_path(model_path))
    model = keras.saving.load_model(model_path, compile=False)
    for layer in _nested_layers(model):
        if isinstance(layer, keras.layers.RNN):
            layer.unroll = True
            for attribute in ("dropout", "recurrent_dropout"):
                if hasattr(layer.cell, attribute):
                    setattr(layer.cell, attribute, 0.0)
    split = contract.split(model)
    stem, frame_head, head = split.stem, split.frame_head, split.sequence_head
    frames = spec.sampling.num_frames

    def signature(layer, *shapes: tuple) -> tf.types.experimental.PolymorphicFunction:
        inputs = [tf.TensorSpec([None, *shape], tf.float32, name=f"input_{number}")
                  for number, shape in enumerate(shapes)]
        return tf.function(lambda *x: {"output": layer(x[0] if len(x) == 1 else list(x), training=False)},
                           input_signature=inputs)

    parts = {STEM: signature(stem, stem.input.shape[1:]),
             FRAME_HEAD: signature(frame_head, stem.output.shape[1:])}
    window_shapes = [(frames, *frame_head.output.shape[1:])]
    if spec.motion is not None:
        motion_encoder = split.motion_encoder
        parts[MOTION_ENCODER] = signature(motion_encoder, motion_encoder.input.shape[1:])
        window_shapes.append((frames, *motion_encoder.output.shape[1:]))
    parts[SEQUENCE_HEAD] = signature(head, *window_shapes)

    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="action-lens-export-") as folder:
        archive = keras.export.ExportArchive()
        archive.track(model)
        for name, function in parts.items():
            archive.add_endpoint(name, function)
        archive.write_out(folder, verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(folder, signature_keys=list(parts))
        flatbuffer = converter.convert()
        converter = tf.lite.TFLiteConverter.from_saved_model(folder, signature_keys=[SEQUENCE_HEAD])
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        _write(int8_path(output, SEQUENCE_HEAD), converter.convert())
        if calibration is not None:
            features = stem.predict(np.asarray(calibration, np.float32), batch_size=16, verbose=0)
            converter = tf.lite.TFLiteConverter.from_saved_model(folder, signature_keys=[FRAME_HEAD])
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.representative_dataset = lambda: ({"input_0": features[i : i + 1]} for i in range(len(features)))
            _write(int8_path(output, FRAME_HEAD), converter.convert())
    _write(output.with_suffix(STEM_SUFFIX), f"{weights_digest(stem.get_weights())}\n".encode())
    _write(output, flatbuffer)
    return output


def _write(path: Path, flatbuffer: bytes) -> None:
    """Write a file whole, then move it into place, so a reader never sees half of one."""
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    partial.write_bytes(flatbuffer)
    os.replace(partial, path)


def _nested_layers(layer) -> Iterator:
    """`layer` and every layer inside it, through nested models and wrappers (TimeDistributed)."""
    yield layer
    for inner in getattr(layer, "layers", ()):
        yield from _nested_layers(inner)
    if getattr(layer, "layer", None) is not None:
        yield from _nested_layers(layer.layer)


def export(model_path: Path, cache_dir: Path = CACHE_DIR, data_dir: Path | None = None) -> Path:
    """The LiteRT copy of `model_path`: the one shipped beside it, else the cache's, converted now if need be.

    A copy is filed under the `.keras` file's digest, so a retrained model never runs an old copy.
    With `data_dir` (the clips the model was trained on), it also gets its calibrated int8 frame head.
    """
    try:
        return find_converted(model_path, cache_dir, frame_head=data_dir is not None)
    except NotConverted:
        path = converted_path(model_path, cache_dir)
        logging.getLogger(__name__).warning("converting %s for LiteRT into %s (once per model file; a minute "
                                            "or more)", model_path, path.parent)
        convert(model_path, path, None if data_dir is None else calibration_frames(model_path, data_dir))
    return path
