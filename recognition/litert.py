"""The shipped models run through LiteRT (TensorFlow Lite, XNNPACK): same answers, less time, no TensorFlow.

Inference needs each model in four parts: the frozen stem, the per-frame head,
the motion encoder (LRCN) and the sequence head (see `recognition.pipeline`).
`recognition.conversion` writes them as the four signatures of one `.tflite` file,
float32 as trained, so its answers match the Keras model's to rounding; beside it,
the per-frame and sequence heads in int8, which is what is served (answers
within a stated tolerance, tests/test_litert.py). LiteRT's XNNPACK kernels run MobileNetV2's
convolutions in about half TensorFlow's time, and serving then never imports
TensorFlow, which takes seconds.

The copies are filed under the `.keras` file's SHA-256, beside it (as shipped) or
in a cache folder: a retrained model gets its own.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from recognition.engine import EngineModel, stem_fingerprint
from recognition.metadata import ModelSpec, metadata_path

CACHE_DIR = Path(os.environ.get("ACTION_LENS_CACHE", Path.home() / ".cache" / "action-lens")) / "litert"
STEM, FRAME_HEAD, MOTION_ENCODER, SEQUENCE_HEAD = "stem", "frame_head", "motion_encoder", "sequence_head"
STEM_SUFFIX = ".stem-weights"
"""Beside each converted file: its frozen stem's weights digest (the frames it takes come from the metadata)."""
INT8_SUFFIXES = {SEQUENCE_HEAD: ".sequence-head-int8.tflite", FRAME_HEAD: ".frame-head-int8.tflite"}
"""Beside each converted file, the parts served in int8 (see `recognition.conversion`); the frame head's only
when `export` had the model's training clips to calibrate it on."""


def keras_digest(path: Path) -> str:
    """SHA-256 of a `.keras` file: what a converted copy is filed under."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def converted_path(model_path: Path, cache_dir: Path = CACHE_DIR) -> Path:
    """Where the LiteRT copy of `model_path` (a `.keras` file) is kept."""
    return Path(cache_dir) / f"{Path(model_path).stem}-{keras_digest(model_path)[:16]}.tflite"


def int8_path(converted: Path, part: str) -> Path:
    """Where the int8 copy of `part` (FRAME_HEAD or SEQUENCE_HEAD) of the converted file `converted` is kept."""
    return Path(converted).with_suffix(INT8_SUFFIXES[part])


def _is_complete(converted: Path, frame_head: bool = False) -> bool:
    """Whether a converted copy has everything serving reads (and, with `frame_head`, the int8 frame head)."""
    return (converted.exists() and converted.with_suffix(STEM_SUFFIX).exists()
            and int8_path(converted, SEQUENCE_HEAD).exists()
            and (not frame_head or int8_path(converted, FRAME_HEAD).exists()))


class NotConverted(FileNotFoundError):
    """A model with no LiteRT copy yet, beside it or in the cache (`recognition.conversion.export` makes one)."""


def find_converted(model_path: Path, cache_dir: Path = CACHE_DIR, frame_head: bool = False) -> Path:
    """The complete LiteRT copy of `model_path`: the one shipped beside it, else the cache's."""
    for folder in (Path(model_path).parent, Path(cache_dir)):
        converted = converted_path(model_path, folder)
        if _is_complete(converted, frame_head):
            return converted
    raise NotConverted(f"{model_path} has no LiteRT copy yet (python -m recognition export makes one)")


def _threads() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


class LiteRTModel(EngineModel):
    """A model's inference parts as LiteRT signature runners, any batch size (the interpreter resizes)."""

    @classmethod
    def load(cls, path: Path, cache_dir: Path = CACHE_DIR, quantized: bool = True) -> "LiteRTModel":
        """Load the LiteRT copy of the `.keras` file at `path` (`NotConverted` where there is none yet).

        Its sequence head runs in int8, and its frame head too where the copy has a calibrated one,
        unless `quantized` is False: float throughout, as converted.
        """
        from ai_edge_litert.interpreter import Interpreter

        converted = find_converted(path, cache_dir)
        spec = ModelSpec.load(metadata_path(path))
        interpreter = Interpreter(str(converted), num_threads=_threads())
        runners = {name: interpreter.get_signature_runner(name) for name in interpreter.get_signature_list()}
        for name in INT8_SUFFIXES if quantized else ():
            if int8_path(converted, name).exists():
                int8 = Interpreter(str(int8_path(converted, name)), num_threads=_threads())
                runners[name] = int8.get_signature_runner(name)

        def part(name: str) -> Callable[..., np.ndarray]:
            runner = runners[name]

            def run(*inputs: np.ndarray) -> np.ndarray:
                arrays = {f"input_{number}": np.asarray(x, np.float32) for number, x in enumerate(inputs)}
                return runner(**arrays)["output"]

            return run

        motion = part(MOTION_ENCODER) if MOTION_ENCODER in runners else None
        head = part(SEQUENCE_HEAD)
        stem_id = stem_fingerprint(spec, converted.with_suffix(STEM_SUFFIX).read_text().strip())
        return cls(spec, stem_id, part(STEM), part(FRAME_HEAD), motion, lambda features: head(*features))
