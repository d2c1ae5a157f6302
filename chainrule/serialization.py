"""Saving and loading tensors: the safetensors format (no pickle: loading a file never runs code),
JSON metadata in its header, a SHA-256 digest over the whole header and every tensor that exposes
damage or tampering, a JSON decoder that refuses crafted input, and atomic writes (temporary
file, flush, fsync, rename) so a crash leaves the old file or the new one."""

import hashlib
import io
import json
import os
import re
import struct
import time
from collections import OrderedDict
from pathlib import Path

import numpy as np

from chainrule._tensor import Tensor

_META_KEY = "chainrule"
_DIGEST_KEY = "chainrule.sha256"
_ORDER_KEY = "chainrule.order"  # safetensors stores tensors sorted; state dicts have an order
_FORMAT_KEY = "chainrule.format"
# Format 1 (no format key) digested the tensors only; format 2 digests the metadata too.
FILE_FORMAT = "2"

MAX_HEADER_BYTES = 100_000_000  # the safetensors library's own limit
MAX_JSON_BYTES = 100_000_000
MAX_JSON_DEPTH = 100
MAX_NUMBER_CHARS = 400  # no number chainrule writes comes near; Python refuses ints over 4300 digits


# -- JSON that cannot crash the reader -------------------------------------------------------------
class _JSONLimit(ValueError):
    """Raised inside the decoder's hooks; decode_json adds where it happened."""


def _parse_int(text: str) -> int:
    if len(text) > MAX_NUMBER_CHARS:
        raise _JSONLimit(f"an integer of {len(text)} digits (at most {MAX_NUMBER_CHARS} are accepted)")
    return int(text)


def _parse_float(text: str) -> float:
    if len(text) > MAX_NUMBER_CHARS:
        raise _JSONLimit(f"a number of {len(text)} characters (at most {MAX_NUMBER_CHARS} are accepted)")
    value = float(text)
    if value in (float("inf"), float("-inf")):  # json.dumps writes Infinity, never an overflowing literal
        raise _JSONLimit(f"the number {text[:40]} overflows a float")
    return value


def _unique_keys(pairs: list) -> dict:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen = set()
        duplicate = next(k for k, _ in pairs if k in seen or seen.add(k))
        raise _JSONLimit(f"the key {duplicate[:60]!r} twice in one object")
    return obj


_DECODER = json.JSONDecoder(parse_int=_parse_int, parse_float=_parse_float, object_pairs_hook=_unique_keys)


def _depth(value) -> int:
    """Nesting depth of decoded JSON, found without recursion."""
    if not isinstance(value, (dict, list)):
        return 0
    deepest, stack = 1, [(value, 1)]
    while stack and deepest <= MAX_JSON_DEPTH:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return deepest


def decode_json(text, where: str):
    """Decode JSON text (str or UTF-8 bytes) from an untrusted file, or raise ValueError starting
    with ``where`` (e.g. "load: model.safetensors") saying what is wrong.

    Refused: invalid JSON or UTF-8, nesting deeper than MAX_JSON_DEPTH, numbers longer than
    MAX_NUMBER_CHARS characters or overflowing a float, duplicate keys. NaN and Infinity (which
    ``json.dumps`` writes) are accepted.

    >>> decode_json('{"lr": 0.1, "best": Infinity}', "config.json")
    {'lr': 0.1, 'best': inf}
    >>> decode_json("[" * 1000 + "]" * 1000, "config.json")
    Traceback (most recent call last):
    ValueError: config.json: damaged JSON: nested more than 100 deep
    """
    if isinstance(text, (bytes, bytearray)):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as err:
            raise ValueError(f"{where}: damaged JSON: not UTF-8 text (byte {err.start})") from None
    try:
        value = _DECODER.decode(text)
    except _JSONLimit as err:
        raise ValueError(f"{where}: damaged JSON: {err}") from None
    except RecursionError:
        raise ValueError(f"{where}: damaged JSON: nested more than {MAX_JSON_DEPTH} deep") from None
    except ValueError as err:
        raise ValueError(f"{where}: damaged JSON ({err})") from None
    if _depth(value) > MAX_JSON_DEPTH:
        raise ValueError(f"{where}: damaged JSON: nested more than {MAX_JSON_DEPTH} deep")
    return value


