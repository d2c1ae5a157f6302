"""A linear map fixed when an op runs (average pooling, upsampling, max pooling's routing of the
gradient to each window's maximum) as an op of its own: its rule is the adjoint map, and the
adjoint's rule is the map again, so one pair of array functions differentiates to any order."""

from chainrule._tensor import Tensor
from chainrule.autograd.engine import needs_graph, record
from chainrule.ops.operands import wrap


class LinearMap:
    """A linear map A on arrays: ``apply(a)`` computes A a, ``adjoint(b)`` computes A^T b.

    A subclass holds only constants (shapes, divisors, index sets): nothing in it may depend
    differentiably on an op's inputs. ``names`` are the nodes' names for A and A^T."""

    names = ("LinearMap", "LinearMapAdjoint")

    def apply(self, a):
        raise NotImplementedError

    def adjoint(self, b):
        raise NotImplementedError


def linear_map(x, plan: LinearMap, adjoint: bool = False):
    """``plan.apply(x)`` (``plan.adjoint(x)`` when ``adjoint``): an array for an array (a rule's
    first-order path), a tensor for a tensor, recorded when it needs a graph."""
    if not isinstance(x, Tensor):
        return plan.adjoint(x) if adjoint else plan.apply(x)
    out = plan.adjoint(x._data) if adjoint else plan.apply(x._data)
    if needs_graph(x):
        return record(plan.names[adjoint], out, (x,), _linear_map_vjp, (plan, adjoint))
    return wrap(out)


def _linear_map_vjp(g, plan, adjoint):
    return (linear_map(g, plan, not adjoint),)
