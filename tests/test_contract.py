"""The saved-model contract: a model that `models` builds, saved and reloaded, splits into parts that
`recognition.pipeline` can run one by one and that give the whole model's answers."""

from pathlib import Path

import keras
import numpy as np
import pytest

from recognition import contract, models
from recognition.backbones import get_backbone

FRAMES, SIZE, FIELD, CLASSES = 4, 32, 16, 3


def tiny_model() -> keras.Model:
    """An LRCN with a motion stream on a random MobileNetV2 0.5 at 32x32."""
    stem, top = models.split_backbone(get_backbone("mobilenet_v2_0.5"), SIZE, None)
    trainable = models.build_trainable("lrcn", stem, top, FRAMES, CLASSES)
    return models.assemble("lrcn", stem, [trainable], FRAMES, [models.build_motion_stream(FRAMES, FIELD, CLASSES)])


def per_frame(encoder, inputs: np.ndarray) -> np.ndarray:
    """`encoder` on each frame (or flow field) of a batch of windows, as the pipeline runs it."""
    windows, steps = inputs.shape[:2]
    encoded = np.asarray(encoder(inputs.reshape(windows * steps, *inputs.shape[2:]), training=False))
    return encoded.reshape(windows, steps, *encoded.shape[1:])


def test_a_saved_model_splits_into_parts_that_give_its_answers(tmp_path: Path):
    model = tiny_model()
    model.save(tmp_path / "tiny.keras")
    loaded = keras.saving.load_model(tmp_path / "tiny.keras", compile=False)
    parts = contract.split(loaded)

    rng = np.random.default_rng(0)
    frames = rng.uniform(0, 255, (2, FRAMES, SIZE, SIZE, 3)).astype(np.float32)
    flows = rng.normal(0, 2, (2, FRAMES, FIELD, FIELD, 2)).astype(np.float32)
    vectors = per_frame(lambda x, training: parts.frame_head(parts.stem(x, training=training), training=training),
                        frames)
    answers = parts.sequence_head([vectors, per_frame(parts.motion_encoder, flows)], training=False)
    whole = loaded([frames, flows], training=False)
    np.testing.assert_allclose(np.asarray(answers), np.asarray(whole), atol=1e-5)
    np.testing.assert_allclose(np.asarray(whole), np.asarray(model([frames, flows])), atol=1e-5)
    assert not parts.stem.trainable


def test_a_model_without_the_contracts_layers_is_refused():
    frames = keras.Input((FRAMES, SIZE, SIZE, 3))
    other = keras.Model(frames, keras.layers.GlobalAveragePooling3D()(frames), name="other")
    with pytest.raises(ValueError, match="no frame_encoder or sequence_head layer"):
        contract.split(other)
