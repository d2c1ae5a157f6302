"""Normalisation layers: rescale activations to zero mean and unit variance (then a learned scale
and shift), per channel over the batch (BatchNorm), per sample over its last dims (LayerNorm, and
RMSNorm without centring), per group of channels (GroupNorm) or per channel of each sample
(InstanceNorm). One N-d batch norm and one instance norm; their 1d/2d/3d faces only say which
input dims they accept."""

import warnings

from chainrule import _backend
from chainrule._arguments import int_arg, number_arg
from chainrule._backend import xp
from chainrule._tensor import Tensor
from chainrule.nn.module import Module, Parameter
from chainrule.ops.normalization import (
    batch_norm,
    group_norm,
    instance_norm,
    layer_norm,
    local_response_norm,
    rms_norm,
)
from chainrule.ops.operands import tensor_input


def _scale_and_shift(module, shape, weight: bool, bias, dtype) -> None:
    """Register the learned scale ``weight`` (ones of ``shape``) and shift ``bias`` (zeros), or
    None for each that is off; ``bias=None``: the layer has no bias at all (RMSNorm)."""
    dtype = dtype or _backend.get_default_dtype()
    module.register_parameter("weight", Parameter(xp.ones(shape, dtype=dtype)) if weight else None)
    if bias is not None:
        module.register_parameter("bias", Parameter(xp.zeros(shape, dtype=dtype)) if weight and bias else None)


def _reset_scale_and_shift(module) -> None:
    if module.weight is not None:
        module.weight._data[...] = 1
    if getattr(module, "bias", None) is not None:
        module.bias._data[...] = 0


def _normalized_shape(normalized_shape, name) -> tuple:
    """An int or a sequence of ints, as a non-empty tuple (LayerNorm, RMSNorm)."""
    try:
        shape = tuple(normalized_shape)
    except TypeError:
        shape = (normalized_shape,)
    if not shape:
        raise ValueError(f"{name}: normalized_shape must hold at least one size, got {normalized_shape!r}")
    return tuple(int_arg(n, "normalized_shape", name) for n in shape)


class _NormBase(Module):
    """Batch and instance norm's parameters (weight ones, bias zeros: (C,)) and running statistics
    (buffers running_mean, running_var, num_batches_tracked), as PyTorch's _NormBase."""

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
        _scale_and_shift(self, num_features, affine, bool(bias), dtype)
        dtype = dtype or _backend.get_default_dtype()
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
        _reset_scale_and_shift(self)

    def extra_repr(self):
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
            f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}"
        )


class _BatchNorm(_NormBase):
    _ndims = ()  # the input dims a subclass accepts
    _layout = ""

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
        self.normalized_shape = _normalized_shape(normalized_shape, "LayerNorm")
        self.eps = number_arg(eps, "eps", "LayerNorm", 0, low_open=True)
        self.elementwise_affine = elementwise_affine
        _scale_and_shift(self, self.normalized_shape, elementwise_affine, bool(bias), dtype)

    def reset_parameters(self) -> None:
        _reset_scale_and_shift(self)

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


class _InstanceNorm(_NormBase):
    """Instance norm: each channel of each sample normalised over its positions (the style of an
    image without its contrast). Running statistics only with ``track_running_stats=True``, then
    used in eval mode; ``momentum=None`` leaves them as they are (PyTorch's rule)."""

    _ndims = ()  # (unbatched, batched)

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = False, track_running_stats: bool = False, device=None, dtype=None, *,
                 bias: bool = True):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype, bias=bias)

    def forward(self, x):
        name = f"{type(self).__name__}({self.num_features})"
        shape = tensor_input(x, name).shape
        unbatched, batched = self._ndims
        if len(shape) not in self._ndims:
            raise ValueError(
                f"{name}: expected {unbatched}D or {batched}D input (got {len(shape)}D input of shape {shape})"
            )
        feature_dim = len(shape) - unbatched
        if shape[feature_dim] != self.num_features:
            if self.affine:
                raise ValueError(
                    f"{name}: expected input's size at dim={feature_dim} to match num_features "
                    f"({self.num_features}), but got: {shape[feature_dim]} (shape {shape})"
                )
            warnings.warn(
                f"{name}: input's size at dim={feature_dim} does not match num_features. You can silence this "
                "warning by not passing in num_features, which is not used because affine=False",
                stacklevel=2,
            )
        out = instance_norm(
            x if len(shape) == batched else x.unsqueeze(0), self.running_mean, self.running_var,
            self.weight, self.bias, self.training or not self.track_running_stats,
            0.0 if self.momentum is None else self.momentum, self.eps,
        )
        return out if len(shape) == batched else out.squeeze(0)


