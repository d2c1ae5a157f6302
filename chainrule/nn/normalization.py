"""Normalisation layers: rescale activations to zero mean and unit variance (then a learned scale
and shift), per channel over the batch (BatchNorm) or per sample over its last dims (LayerNorm).
One N-d batch norm; BatchNorm1d/2d/3d only say which input dims they accept."""

from chainrule import _backend
from chainrule._arguments import int_arg, number_arg
from chainrule._backend import xp
from chainrule._tensor import Tensor
from chainrule.nn.module import Module, Parameter
from chainrule.ops.normalization import batch_norm, layer_norm
from chainrule.ops.operands import tensor_input


class _BatchNorm(Module):
    _ndims = ()  # the input dims a subclass accepts
    _layout = ""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, device=None, dtype=None, *,
                 bias: bool = True):
        super().__init__()
        name = type(self).__name__
        _backend.as_device(device, name)
        self.num_features = int_arg(num_features, "num_features", name)
        self.eps = number_arg(eps, "eps", name, 0, low_open=True)
        self.momentum = None if momentum is None else number_arg(momentum, "momentum", name, 0, 1)
        self.affine = affine
        self.track_running_stats = track_running_stats
        dtype = dtype or _backend.get_default_dtype()
        if affine:
            self.weight = Parameter(xp.ones(num_features, dtype=dtype))
        else:
            self.register_parameter("weight", None)
        if affine and bias:
            self.bias = Parameter(xp.zeros(num_features, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", Tensor(xp.zeros(num_features, dtype=dtype), dtype=dtype))
            self.register_buffer("running_var", Tensor(xp.ones(num_features, dtype=dtype), dtype=dtype))
            self.register_buffer("num_batches_tracked", Tensor(xp.zeros((), dtype=xp.int64), dtype=xp.int64))
        else:
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                self.register_buffer(name, None)

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            self.running_mean._data[...] = 0
            self.running_var._data[...] = 1
            self.num_batches_tracked._data[...] = 0

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        if self.weight is not None:
            self.weight._data[...] = 1
        if self.bias is not None:
            self.bias._data[...] = 0

    def forward(self, x):
        name = f"{type(self).__name__}({self.num_features})"
        shape = tensor_input(x, name).shape
        if len(shape) not in self._ndims:
            raise ValueError(f"{name}: expected {self._layout} input, got shape {shape}")
        if shape[1] != self.num_features:
            raise ValueError(
                f"{name}: input has {shape[1]} channels (shape {shape}), expected {self.num_features}"
            )
        update = self.training and self.track_running_stats
        momentum = self.momentum
        if momentum is None:  # a cumulative average: batch k weighs 1/k
            momentum = 1.0 / (int(self.num_batches_tracked._data) + 1) if update else 0.0
        # In eval mode without running statistics the batch's own are used (PyTorch's rule).
        use_batch = self.training or self.running_mean is None
        keep = not self.training or self.track_running_stats
        out = batch_norm(
            x, self.running_mean if keep else None, self.running_var if keep else None,
            self.weight, self.bias, use_batch, momentum, self.eps,
        )
        if update:
            self.num_batches_tracked._data += 1
        return out

    def extra_repr(self):
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
            f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}"
        )


class BatchNorm1d(_BatchNorm):
    """Batch norm of (N, C) or (N, C, L) inputs: each of the C channels is normalised with the
    batch's mean and variance in training, with running averages of them in eval mode.

    weight (ones) and bias (zeros): (C,); buffers running_mean, running_var, num_batches_tracked.

    >>> import chainrule as cr
    >>> bn = BatchNorm1d(3)
    >>> bn(cr.randn(8, 3)).shape
    (8, 3)
    """

    _ndims = (2, 3)
    _layout = "a 2-d (N, C) or 3-d (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """Batch norm of (N, C, H, W) images, per channel over the batch and all pixels."""

    _ndims = (4,)
    _layout = "a 4-d (N, C, H, W)"


class BatchNorm3d(_BatchNorm):
    """Batch norm of (N, C, D, H, W) volumes, per channel over the batch and all voxels."""

    _ndims = (5,)
    _layout = "a 5-d (N, C, D, H, W)"


class LayerNorm(Module):
    """Normalise each sample over its last dims ``normalized_shape``, then scale and shift
    elementwise (weight ones, bias zeros, both of shape normalized_shape). Same in train and eval.

    >>> import chainrule as cr
    >>> LayerNorm(4)(cr.randn(2, 5, 4)).shape
    (2, 5, 4)
    """

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, device=None, dtype=None):
        super().__init__()
        _backend.as_device(device, "LayerNorm")
        try:
            shape = tuple(normalized_shape)
        except TypeError:
            shape = (normalized_shape,)
        if not shape:
            raise ValueError(f"LayerNorm: normalized_shape must hold at least one size, got {normalized_shape!r}")
        shape = tuple(int_arg(n, "normalized_shape", "LayerNorm") for n in shape)
        self.normalized_shape = shape
        self.eps = number_arg(eps, "eps", "LayerNorm", 0, low_open=True)
        self.elementwise_affine = elementwise_affine
        dtype = dtype or _backend.get_default_dtype()
        if elementwise_affine:
            self.weight = Parameter(xp.ones(shape, dtype=dtype))
        else:
            self.register_parameter("weight", None)
        if elementwise_affine and bias:
            self.bias = Parameter(xp.zeros(shape, dtype=dtype))
        else:
            self.register_parameter("bias", None)

    def reset_parameters(self) -> None:
        if self.weight is not None:
            self.weight._data[...] = 1
        if self.bias is not None:
            self.bias._data[...] = 0

    def forward(self, x):
        shape, k = tensor_input(x, "LayerNorm").shape, len(self.normalized_shape)
        if len(shape) < k or shape[len(shape) - k:] != self.normalized_shape:
            raise ValueError(
                f"LayerNorm({self.normalized_shape}): input of shape {shape} does not end in "
                f"{self.normalized_shape}"
            )
        return layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (
            f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
            f"bias={self.bias is not None}"
        )
