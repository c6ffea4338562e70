"""Reading PyTorch checkpoints without PyTorch: tensors, strides, and refusal of anything else."""

from __future__ import annotations

import collections
import pickle
import struct
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from recognition.torch_checkpoint import LEGACY_MAGIC, CheckpointError, load_state_dict


class _FakeStorage:
    """Stands for a torch storage while pickling: its bytes go after the pickles."""

    def __init__(self, key: str, data: np.ndarray):
        self.key, self.data = key, data


def _legacy_checkpoint(path: Path, tensors: dict[str, np.ndarray], monkeypatch: pytest.MonkeyPatch) -> Path:
    """Write `tensors` the way torch.save did before 1.6, with stand-in torch modules for the pickle names."""
    torch, utils = types.ModuleType("torch"), types.ModuleType("torch._utils")

    def _rebuild_tensor_v2(*args):
        raise AssertionError("never called while writing")

    storage_type = type("FloatStorage", (), {"__module__": "torch"})
    _rebuild_tensor_v2.__module__, _rebuild_tensor_v2.__qualname__ = "torch._utils", "_rebuild_tensor_v2"
    torch.FloatStorage, utils._rebuild_tensor_v2 = storage_type, _rebuild_tensor_v2
    monkeypatch.setitem(sys.modules, "torch", torch)
    monkeypatch.setitem(sys.modules, "torch._utils", utils)

    class TensorRef:
        def __init__(self, storage: _FakeStorage, shape: tuple, strides: tuple):
            self.storage, self.shape, self.strides = storage, shape, strides

        def __reduce__(self):
            return _rebuild_tensor_v2, (self.storage, 0, self.shape, self.strides, False, collections.OrderedDict())

    class Writer(pickle.Pickler):
        def persistent_id(self, obj):
            if isinstance(obj, _FakeStorage):
                return ("storage", storage_type, obj.key, "cpu", obj.data.size, None)
            return None

    storages, state = [], collections.OrderedDict()
    for number, (name, array) in enumerate(tensors.items()):
        base = np.ascontiguousarray(array.T if array.ndim == 2 else array, np.float32)
        storages.append(_FakeStorage(str(number), base.ravel()))
        strides = tuple(s // 4 for s in base.strides)
        state[name] = TensorRef(storages[-1], array.shape, strides[::-1] if array.ndim == 2 else strides)
    with open(path, "wb") as file:
        for header in (LEGACY_MAGIC, 1001, {"little_endian": True}):
            pickle.dump(header, file, protocol=2)
        Writer(file, protocol=2).dump(state)
        pickle.dump([s.key for s in storages], file, protocol=2)
        for storage in storages:
            file.write(struct.pack("<q", storage.data.size) + storage.data.tobytes())
    return path


def test_tensors_come_back_with_their_shapes_and_strides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    kernel = np.arange(24, dtype=np.float32).reshape(2, 3, 2, 2)
    matrix = np.arange(6, dtype=np.float32).reshape(2, 3)  # stored transposed: a strided view
    path = _legacy_checkpoint(tmp_path / "tiny.pth", {"conv.weight": kernel, "fc.weight": matrix}, monkeypatch)
    monkeypatch.delitem(sys.modules, "torch")
    monkeypatch.delitem(sys.modules, "torch._utils")
    state = load_state_dict(path)
    assert list(state) == ["conv.weight", "fc.weight"]
    np.testing.assert_array_equal(state["conv.weight"], kernel)
    np.testing.assert_array_equal(state["fc.weight"], matrix)


def test_a_pickle_that_names_other_code_is_refused(tmp_path: Path):
    class Payload:
        def __reduce__(self):
            return print, ("this must never run",)

    path = tmp_path / "hostile.pth"
    with open(path, "wb") as file:
        for header in (LEGACY_MAGIC, 1001, {}):
            pickle.dump(header, file, protocol=2)
        pickle.dump(collections.OrderedDict(weight=Payload()), file, protocol=2)
    with pytest.raises(CheckpointError, match="print, which is not a plain tensor"):
        load_state_dict(path)


def test_other_files_are_refused(tmp_path: Path):
    (tmp_path / "new.pth").write_bytes(b"PK\x03\x04 a zip-format checkpoint")
    with pytest.raises(CheckpointError, match="not a legacy PyTorch checkpoint"):
        load_state_dict(tmp_path / "new.pth")
