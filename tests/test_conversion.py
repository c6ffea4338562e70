"""Converting the models for LiteRT (`python -m recognition export`)."""

from pathlib import Path

from recognition import MODEL_NAMES
from recognition.conversion import export
from recognition.litert import FRAME_HEAD, SEQUENCE_HEAD, converted_path, int8_path, shipped_or_cached
from tests.helpers import WEIGHTS, needs_weights

pytestmark = needs_weights


def test_the_shipped_copies_sit_beside_the_models_under_their_digest(tmp_path: Path):
    """Loading needs no conversion on a fresh machine: the copies ship in weights/, filed under the .keras digest."""
    for name in MODEL_NAMES:
        shipped = converted_path(WEIGHTS / f"{name}.keras", WEIGHTS)
        assert shipped.exists() and shipped.with_suffix(".stem-weights").exists()
        assert int8_path(shipped, SEQUENCE_HEAD).exists() and int8_path(shipped, FRAME_HEAD).exists()
        assert export(WEIGHTS / f"{name}.keras", cache_dir=tmp_path) == shipped and not any(tmp_path.iterdir())


def test_serving_takes_the_shipped_copy_without_converting(tmp_path: Path):
    for name in MODEL_NAMES:
        model = WEIGHTS / f"{name}.keras"
        assert shipped_or_cached(model, tmp_path) == converted_path(model, WEIGHTS)
    assert not any(tmp_path.iterdir())
