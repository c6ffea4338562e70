"""Converting the models for LiteRT (`python -m recognition export`)."""

from pathlib import Path

import pytest

from recognition import MODEL_NAMES
from recognition.conversion import export
from recognition.litert import FRAME_HEAD, SEQUENCE_HEAD, NotConverted, converted_path, find_converted, int8_path
from tests.helpers import WEIGHTS, needs_weights

pytestmark = needs_weights


def test_the_shipped_copies_sit_beside_the_models_under_their_digest(tmp_path: Path):
    """Loading needs no conversion on a fresh machine: the copies ship in weights/, filed under the .keras digest."""
    for name in MODEL_NAMES:
        shipped = converted_path(WEIGHTS / f"{name}.keras", WEIGHTS)
        assert shipped.exists() and shipped.with_suffix(".stem-weights").exists()
        assert int8_path(shipped, SEQUENCE_HEAD).exists() and int8_path(shipped, FRAME_HEAD).exists()
        assert export(WEIGHTS / f"{name}.keras", cache_dir=tmp_path) == shipped and not any(tmp_path.iterdir())


def test_serving_finds_the_shipped_copy_and_says_when_there_is_none(tmp_path: Path):
    for name in MODEL_NAMES:
        model = WEIGHTS / f"{name}.keras"
        assert find_converted(model, tmp_path, frame_head=True) == converted_path(model, WEIGHTS)
    retrained = tmp_path / "lrcn.keras"
    retrained.write_bytes((WEIGHTS / "lrcn.keras").read_bytes() + b"\0")
    with pytest.raises(NotConverted, match="python -m recognition export"):
        find_converted(retrained, tmp_path)
    assert sorted(tmp_path.iterdir()) == [retrained]
