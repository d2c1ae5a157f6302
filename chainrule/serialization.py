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


# -- objects: nested dicts, lists and tuples of tensors, numbers and strings ----------------------
# torch.save pickles any object; here the object's shape goes into the header as JSON (the
# "structure") and its tensors and arrays into the file as named tensors. Every node of the
# structure is a JSON scalar (None, bool, int, float, str: the value itself) or a one-key object
# naming its kind: {"tensor": name} (optionally "requires_grad", "parameter"), {"array": name},
# {"dict" or "odict": [[key, node], ...]} (pairs, so integer keys stay integers) or
# {"list" or "tuple": [node, ...]}.
_STRUCTURE_KEY = "chainrule.structure"
_CONTAINER_KINDS = ("dict", "odict", "list", "tuple")


class _Splitter:
    """Turns an object into its structure, collecting its tensors and arrays under unique names."""

    def __init__(self):
        self.arrays = OrderedDict()
        self.names = {}  # id(tensor or array) -> its name: a tensor held twice is stored once

    def name_for(self, value, path: str) -> str:
        if id(value) in self.names:
            return self.names[id(value)]
        name, n = path or "tensor", 1
        while name in self.arrays or name == "__metadata__":
            name, n = f"{path or 'tensor'}#{n}", n + 1
        self.arrays[name] = value
        self.names[id(value)] = name
        return name

    def split(self, obj, path: str):
        if obj is None or isinstance(obj, (bool, int, float, str)):
            return obj
        if isinstance(obj, np.generic) and obj.dtype.kind in "biuf":
            return obj.item()
        if isinstance(obj, Tensor):
            node = {"tensor": self.name_for(obj, path)}
            if obj.requires_grad:
                node["requires_grad"] = True
            if _is_parameter(obj):
                node["parameter"] = True
            return node
        if isinstance(obj, np.ndarray):
            return {"array": self.name_for(obj, path)}
        if callable(getattr(obj, "state_dict", None)):  # a module (a ModuleDict has items too), an optimizer
            raise TypeError(_unsaveable(obj, path))
        if hasattr(obj, "items") and hasattr(obj, "keys"):
            kind = "odict" if isinstance(obj, OrderedDict) else "dict"
            pairs = []
            for key, value in obj.items():
                key = key.item() if isinstance(key, np.generic) else key
                if not (key is None or isinstance(key, (bool, int, float, str))):
                    raise TypeError(f"save: {path or 'the object'} has a key of type {type(key).__name__}; "
                                    "keys must be strings, numbers, booleans or None")
                pairs.append([key, self.split(value, f"{path}.{key}" if path else str(key))])
            return {kind: pairs}
        if isinstance(obj, (list, tuple)):
            kind = "tuple" if isinstance(obj, tuple) else "list"
            return {kind: [self.split(v, f"{path}.{i}" if path else str(i)) for i, v in enumerate(obj)]}
        raise TypeError(_unsaveable(obj, path))


def _is_parameter(tensor) -> bool:
    from chainrule.nn.module import Parameter  # nn imports serialization's users, not the reverse

    return isinstance(tensor, Parameter)


def _unsaveable(obj, path: str) -> str:
    where = f" at {path!r}" if path else ""
    from chainrule.nn.module import Module

    if isinstance(obj, Module):
        return (f"save: got the module {type(obj).__name__}{where}; chainrule saves no modules (PyTorch pickles "
                "them, and loading a pickle can run any code): save its state_dict() instead, "
                "chainrule.save(model.state_dict(), f), and load it into a new model with "
                "model.load_state_dict(chainrule.load(f))")
    if callable(getattr(obj, "state_dict", None)):
        return (f"save: got a {type(obj).__name__} object{where}; save its state_dict() instead "
                "(and restore it with load_state_dict)")
    return (f"save: cannot save a {type(obj).__name__}{where}; expected tensors, arrays, numbers, strings, None, "
            "and dicts, lists and tuples of them")


def _flat_names(obj) -> bool:
    """A dict of name -> tensor: stored under its own keys, so that any safetensors reader
    (``safetensors.torch.load_file``) reads it back as the same state dict."""
    return (hasattr(obj, "items") and hasattr(obj, "keys") and len(obj) > 0
            and all(isinstance(k, str) and k and k != "__metadata__" for k in obj.keys())
            and all(isinstance(v, (Tensor, np.ndarray)) for v in obj.values()))