def _existing_file(path, where: str) -> Path:
    """``path`` as a Path if it names a file; FileNotFoundError or IsADirectoryError saying which."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{where}: {path} is a folder, not a file")
    if not path.is_file():
        raise FileNotFoundError(f"{where}: no such file: {path}")
    return path


def read_json(path, where: str = "read_json") -> dict:
    """The JSON object stored in the file ``path``, decoded by ``decode_json``.

    FileNotFoundError for a missing file; ValueError naming the file for anything but a JSON
    object of at most MAX_JSON_BYTES bytes. Callers still check each field's type and range.
    """
    path = _existing_file(path, where)
    size = path.stat().st_size
    if size > MAX_JSON_BYTES:
        raise ValueError(f"{where}: {path} holds {size} bytes, more than the {MAX_JSON_BYTES} a JSON file may")
    value = decode_json(path.read_bytes(), f"{where}: {path}")
    if not isinstance(value, dict):
        raise ValueError(f"{where}: {path} holds a JSON {type(value).__name__}, expected an object ({{...}})")
    return value


# -- atomic writes ---------------------------------------------------------------------------------
STALE_AFTER_S = 3600.0  # a temporary this old is abandoned even if its PID now names a live process


def _is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # exists but is not ours, or cannot be asked: assume it may be writing
    return True


def _remove_stale_temporaries(path: Path) -> None:
    """Delete ``.NAME.PID.tmp`` files that a killed writer of ``path`` left behind: only exact
    matches, never our own, and never one of a process that is alive (unless it is so old that
    the PID must have been reused)."""
    pattern = re.compile(rf"\.{re.escape(path.name)}\.([0-9]{{1,10}})\.tmp")
    try:
        names = os.listdir(path.parent)
    except OSError:
        return
    for name in names:
        match = pattern.fullmatch(name)
        if match is None or int(match[1]) == os.getpid():
            continue
        stale = path.with_name(name)
        try:
            old = time.time() - stale.stat().st_mtime > STALE_AFTER_S
            if old or not _is_alive(int(match[1])):
                stale.unlink()
        except OSError:
            pass  # another process removed or renamed it first


def write_atomic(path, data: bytes) -> None:
    """Write bytes so that `path` holds either its old content or all of the new, never a part.

    After a successful write, temporaries of ``path`` left by killed processes are removed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except OSError as err:
        if err.filename is not None and err.filename not in (str(temporary), str(path)):
            raise
        # a full disk's ENOSPC from write or fsync names no file, a failed temporary names the
        # temporary: name the file the caller asked for
        raise OSError(err.errno, err.strerror or str(err), str(path)) from err
    finally:
        if temporary.exists():
            temporary.unlink()
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # make the rename itself durable
    finally:
        os.close(directory)
    _remove_stale_temporaries(path)


# -- safetensors files -----------------------------------------------------------------------------
def _safetensors():
    try:
        import safetensors.numpy
    except ImportError:
        raise ImportError(
            "saving and loading need the safetensors package: pip install 'chainrule[io]'"
        ) from None
    return safetensors.numpy


