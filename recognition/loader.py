"""Load and warm up the models in a background thread, so a server can show its page first.

    loader = ModelLoader("weights/").start()     # returns at once
    loader.specs                                 # the models' metadata, read from their JSON files
    recognizer = loader.wait(on_wait=print)      # blocks until ready; ModelsUnavailable if loading failed

Importing TensorFlow, loading both models and tracing their compiled functions
take many seconds; none of it is needed to draw the page. A request that comes
in before the models are ready waits for them, and hears why.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from recognition.metadata import MODEL_NAMES, ModelSpec, metadata_path
from recognition.video import VideoError

if TYPE_CHECKING:
    from recognition.pipeline import Recognizer

WAITING_MESSAGE = "Loading the models: the server has just started, this takes a few seconds"

log = logging.getLogger(__name__)


class ModelsUnavailable(VideoError):
    """The models could not be loaded; the message is meant for the user."""


def _no_message(message: str) -> None:
    """Default `on_wait` callback: stay quiet."""


class ModelLoader:
    """One `Recognizer`, loaded and warmed up by a background thread."""

    def __init__(self, weights_dir: str | os.PathLike, names: Sequence[str] = MODEL_NAMES, warm_up: bool = True):
        self.weights_dir = Path(weights_dir)
        self.names = tuple(names)
        self.warm_up = warm_up
        self._done = threading.Event()
        self._recognizer: Recognizer | None = None
        self._failure: str | None = None
        self._thread = threading.Thread(target=self._load, name="load-models", daemon=True)

    def start(self) -> "ModelLoader":
        """Begin loading in the background; returns at once."""
        self._thread.start()
        return self

    def _load(self) -> None:
        try:
            from recognition.pipeline import Recognizer  # imports TensorFlow: seconds, so here and not above

            log.info("loading models from %s", self.weights_dir)
            recognizer = Recognizer.load(self.weights_dir, self.names)
            if self.warm_up:
                recognizer.warm_up()
            self._recognizer = recognizer
            log.info("models ready")
        except Exception:
            log.exception("loading the models from %s failed", self.weights_dir)
            self._failure = ("The models could not be loaded from the server's weights folder, so this server "
                             "can't recognize videos: the server log has the details.")
        finally:
            self._done.set()

    @property
    def ready(self) -> bool:
        """True once loading has finished, well or not."""
        return self._done.is_set()

    @property
    def specs(self) -> dict[str, ModelSpec]:
        """Each model's metadata, read from its JSON file: available before the models themselves."""
        return {name: ModelSpec.load(metadata_path(self.weights_dir / f"{name}.keras")) for name in self.names}

    def wait(self, on_wait: Callable[[str], None] = _no_message, timeout_s: float | None = None) -> "Recognizer":
        """The loaded `Recognizer`; tells `on_wait` why it blocks when it has to."""
        if not self._done.is_set():
            log.info("a request waits for the models")
            on_wait(WAITING_MESSAGE)
            if not self._done.wait(timeout_s):
                raise ModelsUnavailable("The models are still loading: try again in a minute.")
        if self._recognizer is None:
            raise ModelsUnavailable(self._failure or "The models could not be loaded.")
        return self._recognizer