def save(obj, f, metadata=None, *, pickle_module=None, pickle_protocol=None,
         _use_new_zipfile_serialization: bool = True, _disable_byteorder_record: bool = False) -> None:
    """Save ``obj`` to ``f`` (a path, or a file opened for binary writing) as safetensors.

    ``obj``: a tensor, a state dict, an optimizer's state_dict, or dicts, lists and tuples of
    them with numbers, strings and None: the usual checkpoint ``{'epoch': 3, 'model_state_dict':
    model.state_dict(), 'optimizer_state_dict': optimizer.state_dict(), 'loss': 0.1}``. ``load``
    gives it back: tensors as Tensors, arrays as arrays, numbers as numbers, dict, OrderedDict,
    list and tuple as themselves. A state dict's tensors are stored under its own keys (PyTorch's
    names), so ``safetensors.torch.load_file`` reads the file; a nested object's are stored under
    dotted paths (``model_state_dict.fc1.weight``). A Module is refused (TypeError): save its
    ``state_dict()``. Nothing is pickled. A path is written atomically (see ``write_atomic``).

    ``metadata``: any JSON-serialisable value, returned by ``load(f, with_metadata=True)``.
    The header carries a SHA-256 digest over all metadata and every tensor (see ``_digest``).
    PyTorch's pickle options are accepted and have nothing to do.

    >>> import io, chainrule
    >>> buffer = io.BytesIO()
    >>> chainrule.save({"epoch": 3, "weights": [chainrule.ones(2)], "loss": 0.25}, buffer)
    >>> _ = buffer.seek(0)
    >>> chainrule.load(buffer)
    {'epoch': 3, 'weights': [tensor([1., 1.])], 'loss': 0.25}
    """
    splitter = _Splitter()
    if _flat_names(obj):
        for key, value in obj.items():
            splitter.arrays[key] = value
            splitter.names.setdefault(id(value), key)
    structure = splitter.split(obj, "")
    arrays = _as_arrays(splitter.arrays)
    file_metadata = {_FORMAT_KEY: FILE_FORMAT, _ORDER_KEY: json.dumps(list(arrays))}
    try:
        file_metadata[_STRUCTURE_KEY] = json.dumps(structure)
    except (ValueError, RecursionError) as err:
        raise TypeError(f"save: the object cannot be described in JSON ({err})") from None
    if _depth(json.loads(file_metadata[_STRUCTURE_KEY])) > MAX_JSON_DEPTH:
        raise ValueError(f"save: the object is nested too deeply to be loaded again (over {MAX_JSON_DEPTH // 3} "
                         "levels of dicts and lists)")
    if metadata is not None:
        try:
            file_metadata[_META_KEY] = json.dumps(metadata)
        except (TypeError, ValueError, RecursionError) as err:
            raise TypeError(f"save: metadata must be JSON-serialisable ({err})") from None
    file_metadata[_DIGEST_KEY] = _digest(arrays, file_metadata)
    data = _safetensors().save(dict(arrays), metadata=file_metadata)
    if hasattr(f, "write"):
        written = f.write(data)
        if written is not None and written != len(data):
            raise OSError(f"save: the file object took {written} of {len(data)} bytes")
        return
    if not isinstance(f, (str, os.PathLike)):
        raise TypeError(f"save: f must be a path (str or os.PathLike) or a file opened for binary writing, "
                        f"got {type(f).__name__}")
    write_atomic(f, data)


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


def _check_map_location(map_location) -> None:
    """chainrule keeps every tensor on the CPU: map_location may say so, or be a dict or a
    function (as PyTorch's ``lambda storage, loc: storage``), whose mapping is then moot."""
    device = map_location if isinstance(map_location, str) else getattr(map_location, "type", None)
    if isinstance(device, str) and device.split(":")[0] not in ("cpu", "meta"):
        raise RuntimeError(
            f"load: map_location={str(map_location)!r}: that device is not available; chainrule runs on the CPU "
            "only (use map_location='cpu' or leave it out)"
        )
    if not (map_location is None or isinstance(map_location, (str, dict)) or callable(map_location)
            or device is not None):
        raise TypeError(f"load: map_location must be None, a device, a str, a dict or a function, got "
                        f"{type(map_location).__name__}")


def _read_bytes(f) -> tuple:
    """The bytes of ``f`` (a path, or a file opened for binary reading) and its name for messages."""
    if hasattr(f, "read"):
        raw = f.read()
        name = getattr(f, "name", None)
        name = name if isinstance(name, str) else f"<{type(f).__name__}>"
        if not isinstance(raw, (bytes, bytearray, memoryview)):
            raise TypeError(f"load: {name} gave {type(raw).__name__}, not bytes: open the file in binary mode ('rb')")
        return bytes(raw), name
    if not isinstance(f, (str, os.PathLike)):
        raise TypeError(f"load: f must be a path (str or os.PathLike) or a file opened for binary reading, "
                        f"got {type(f).__name__}")
    path = _existing_file(f, "load")
    return path.read_bytes(), path


