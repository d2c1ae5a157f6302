"""chainrule.onnx: PyTorch's ONNX exporter has no counterpart here (exporting traces PyTorch's own
graph into ONNX operators). The module exists so that scripts importing it run; calling ``export``
says what to do instead."""


def export(model, args=(), f=None, *more, **options):
    """Not available: raises, saying how to move a chainrule model to ONNX.

    >>> export(None)
    Traceback (most recent call last):
    ...
    NotImplementedError: onnx.export: chainrule has no ONNX exporter; save the weights with ...
    """
    raise NotImplementedError(
        "onnx.export: chainrule has no ONNX exporter; save the weights with "
        "chainrule.save(model.state_dict(), 'model.safetensors'), load them into the same model built "
        "in PyTorch (load_state_dict of safetensors.torch.load_file) and export from there"
    )


def is_in_onnx_export() -> bool:
    """False: nothing is ever being exported."""
    return False
