"""Loading the models in the background: the real shipped models, and a folder without them."""

from __future__ import annotations

from pathlib import Path

import pytest

from recognition.loader import WAITING_MESSAGE, ModelLoader, ModelsUnavailable
from recognition.metadata import MODEL_NAMES
from tests.helpers import WEIGHTS, needs_weights


def test_metadata_is_read_without_loading_the_models():
    loader = ModelLoader(WEIGHTS)  # never started
    assert set(loader.specs) == set(MODEL_NAMES) and not loader.ready
    assert len(loader.specs["lrcn"].classes) == 14


def test_a_request_before_the_models_are_ready_is_told_why_it_waits():
    loader = ModelLoader(WEIGHTS)  # never started, so it is still "loading" however long we wait
    messages: list[str] = []
    with pytest.raises(ModelsUnavailable, match="still loading"):
        loader.wait(on_wait=messages.append, timeout_s=0.1)
    assert messages == [WAITING_MESSAGE]


@needs_weights
def test_the_shipped_models_load_in_the_background():
    loader = ModelLoader(WEIGHTS, warm_up=False).start()
    recognizer = loader.wait()
    assert loader.ready and recognizer.specs == loader.specs
    messages: list[str] = []
    assert loader.wait(on_wait=messages.append) is recognizer and messages == []


def test_a_folder_without_models_fails_with_one_sentence(tmp_path: Path):
    loader = ModelLoader(tmp_path).start()
    with pytest.raises(ModelsUnavailable) as unavailable:
        loader.wait(timeout_s=120)
    assert str(unavailable.value) == ("The models could not be loaded from the server's weights folder, so this "
                                      "server can't recognize videos: the server log has the details.")
    assert loader.ready
