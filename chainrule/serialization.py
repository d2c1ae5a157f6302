"""Saving and loading tensors: the safetensors format (no pickle: loading a file never runs code),
JSON metadata in its header, a SHA-256 digest that exposes damage or tampering, and atomic
writes (temporary file, flush, fsync, rename) so a crash leaves the old file or the new one."""

import hashlib
import json
import os
import struct
from collections import OrderedDict
from pathlib import Path

import numpy as np

from chainrule.tensor import Tensor

_META_KEY = "chainrule"
_DIGEST_KEY = "chainrule.sha256"
_ORDER_KEY = "chainrule.order"  # safetensors stores tensors sorted; state dicts have an order


def _safetensors():
    try:
        import safetensors.numpy
    except ImportError:
        raise ImportError(
            "saving and loading need the safetensors package: pip install 'chainrule[io]'"
        ) from None
    return safetensors.numpy


def _digest(arrays) -> str:
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = arrays[name]
        h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def write_atomic(path, data: bytes) -> None:
    """Write bytes so that `path` holds either its old content or all of the new, never a part."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # make the rename itself durable
    finally:
        os.close(directory)


def _as_arrays(tensors) -> "OrderedDict[str, np.ndarray]":
    arrays = OrderedDict()
    for name, value in tensors.items():
        if not isinstance(name, str):
            raise TypeError(f"save: tensor names must be strings, got {name!r}")
        array = value.data if isinstance(value, Tensor) else np.asarray(value)
        if array.dtype.kind not in "biuf":
            raise TypeError(f"save: {name!r} has dtype {array.dtype}; only numeric arrays can be saved")
        arrays[name] = array if array.flags.c_contiguous else array.copy(order="C")
    return arrays


def save(tensors, path, metadata=None) -> None:
    """Save a state dict (name -> Tensor or array) to ``path`` in safetensors format.

    ``metadata``: any JSON-serialisable value, returned by ``load(path, with_metadata=True)``.
    Names follow PyTorch's state_dict keys, so ``safetensors.torch.load_file`` reads the file.
    """
    arrays = _as_arrays(tensors)
    header = {_DIGEST_KEY: _digest(arrays), _ORDER_KEY: json.dumps(list(arrays))}
    if metadata is not None:
        header[_META_KEY] = json.dumps(metadata)
    write_atomic(path, _safetensors().save(dict(arrays), metadata=header))


def _read_header(raw: bytes, path) -> dict:
    if len(raw) < 8:
        raise ValueError(f"load: {path} is not a safetensors file: only {len(raw)} bytes")
    (size,) = struct.unpack("<Q", raw[:8])
    if size > len(raw) - 8:
        raise ValueError(f"load: {path} is truncated: its header claims {size} bytes, {len(raw) - 8} remain")
    try:
        return json.loads(raw[8:8 + size])
    except ValueError as err:
        raise ValueError(f"load: {path} has a damaged header ({err})") from None


def load(path, with_metadata: bool = False):
    """Load a file written by ``save``: an OrderedDict of arrays (and the metadata if asked).

    A truncated, damaged or modified file raises ValueError saying so; nothing in the file is
    ever executed.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"load: no such file: {path}")
    raw = path.read_bytes()
    header = _read_header(raw, path)
    try:
        arrays = _safetensors().load(raw)
    except Exception as err:  # the library raises its own error types for malformed files
        raise ValueError(f"load: {path} is damaged and cannot be read as safetensors ({err})") from None
    file_metadata = header.get("__metadata__") or {}
    digest = file_metadata.get(_DIGEST_KEY)
    if digest is not None and digest != _digest(arrays):
        raise ValueError(f"load: {path} was modified or damaged after it was written (checksum mismatch)")
    order = json.loads(file_metadata.get(_ORDER_KEY, "[]"))
    if sorted(order) != sorted(arrays):
        order = sorted(arrays)  # a file from another writer: no recorded order
    ordered = OrderedDict((name, arrays[name]) for name in order)
    if not with_metadata:
        return ordered
    metadata = json.loads(file_metadata[_META_KEY]) if _META_KEY in file_metadata else None
    return ordered, metadata