def _digest(arrays, file_metadata: dict) -> str:
    """SHA-256 of everything a file says: every __metadata__ entry but the digest itself, then each
    tensor's name, dtype and shape, then each tensor's bytes (little-endian, C order), by name."""
    names = sorted(arrays)
    described = {
        "metadata": {k: v for k, v in file_metadata.items() if k != _DIGEST_KEY},
        "tensors": [[name, arrays[name].dtype.str, list(arrays[name].shape)] for name in names],
    }
    head = json.dumps(described, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()
    h = hashlib.sha256()
    h.update(struct.pack("<Q", len(head)))
    h.update(head)
    for name in names:
        h.update(np.ascontiguousarray(arrays[name]).reshape(-1).view(np.uint8))
    return h.hexdigest()


def _as_arrays(tensors) -> "OrderedDict[str, np.ndarray]":
    if not hasattr(tensors, "items"):
        raise TypeError(f"save: expected a dict of name -> tensor or array, got {type(tensors).__name__}")
    arrays = OrderedDict()
    for name, value in tensors.items():
        if not isinstance(name, str) or not name or name == "__metadata__":
            raise TypeError(f"save: tensor names must be non-empty strings other than '__metadata__', got {name!r}")
        array = value._data if isinstance(value, Tensor) else np.asarray(value)
        if array.dtype.kind not in "biuf":
            raise TypeError(f"save: {name!r} has dtype {array.dtype}; only numeric arrays can be saved")
        # The file holds little-endian C-order bytes; the digest must see what a reader will.
        little = array.dtype.newbyteorder("<")
        arrays[name] = array if array.flags.c_contiguous and array.dtype == little else array.astype(little, order="C")
    return arrays


def save(tensors, path, metadata=None) -> None:
    """Save a state dict (name -> Tensor or array) to ``path`` in safetensors format.

    ``metadata``: any JSON-serialisable value, returned by ``load(path, with_metadata=True)``.
    Names follow PyTorch's state_dict keys, so ``safetensors.torch.load_file`` reads the file.
    The header carries a SHA-256 digest over all metadata and every tensor (see ``_digest``).
    """
    arrays = _as_arrays(tensors)
    file_metadata = {_FORMAT_KEY: FILE_FORMAT, _ORDER_KEY: json.dumps(list(arrays))}
    if metadata is not None:
        try:
            file_metadata[_META_KEY] = json.dumps(metadata)
        except (TypeError, ValueError, RecursionError) as err:
            raise TypeError(f"save: metadata must be JSON-serialisable ({err})") from None
    file_metadata[_DIGEST_KEY] = _digest(arrays, file_metadata)
    write_atomic(path, _safetensors().save(dict(arrays), metadata=file_metadata))


def _zip_kind(raw: bytes) -> str:
    import zipfile  # only for files that are not safetensors

    try:
        names = zipfile.ZipFile(io.BytesIO(raw)).namelist()  # lists entries; reads none of them
    except (zipfile.BadZipFile, OSError, ValueError):
        names = []
    if any(name == "data.pkl" or name.endswith("/data.pkl") for name in names):
        return "pytorch"
    if names and all(name.endswith(".npy") for name in names):
        return "npz"
    return "zip"


_CONVERT_FROM_TORCH = (
    "never unpickled here, since unpickling can run any code. Convert it where you trust it, in PyTorch: "
    "from safetensors.torch import save_file; save_file(torch.load(PATH, weights_only=True), "
    "'model.safetensors') (for a whole model: save_file(model.state_dict(), 'model.safetensors'))"
)


def _foreign_format(raw: bytes) -> str | None:
    """What a file that is not safetensors is, told by its first bytes, and how to convert it."""
    if raw[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        kind = _zip_kind(raw)
        if kind == "pytorch":
            return "a PyTorch file (torch.save's zip archive with a pickle inside, .pt/.pth), " + _CONVERT_FROM_TORCH
        if kind == "npz":
            return ("a NumPy .npz archive; convert it with "
                    "chainrule.save(dict(numpy.load(PATH)), 'model.safetensors')")
        return "a zip archive (e.g. PyTorch's .pt/.pth or NumPy's .npz), not safetensors"
    if raw[:1] == b"\x80" and raw[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return (f"a Python pickle (protocol {raw[1]}; e.g. an older PyTorch .pt/.pth, or joblib), "
                + _CONVERT_FROM_TORCH)
    if raw[:6] == b"\x93NUMPY":
        return "a NumPy .npy array; convert it with chainrule.save({'weight': numpy.load(PATH)}, 'model.safetensors')"
    if raw[:8] == b"\x89HDF\r\n\x1a\n":
        return ("an HDF5 file (e.g. Keras .h5); read its arrays with h5py and save them with "
                "chainrule.save({name: array, ...}, 'model.safetensors')")
    if raw[:2] == b"\x1f\x8b":
        return "a gzip-compressed file; decompress it first"
    return None


def _read_header(raw: bytes, path) -> dict:
    # Byte 8 opens the JSON header; no format told apart below has "{" there, while a header
    # length such as 640 (bytes 80 02 ...) reads like a pickle's first bytes.
    if raw[8:9] != b"{":
        foreign = _foreign_format(raw)
        if foreign is not None:
            foreign = foreign.replace("PATH", repr(str(path)))
            raise ValueError(f"load: {path} is not a safetensors file: it is {foreign}")
        if len(raw) < 8:
            raise ValueError(f"load: {path} is not a safetensors file: only {len(raw)} bytes")
        raise ValueError(
            f"load: {path} is not a safetensors file: a safetensors file starts with the header's length "
            f"(8 bytes) and a JSON header ({{...}}), this one starts with {raw[:12]!r}"
        )
    (size,) = struct.unpack("<Q", raw[:8])
    if size > MAX_HEADER_BYTES:
        raise ValueError(
            f"load: {path} is damaged: its header claims {size} bytes, more than the {MAX_HEADER_BYTES} allowed"
        )
    if size > len(raw) - 8:
        raise ValueError(f"load: {path} is truncated: its header claims {size} bytes, {len(raw) - 8} remain")
    header = decode_json(raw[8:8 + size], f"load: {path} has a damaged header")
    if not isinstance(header, dict):
        raise ValueError(f"load: {path} has a damaged header: a JSON {type(header).__name__}, expected an object")
    return header


def _file_metadata(header: dict, path) -> dict:
    metadata = header.get("__metadata__") or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise ValueError(f"load: {path} has a damaged header: __metadata__ must map names to strings")
    return metadata


def _check_chainrule_file(file_metadata: dict, arrays, path) -> None:
    """A file carrying chainrule's keys must carry a matching digest of the current format."""
    if _DIGEST_KEY not in file_metadata:
        raise ValueError(
            f"load: {path} carries chainrule metadata but no digest ({_DIGEST_KEY}): it was damaged or "
            "edited after it was written"
        )
    version = file_metadata.get(_FORMAT_KEY)
    if version is None:
        raise ValueError(
            f"load: {path} was written by an older chainrule (file format 1, whose digest covers the tensors "
            f"but not the metadata), so its metadata cannot be verified; this version reads format {FILE_FORMAT}. "
            "safetensors.numpy.load_file reads its tensors without checking them"
        )
    if version != FILE_FORMAT:
        raise ValueError(
            f"load: {path} has chainrule file format {version[:20]!r}; this version reads format {FILE_FORMAT} "
            "(a newer chainrule wrote it, or it was edited)"
        )
    if file_metadata[_DIGEST_KEY] != _digest(arrays, file_metadata):
        raise ValueError(f"load: {path} was modified or damaged after it was written (checksum mismatch)")


def load(path, with_metadata: bool = False):
    """Load a file written by ``save``: an OrderedDict of arrays (and the metadata if asked).

    A truncated, damaged or modified file raises ValueError saying so, as does a file in another
    format (a PyTorch .pt, a pickle, .npy/.npz, HDF5), with how to convert it; nothing in the file
    is ever executed. Safetensors files from other writers (no chainrule metadata, no digest)
    load with their tensors in name order and metadata None.
    """
    path = _existing_file(path, "load")
    raw = path.read_bytes()
    header = _read_header(raw, path)
    file_metadata = _file_metadata(header, path)
    try:
        arrays = _safetensors().load(raw)
    except Exception as err:  # the library raises its own error types for malformed files
        raise ValueError(f"load: {path} is damaged and cannot be read as safetensors ({err})") from None
    ours = any(key == _META_KEY or key.startswith(_META_KEY + ".") for key in file_metadata)
    if not ours:
        ordered = OrderedDict((name, arrays[name]) for name in sorted(arrays))
        return (ordered, None) if with_metadata else ordered
    _check_chainrule_file(file_metadata, arrays, path)
    order = decode_json(file_metadata.get(_ORDER_KEY, "[]"), f"load: {path}: {_ORDER_KEY}")
    if not isinstance(order, list) or sorted(order, key=str) != sorted(arrays):
        raise ValueError(f"load: {path}: {_ORDER_KEY} does not list the file's tensors")
    ordered = OrderedDict((name, arrays[name]) for name in order)
    if not with_metadata:
        return ordered
    metadata = decode_json(file_metadata[_META_KEY], f"load: {path}: metadata") if _META_KEY in file_metadata else None
    return ordered, metadata