class InstanceNorm1d(_InstanceNorm):
    """Instance norm of (N, C, L) or unbatched (C, L) inputs: each channel of each sample over its
    L positions. No parameters unless ``affine=True`` (weight ones, bias zeros: (C,)).

    >>> import chainrule as cr
    >>> InstanceNorm1d(3)(cr.randn(8, 3, 20)).shape
    (8, 3, 20)
    """

    _ndims = (2, 3)


class InstanceNorm2d(_InstanceNorm):
    """Instance norm of (N, C, H, W) or unbatched (C, H, W) images, per channel over its pixels."""

    _ndims = (3, 4)


class InstanceNorm3d(_InstanceNorm):
    """Instance norm of (N, C, D, H, W) or unbatched (C, D, H, W) volumes, per channel over its voxels."""

    _ndims = (4, 5)


class GroupNorm(Module):
    """Normalise each sample's C channels in ``num_groups`` groups (mean and variance over the
    group's channels and positions), then scale and shift per channel (weight ones, bias zeros:
    (C,)). Independent of the batch, so the same in training and eval.

    >>> import chainrule as cr
    >>> GroupNorm(2, 6)(cr.randn(4, 6, 5, 5)).shape
    (4, 6, 5, 5)
    """

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True,
                 device=None, dtype=None, *, bias: bool = True):
        super().__init__()
        _backend.as_device(device, "GroupNorm")
        self.num_groups = int_arg(num_groups, "num_groups", "GroupNorm")
        self.num_channels = int_arg(num_channels, "num_channels", "GroupNorm")
        if num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_channels ({num_channels}) must be divisible by num_groups ({num_groups})")
        self.eps = number_arg(eps, "eps", "GroupNorm", 0, low_open=True)
        self.affine = affine
        _scale_and_shift(self, num_channels, affine, bool(bias), dtype)

    def reset_parameters(self) -> None:
        _reset_scale_and_shift(self)

    def forward(self, x):
        return group_norm(tensor_input(x, "GroupNorm"), self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (
            f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
            f"bias={self.bias is not None}"
        )


class RMSNorm(Module):
    """Divide each sample by the root mean square over its last dims ``normalized_shape``, then
    scale elementwise (weight ones, of shape normalized_shape; no bias): ``x / sqrt(mean(x^2) +
    eps) * weight``, eps=None meaning the machine epsilon of the input's dtype.

    >>> import chainrule as cr
    >>> RMSNorm(4)(cr.randn(2, 5, 4)).shape
    (2, 5, 4)
    """

    def __init__(self, normalized_shape, eps: float | None = None, elementwise_affine: bool = True,
                 device=None, dtype=None):
        super().__init__()
        _backend.as_device(device, "RMSNorm")
        self.normalized_shape = _normalized_shape(normalized_shape, "RMSNorm")
        self.eps = None if eps is None else number_arg(eps, "eps", "RMSNorm", 0)
        self.elementwise_affine = elementwise_affine
        _scale_and_shift(self, self.normalized_shape, elementwise_affine, None, dtype)

    def reset_parameters(self) -> None:
        _reset_scale_and_shift(self)

    def forward(self, x):
        return rms_norm(tensor_input(x, "RMSNorm"), self.normalized_shape, self.weight, self.eps)

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


class LocalResponseNorm(Module):
    """Divide each channel by ``(k + alpha * mean of x^2 over `size` neighbouring channels)^beta``
    (AlexNet's lateral inhibition), on (N, C, ...) inputs of 3 or more dims.

    >>> import chainrule as cr
    >>> LocalResponseNorm(2)(cr.randn(4, 6, 5, 5)).shape
    (4, 6, 5, 5)
    """

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0):
        super().__init__()
        self.size = int_arg(size, "size", "LocalResponseNorm")
        self.alpha = number_arg(alpha, "alpha", "LocalResponseNorm")
        self.beta = number_arg(beta, "beta", "LocalResponseNorm")
        self.k = number_arg(k, "k", "LocalResponseNorm")

    def forward(self, x):
        return local_response_norm(tensor_input(x, "LocalResponseNorm"), self.size, self.alpha, self.beta, self.k)

    def extra_repr(self):
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"
