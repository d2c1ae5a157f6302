"""chainrule.nn.utils, at PyTorch's path: gradient clipping (clip_grad), parameters as one vector
and back (convert_parameters), and padded and packed sequences for the recurrent layers (rnn)."""

from chainrule.nn.utils import rnn
from chainrule.nn.utils.clip_grad import (
    clip_grad_norm,  # PyTorch's deprecated name
    clip_grad_norm_,
    clip_grad_value_,
    clip_grads_with_norm_,
    get_total_norm,
)
from chainrule.nn.utils.convert_parameters import parameters_to_vector, vector_to_parameters

__all__ = [
    "clip_grad_norm_", "clip_grad_value_", "clip_grads_with_norm_", "get_total_norm", "parameters_to_vector", "rnn",
    "vector_to_parameters", "clip_grad_norm",
]  # fmt: skip
