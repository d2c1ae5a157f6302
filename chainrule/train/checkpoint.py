"""Checkpoints that survive a crash: model parameters and buffers, optimizer and scheduler state,
epoch and step, the random generator's state, callback state and the History, in one
safetensors file (arrays) with JSON metadata, written atomically (see chainrule.serialization)."""

import numpy as np

from chainrule import random
from chainrule.serialization import load, save

FORMAT = "chainrule.checkpoint"
VERSION = 1


def split_arrays(obj, prefix: str, arrays: dict):
    """``obj`` with every ndarray replaced by a ``{"__array__": key}`` placeholder (the array goes
    into ``arrays[key]``): nested optimizer/callback state becomes JSON plus named tensors."""
    if isinstance(obj, np.ndarray):
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
            if key not in arrays:
                raise ValueError(f"checkpoint: the array {key!r} named in the metadata is missing")
            return arrays[key]
        return {k: join_arrays(v, arrays) for k, v in obj.items()}
    if isinstance(obj, list):
        return [join_arrays(v, arrays) for v in obj]
    return obj


def save_checkpoint(path, *, model, optimizer=None, scheduler=None, epoch=0, step=0,
                    history=None, callbacks=(), extra=None) -> None:
    """Write everything needed to continue training exactly where it stands."""
    arrays = {f"model/{k}": v for k, v in model.state_dict().items()}
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "epoch": epoch,
        "step": step,
        "model_keys": list(model.state_dict()),
        "optimizer": split_arrays(optimizer.state_dict(), "optimizer", arrays) if optimizer else None,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "rng": random.get_rng_state(),
        "history": history.to_dict() if history is not None else None,
        "callbacks": [
            split_arrays(cb.state_dict(), f"callbacks/{i}", arrays) if hasattr(cb, "state_dict") else None
            for i, cb in enumerate(callbacks)
        ],
        "extra": extra,
    }
    save(arrays, path, metadata=meta)


def load_checkpoint(path) -> dict:
    """Read a checkpoint: a dict with "model" (a state dict), "optimizer", "scheduler", "epoch",
    "step", "rng", "history", "callbacks" and "extra". A damaged or foreign file raises ValueError."""
    arrays, meta = load(path, with_metadata=True)
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"load_checkpoint: {path} is not a chainrule checkpoint (no checkpoint metadata)")
    if meta.get("version") != VERSION:
        raise ValueError(
            f"load_checkpoint: {path} has checkpoint version {meta.get('version')}, expected {VERSION}"
        )
    model_state = {}
    for key in meta["model_keys"]:
        if f"model/{key}" not in arrays:
            raise ValueError(f"load_checkpoint: {path} lacks the model tensor {key!r}")
        model_state[key] = arrays[f"model/{key}"]
    return {
        "model": model_state,
        "optimizer": join_arrays(meta["optimizer"], arrays) if meta["optimizer"] else None,
        "scheduler": meta["scheduler"],
        "epoch": meta["epoch"],
        "step": meta["step"],
        "rng": meta["rng"],
        "history": meta["history"],
        "callbacks": [join_arrays(c, arrays) if c is not None else None for c in meta["callbacks"]],
        "extra": meta["extra"],
    }
