"""Checkpoints that survive a crash: model parameters and buffers, optimizer and scheduler state,
epoch and step, the random generator's state, callback state and the History, in one
safetensors file (arrays) with JSON metadata, written atomically (see chainrule.serialization)."""

import numpy as np

from chainrule import random
from chainrule._arguments import is_int
from chainrule._tensor import Tensor
from chainrule.serialization import load, save
from chainrule.train.history import History
from chainrule.train.validation import field

FORMAT = "chainrule.checkpoint"
VERSION = 2  # 2: callback states tagged with their class; scheduler arrays split out


def split_arrays(obj, prefix: str, arrays: dict):
    """``obj`` with every ndarray (or Tensor) replaced by a ``{"__array__": key}`` placeholder (the array goes
    into ``arrays[key]``): nested optimizer/callback state becomes JSON plus named tensors."""
    if isinstance(obj, (np.ndarray, Tensor)):  # (a Tensor loads back as a Tensor)
        arrays[prefix] = obj
        return {"__array__": prefix}
    if isinstance(obj, dict):
        return {str(k): split_arrays(v, f"{prefix}/{k}", arrays) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [split_arrays(v, f"{prefix}/{i}", arrays) for i, v in enumerate(obj)]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def join_arrays(obj, arrays: dict):
    """The inverse of ``split_arrays``."""
    if isinstance(obj, dict):
        if set(obj) == {"__array__"}:
            key = obj["__array__"]
            if not isinstance(key, str) or key not in arrays:
                raise ValueError(f"checkpoint: the array {key!r} named in the metadata is missing")
            return arrays[key]
        return {k: join_arrays(v, arrays) for k, v in obj.items()}
    if isinstance(obj, list):
        return [join_arrays(v, arrays) for v in obj]
    return obj


def save_checkpoint(path, *, model, optimizer=None, scheduler=None, epoch: int = 0, step: int = 0,
                    history=None, callbacks=(), extra=None) -> None:
    """Write everything needed to continue training exactly where it stands. Each callback with a
    ``state_dict()`` contributes its state, tagged with its class name; ``extra`` is any
    JSON-serialisable dict (the Trainer keeps its stop flag and epoch target there)."""
    arrays = {f"model/{k}": v for k, v in model.state_dict().items()}
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "epoch": epoch,
        "step": step,
        "model_keys": list(model.state_dict()),
        "optimizer": split_arrays(optimizer.state_dict(), "optimizer", arrays) if optimizer else None,
        "scheduler": split_arrays(scheduler.state_dict(), "scheduler", arrays) if scheduler is not None else None,
        "rng": random.get_rng_state(),
        "history": history.to_dict() if history is not None else None,
        "callbacks": [
            {"type": type(cb).__name__, "state": split_arrays(cb.state_dict(), f"callbacks/{i}", arrays)}
            if hasattr(cb, "state_dict") else None
            for i, cb in enumerate(callbacks)
        ],
        "extra": extra,
    }
    save(arrays, path, metadata=meta)


MAX_EPOCH = 10**9  # far beyond any real run; a larger number is damage
MAX_STEP = 2**53  # exact in a float: larger step counts are damage


def _check_rng(where: str, state) -> dict:
    """The generator state, checked field by field (random.check_rng_state)."""
    field(where, {"rng": state}, "rng", lambda v: isinstance(v, dict) and isinstance(v.get("bit_generator"), str),
          "a random generator state (a dict naming its bit_generator)")
    kind = type(random.get_generator().bit_generator)
    if state["bit_generator"] != kind.__name__:
        raise ValueError(f"{where}: the field 'rng' holds a {state['bit_generator'][:40]!r} generator state, "
                         f"expected {kind.__name__!r}")
    try:
        return random.check_rng_state(state)
    except ValueError as err:
        raise ValueError(f"{where}: the field 'rng' is not a valid {kind.__name__} state ({err})") from None


def load_checkpoint(path) -> dict:
    """Read a checkpoint: a dict with "model" (a state dict), "optimizer", "scheduler", "epoch",
    "step", "rng", "history" (a History), "callbacks" (per callback None or {"type", "state"})
    and "extra". A damaged, foreign or inconsistent file raises ValueError naming the file and the
    field; every field is checked for type and range before anything is returned."""
    arrays, meta = load(path, with_metadata=True)
    where = f"load_checkpoint: {path}"
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"{where} is not a chainrule checkpoint (no checkpoint metadata)")
    if meta.get("version") != VERSION:
        raise ValueError(
            f"{where} has checkpoint version {meta.get('version')!r}, expected {VERSION} "
            "(a checkpoint from another chainrule version cannot be resumed)"
        )
    epoch = field(where, meta, "epoch", lambda v: is_int(v) and 0 <= v <= MAX_EPOCH,
                  f"an epoch count between 0 and {MAX_EPOCH}")
    step = field(where, meta, "step", lambda v: is_int(v) and 0 <= v <= MAX_STEP,
                 f"a step count between 0 and {MAX_STEP}")
    keys = field(where, meta, "model_keys", lambda v: isinstance(v, list) and all(isinstance(k, str) for k in v)
                 and len(set(v)) == len(v), "a list of distinct parameter names")
    model_state = {}
    for key in keys:
        if f"model/{key}" not in arrays:
            raise ValueError(f"{where} lacks the model tensor {key!r}")
        model_state[key] = arrays[f"model/{key}"]
    optimizer = field(where, meta, "optimizer", lambda v: v is None or isinstance(v, dict),
                      "an optimizer state dict or null")
    scheduler = field(where, meta, "scheduler", lambda v: v is None or isinstance(v, dict),
                      "a scheduler state dict or null")
    rng = _check_rng(where, field(where, meta, "rng", lambda v: True, ""))
    history = field(where, meta, "history", lambda v: v is None or isinstance(v, dict), "a History dict or null")
    callbacks = field(where, meta, "callbacks", lambda v: isinstance(v, list) and all(
        c is None or (isinstance(c, dict) and set(c) == {"type", "state"} and isinstance(c["type"], str)
                      and isinstance(c["state"], dict)) for c in v),
        'a list with, per callback, null or {"type": name, "state": {...}}')
    extra = field(where, meta, "extra", lambda v: v is None or isinstance(v, dict), "a dict or null")
    try:
        return {
            "model": model_state,
            "optimizer": join_arrays(optimizer, arrays) if optimizer is not None else None,
            "scheduler": join_arrays(scheduler, arrays) if scheduler is not None else None,
            "epoch": epoch,
            "step": step,
            "rng": rng,
            "history": History.from_dict(history, where=f"{where}: the field 'history'") if history else None,
            "callbacks": [None if c is None else {"type": c["type"], "state": join_arrays(c["state"], arrays)}
                          for c in callbacks],
            "extra": extra,
        }
    except ValueError as err:
        if str(err).startswith(where):
            raise
        raise ValueError(f"{where}: {err}") from None
