"""Action Lens recognition: two video action-recognition models behind one API.

    from recognition import Recognizer

    recognizer = Recognizer.load()            # both shipped models, loaded once
    result = recognizer.recognize("clip.mp4", output_dir="out/")
    result.models["lrcn"].label, result.models["convlstm"].confidence
"""

from recognition.metadata import MODEL_NAMES, ModelSpec, SamplingSpec
from recognition.results import ModelResult, Recognition, WindowScore
from recognition.video import VideoError

__all__ = [
    "MODEL_NAMES",
    "ModelResult",
    "ModelSpec",
    "Recognition",
    "Recognizer",
    "SamplingSpec",
    "VideoError",
    "WindowScore",
]


def __getattr__(name: str):
    """`Recognizer` imports TensorFlow, which takes seconds: only when it is first asked for."""
    if name == "Recognizer":
        from recognition.pipeline import Recognizer

        return Recognizer
    raise AttributeError(f"module 'recognition' has no attribute {name!r}")
