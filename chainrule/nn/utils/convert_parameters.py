"""Parameters as one flat vector and back: for methods that see a model's weights as a single
point (line searches, curvature, evolution strategies)."""

import numpy as np

from chainrule._tensor import Tensor
from chainrule.nn.utils.clip_grad import _tensors
from chainrule.ops.shape import concatenate, reshape


def parameters_to_vector(parameters) -> Tensor:
    """All parameters flattened and joined into one 1-D tensor, in order (differentiable, as
    PyTorch's ``torch.cat([p.view(-1) for p in parameters])``: gradients flow back to them).

    >>> import chainrule as cr
    >>> parameters_to_vector([cr.ones(2, 2), cr.zeros(3)]).tolist()
    [1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0]
    """
    params = _tensors(parameters, "parameters_to_vector")
    if not params:
        raise ValueError("parameters_to_vector: no parameters given")
    return concatenate([reshape(p, (-1,)) for p in params], 0)


def vector_to_parameters(vec, parameters) -> None:
    """Copy consecutive slices of the 1-D ``vec`` (a tensor or an array) into the parameters in
    place (the inverse of ``parameters_to_vector``)."""
    data = vec._data if isinstance(vec, Tensor) else np.asarray(vec)
    params = _tensors(parameters, "vector_to_parameters")
    needed = sum(p._data.size for p in params)
    if data.ndim != 1 or data.size != needed:
        raise ValueError(f"vector_to_parameters: expected a 1-D vector of {needed} elements, got shape {data.shape}")
    offset = 0
    for p in params:
        n = p._data.size
        p._data[...] = data[offset : offset + n].reshape(p._data.shape)
        p._bump_version()  # in place: a graph that saved the parameter sees the change
        offset += n
