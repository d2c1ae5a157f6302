"""chainrule.sparse: PyTorch's sparse tensors have no counterpart here (NumPy has no sparse arrays
that the engine could differentiate), so making one raises an error that says so and what to do
instead; ``spmm`` of dense tensors is ``mm``, as in PyTorch.
"""

from chainrule import ops

_WHY = ("chainrule has no sparse tensors (NumPy has no sparse arrays the engine could differentiate); "
        "keep the tensor dense (torch.zeros(size) and item assignment, index_put_ or scatter_add_ build "
        "one from indices and values)")  # fmt: skip


def _refuse(name):
    def refused(*args, **kwargs):
        raise NotImplementedError(f"{name}: {_WHY}")

    refused.__name__ = refused.__qualname__ = name.rsplit(".", 1)[-1]
    refused.__doc__ = f"Not available: raises NotImplementedError ({name}: no sparse tensors)."
    return refused


sparse_coo_tensor = _refuse("sparse_coo_tensor")
sparse_csr_tensor = _refuse("sparse_csr_tensor")
mm = _refuse("sparse.mm")
addmm = _refuse("sparse.addmm")
sum = _refuse("sparse.sum")  # PyTorch's name (shadows the builtin only here)
softmax = _refuse("sparse.softmax")
log_softmax = _refuse("sparse.log_softmax")


def spmm(input, mat2):
    """input @ mat2 for dense matrices, as PyTorch's ``spmm`` does with dense operands.

    >>> import chainrule
    >>> spmm(chainrule.eye(2), chainrule.ones(2, 3)).tolist()
    [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]
    """
    return ops.mm(input, mat2)