def _join(node, arrays, made, where):
    """The object that ``_Splitter.split`` described as ``node``, its tensors taken from ``arrays``."""
    if node is None or isinstance(node, (bool, int, float, str)):
        return node
    if not isinstance(node, dict) or len(node) < 1:
        raise ValueError(f"{where}: damaged structure: {type(node).__name__} node")
    kind = next(iter(node))
    body = node[kind]
    if kind in ("tensor", "array"):
        if not isinstance(body, str) or body not in arrays or not set(node) <= {kind, "requires_grad", "parameter"}:
            raise ValueError(f"{where}: damaged structure: the {kind} {str(body)[:60]!r} is not in the file")
        key = (kind, body, bool(node.get("requires_grad")), bool(node.get("parameter")))
        if key not in made:  # one object for a tensor that was saved from several places
            array = arrays[body] if arrays[body].flags.writeable else arrays[body].copy()
            if kind == "array":
                made[key] = array
            elif key[3]:
                from chainrule.nn.module import Parameter

                made[key] = Parameter(array, key[2] and array.dtype.kind == "f")
            else:
                made[key] = Tensor(array, dtype=array.dtype, requires_grad=key[2] and array.dtype.kind == "f")
        return made[key]
    if len(node) != 1 or kind not in _CONTAINER_KINDS or not isinstance(body, list):
        raise ValueError(f"{where}: damaged structure: unknown node {kind[:40]!r}")
    if kind in ("list", "tuple"):
        items = [_join(item, arrays, made, where) for item in body]
        return items if kind == "list" else tuple(items)
    if not all(isinstance(p, list) and len(p) == 2 and (p[0] is None or isinstance(p[0], (bool, int, float, str)))
               for p in body):
        raise ValueError(f"{where}: damaged structure: a {kind} entry that is not a [key, value] pair")
    result = OrderedDict() if kind == "odict" else {}
    for key, item in body:
        result[key] = _join(item, arrays, made, where)
    return result


def load(f, map_location=None, pickle_module=None, *, weights_only: bool = True, mmap=None,
         with_metadata: bool = False, **pickle_load_args):
    """Load what ``save`` wrote to ``f`` (a path, or a file opened for binary reading): the saved
    object, with tensors as Tensors (and the metadata too, with ``with_metadata=True``).

    A safetensors file from another writer (``safetensors.torch.save_file(model.state_dict(),
    path)`` in PyTorch) loads as an OrderedDict of Tensors in name order, ready for
    ``model.load_state_dict``: the way to start from PyTorch's exact weights. A file from an
    older chainrule (no structure in its header) loads as an OrderedDict of arrays.

    ``map_location`` is accepted for PyTorch's signature: tensors always load on the CPU, and
    naming another device raises. ``weights_only``, ``pickle_module``, ``mmap`` and pickle's
    options are accepted too: nothing in a file is ever unpickled or executed, whatever they say.

    A truncated, damaged or modified file raises ValueError saying so, as does a file in another
    format (a PyTorch .pt, a pickle, .npy/.npz, HDF5), with how to convert it.
    """
    _check_map_location(map_location)
    if not isinstance(weights_only, (bool, np.bool_)):
        raise TypeError(f"load: weights_only must be a bool, got {type(weights_only).__name__}")
    raw, path = _read_bytes(f)
    header = _read_header(raw, path)
    file_metadata = _file_metadata(header, path)
    try:
        arrays = _safetensors().load(raw)
    except Exception as err:  # the library raises its own error types for malformed files
        raise ValueError(f"load: {path} is damaged and cannot be read as safetensors ({err})") from None
    ours = any(key == _META_KEY or key.startswith(_META_KEY + ".") for key in file_metadata)
    if not ours:
        ordered = OrderedDict((name, Tensor(arrays[name], dtype=arrays[name].dtype)) for name in sorted(arrays))
        return (ordered, None) if with_metadata else ordered
    _check_chainrule_file(file_metadata, arrays, path)
    order = decode_json(file_metadata.get(_ORDER_KEY, "[]"), f"load: {path}: {_ORDER_KEY}")
    if not isinstance(order, list) or sorted(order, key=str) != sorted(arrays):
        raise ValueError(f"load: {path}: {_ORDER_KEY} does not list the file's tensors")
    if _STRUCTURE_KEY in file_metadata:
        where = f"load: {path}: {_STRUCTURE_KEY}"
        result = _join(decode_json(file_metadata[_STRUCTURE_KEY], where), arrays, {}, where)
    else:
        result = OrderedDict((name, arrays[name]) for name in order)
    if not with_metadata:
        return result
    metadata = decode_json(file_metadata[_META_KEY], f"load: {path}: metadata") if _META_KEY in file_metadata else None
    return result, metadata
