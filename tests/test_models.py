"""The architectures' wiring: the assembled two-stream LRCN fuses its streams as training measured them."""

import keras
import numpy as np

from recognition import models
from recognition.backbones import get_backbone


def test_two_stream_lrcn_averages_its_streams():
    stem, top = models.split_backbone(get_backbone("mobilenet_v2_0.5"), 64, None)
    appearance = models.build_trainable("lrcn", stem, top, num_frames=4, num_classes=3)
    motion = models.build_motion_stream(num_frames=4, field_size=56, num_classes=3)
    model = models.assemble("lrcn", stem, appearance, 4, motion)

    rng = np.random.default_rng(0)
    frames = rng.uniform(0, 255, (2, 4, 64, 64, 3)).astype(np.float32)
    flows = rng.normal(0, 2, (2, 4, 56, 56, 2)).astype(np.float32)
    features = keras.ops.stack([stem(frames[:, t]) for t in range(4)], axis=1)
    expected = (np.asarray(appearance(features)) + np.asarray(motion(flows))) / 2
    np.testing.assert_allclose(np.asarray(model([frames, flows])), expected, atol=1e-5)
    assert [layer.name for layer in model.layers if "encoder" in layer.name] == ["frame_encoder", "motion_encoder"]


def test_one_stream_model_takes_frames_only():
    stem, top = models.split_backbone(get_backbone("mobilenet_v2_0.5"), 64, None)
    convlstm = models.build_trainable("convlstm", stem, top, num_frames=4, num_classes=3)
    model = models.assemble("convlstm", stem, convlstm, 4)
    assert len(model.inputs) == 1 and tuple(model.output.shape) == (None, 3)
