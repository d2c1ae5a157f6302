"""PyTorch's ``torch.utils.data.distributed`` path for the sampler that gives each MPI rank its
share of a data set; it lives with the rest of data-parallel training in chainrule.distributed."""

from chainrule.distributed import DistributedSampler

__all__ = ["DistributedSampler"]
