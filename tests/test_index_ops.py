"""Shape, indexing, sorting and product ops beyond their op-table cases: indices and named-tuple
results, dtypes, Tensor methods and in-place forms, PyTorch's edge rules and the errors for bad
arguments. Values are checked against NumPy or worked by hand."""

import doctest

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule.ops import indexing, linalg, shape, sorting

RNG = np.random.default_rng(0)


def test_docstring_examples_run():
    globs = {"tensor": cr.tensor, "chainrule": cr, **vars(cr), "one_hot": F.one_hot}
    for module in (indexing, linalg, shape, sorting, F):
        for name in ("gather", "scatter_reduce", "einsum", "pad", "sort", "one_hot"):
            fn = getattr(module, name, None)
            if fn is None or fn.__module__ != module.__name__:
                continue
            test = doctest.DocTestParser().get_doctest(fn.__doc__, globs, name, None, 0)
            runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
            runner.run(test)
            assert runner.failures == 0 and test.examples, name


# ---------------------------------------------------------------------------- sorting


def test_sort_returns_values_and_indices_as_a_named_tuple():
    x = cr.tensor([[3.0, 1.0, 2.0], [0.0, 5.0, 4.0]])
    result = x.sort(dim=1, descending=True)
    values, indices = result
    assert result.values is values and result.indices is indices
    np.testing.assert_array_equal(values.numpy(), [[3, 2, 1], [5, 4, 0]])
    np.testing.assert_array_equal(indices.numpy(), [[0, 2, 1], [1, 2, 0]])
    assert indices.dtype == np.int64 and not indices.requires_grad


def test_stable_sort_keeps_equal_values_in_their_order_both_ways():
    x = cr.tensor([2.0, 1.0, 2.0, 1.0, 2.0])
    np.testing.assert_array_equal(cr.sort(x, stable=True).indices.numpy(), [1, 3, 0, 2, 4])
    np.testing.assert_array_equal(cr.sort(x, descending=True, stable=True).indices.numpy(), [0, 2, 4, 1, 3])
    np.testing.assert_array_equal(cr.argsort(x, descending=True, stable=True).numpy(), [0, 2, 4, 1, 3])


def test_sort_puts_nan_last_and_its_gradient_goes_back_to_where_each_value_came_from():
    x = cr.tensor([1.0, float("nan"), -1.0], requires_grad=True)
    values = x.sort().values
    np.testing.assert_array_equal(values.detach().numpy(), [-1.0, 1.0, np.nan])
    (values * cr.tensor([1.0, 10.0, 0.0])).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [10.0, 0.0, 1.0])


def test_topk_and_kthvalue_pick_by_hand():
    x = cr.tensor([[4.0, 9.0, 1.0, 7.0]], requires_grad=True)
    top = x.topk(2)
    np.testing.assert_array_equal(top.values.detach().numpy(), [[9.0, 7.0]])
    np.testing.assert_array_equal(top.indices.numpy(), [[1, 3]])
    low = cr.topk(x, 3, largest=False)
    np.testing.assert_array_equal(low.indices.numpy(), [[2, 0, 3]])
    kth = x.kthvalue(2, dim=1)
    assert kth.values.item() == 4.0 and kth.indices.item() == 0 and kth.values.shape == (1,)
    top.values.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 1, 0, 1]])
    assert type(top).__name__ == "topk" and type(kth).__name__ == "kthvalue"


def test_max_and_min_over_a_dim_are_named_tuples():
    x = cr.tensor([[1.0, 5.0], [7.0, 2.0]])
    result = x.max(dim=1)
    np.testing.assert_array_equal(result.values.numpy(), [5.0, 7.0])
    np.testing.assert_array_equal(result.indices.numpy(), [1, 0])
    np.testing.assert_array_equal(cr.min(x, 0).indices.numpy(), [0, 1])


def test_sorting_errors_name_the_argument():
    with pytest.raises(ValueError, match="topk: k"):
        cr.topk(cr.ones(3), 4)
    with pytest.raises(ValueError, match="kthvalue: k"):
        cr.kthvalue(cr.ones(3), 0)
    with pytest.raises(IndexError, match="sort: dim 2"):
        cr.sort(cr.ones(3, 2), 2)


# ---------------------------------------------------------------------------- gather and scatter


def test_gather_and_scatter_follow_their_definition():
    x = RNG.standard_normal((3, 4))
    index = np.array([[3, 0], [1, 1], [2, 0]])
    got = cr.tensor(x).gather(1, cr.tensor(index)).numpy()
    np.testing.assert_array_equal(got, [[x[i, index[i, j]] for j in range(2)] for i in range(3)])
    src = cr.tensor(RNG.standard_normal((3, 2)))
    out = cr.zeros(3, 4, dtype=cr.float64).scatter(1, cr.tensor([[3, 0], [1, 2], [2, 0]]), src).numpy()
    expected = np.zeros((3, 4))
    for i in range(3):
        for j, k in enumerate([[3, 0], [1, 2], [2, 0]][i]):
            expected[i, k] = src.numpy()[i, j]
    np.testing.assert_array_equal(out, expected)
    filled = cr.zeros(2, 3).scatter(0, cr.tensor([[1, 0, 1]]), 7.0).numpy()
    np.testing.assert_array_equal(filled, [[0, 7, 0], [7, 0, 7]])


def test_scatter_add_adds_repeated_indices():
    out = cr.zeros(4).scatter_add(0, cr.tensor([1, 1, 3, 1]), cr.tensor([1.0, 2.0, 3.0, 4.0]))
    np.testing.assert_array_equal(out.numpy(), [0, 7, 0, 3])


def test_scatter_reduce_by_hand():
    x = cr.tensor([10.0, 20.0, 30.0])
    index, src = cr.tensor([0, 0, 2, 0]), cr.tensor([1.0, 5.0, 40.0, 3.0])
    cases = {
        ("sum", True): [19, 20, 70], ("sum", False): [9, 20, 40],
        ("mean", True): [19 / 4, 20, 35], ("mean", False): [3, 20, 40],
        ("amax", True): [10, 20, 40], ("amax", False): [5, 20, 40],
        ("amin", True): [1, 20, 30], ("amin", False): [1, 20, 40],
        ("prod", True): [150, 20, 1200], ("prod", False): [15, 20, 40],
    }  # fmt: skip
    for (reduce, include_self), expected in cases.items():
        got = x.scatter_reduce(0, index, src, reduce, include_self=include_self)
        np.testing.assert_allclose(got.numpy(), expected, err_msg=f"{reduce} {include_self}")


def test_scatter_reduce_of_integers_as_pytorch():
    x, index, src = cr.tensor([10, 20, 30]), cr.tensor([0, 0, 2, 0]), cr.tensor([1, 5, 40, 3])
    np.testing.assert_array_equal(x.scatter_reduce(0, index, src, "mean").numpy(), [4, 20, 35])  # rounded down
    np.testing.assert_array_equal(x.scatter_reduce(0, index, src, "amax", include_self=False).numpy(), [5, 20, 40])
    assert x.scatter_reduce(0, index, src, "sum").dtype == np.int64


def test_scatter_reduce_amax_shares_the_gradient_among_ties_as_pytorch():
    x = cr.tensor([2.0, 0.0], requires_grad=True)
    src = cr.tensor([2.0, 1.0, 2.0], requires_grad=True)
    out = x.scatter_reduce(0, cr.tensor([0, 0, 0]), src, "amax")
    out.backward(cr.tensor([3.0, 1.0]))
    np.testing.assert_allclose(x.grad.numpy(), [1.0, 1.0])
    np.testing.assert_allclose(src.grad.numpy(), [1.0, 0.0, 1.0])


def test_scatter_reduce_prod_sends_a_lone_zero_the_product_of_the_others():
    src = cr.tensor([2.0, 0.0, 3.0, 0.0, 0.0, 5.0], requires_grad=True)
    x = cr.tensor([1.0, 1.0, 7.0], requires_grad=True)
    out = x.scatter_reduce(0, cr.tensor([0, 0, 0, 1, 1, 2]), src, "prod")
    np.testing.assert_array_equal(out.detach().numpy(), [0.0, 0.0, 35.0])
    out.sum().backward()
    # position 0: one zero (gets 1 * 2 * 3); position 1: two zeros (nothing); position 2: no zero
    np.testing.assert_array_equal(src.grad.numpy(), [0.0, 6.0, 0.0, 0.0, 0.0, 7.0])
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0, 5.0])


def test_gather_family_errors():
    x = cr.ones(2, 3)
    with pytest.raises(IndexError, match=r"gather: index values must lie in \[0, 3\)"):
        x.gather(1, cr.tensor([[3]]))
    with pytest.raises(ValueError, match="gather: index has 1 dims"):
        x.gather(1, cr.tensor([0]))
    with pytest.raises(ValueError, match="larger than the input"):
        x.gather(1, cr.tensor([[0], [0], [0]]))
    with pytest.raises(TypeError, match="gather: index must be an integer tensor"):
        x.gather(1, cr.tensor([[0.0]]))
    with pytest.raises(ValueError, match="scatter_reduce: reduce must be one of"):
        x.scatter_reduce(0, cr.tensor([[0]]), x, "max")


def test_inplace_forms_record_when_only_the_written_values_require_grad():
    src = cr.tensor([[2.0, 3.0]], requires_grad=True)
    y = cr.zeros(2, 2)
    y.scatter_(0, cr.tensor([[1, 0]]), src)
    assert y.requires_grad
    (y * cr.tensor([[1.0, 10.0], [100.0, 1000.0]])).sum().backward()
    np.testing.assert_array_equal(src.grad.numpy(), [[100.0, 10.0]])


def test_inplace_forms_write_into_the_tensor_and_keep_the_graph():
    w = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = w * 1
    y.scatter_(0, cr.tensor([0]), cr.tensor([0.0]))
    y.masked_fill_(cr.tensor([False, True, False]), 0.0)
    y.index_add_(0, cr.tensor([2, 2]), cr.tensor([1.0, 1.0]))
    np.testing.assert_array_equal(y.detach().numpy(), [0.0, 0.0, 5.0])
    y.sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [0.0, 0.0, 1.0])
    z = cr.ones(2, 2)
    assert z.tril_() is z
    np.testing.assert_array_equal(z.numpy(), [[1, 0], [1, 1]])


# ---------------------------------------------------------------------------- selection


def test_masked_ops_and_index_ops():
    x = cr.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(x.masked_fill(x > 3, -1.0).numpy(), [[0, 1, 2], [3, -1, -1]])
    np.testing.assert_array_equal(x.masked_select(cr.tensor([True, False, True])).numpy(), [0, 2, 3, 5])
    np.testing.assert_array_equal(x.index_select(1, cr.tensor([2, 0])).numpy(), [[2, 0], [5, 3]])
    np.testing.assert_array_equal(x.index_fill(0, cr.tensor([1]), 9.0).numpy(), [[0, 1, 2], [9, 9, 9]])
    np.testing.assert_array_equal(x.take(cr.tensor([[5, -6]])).numpy(), [[5, 0]])
    ints = cr.tensor([[1, 2], [3, 4]])
    assert ints.masked_fill(ints > 2, 0.7).dtype == np.int64  # the value takes the tensor's dtype
    with pytest.raises(TypeError, match="masked_fill: mask must be a boolean tensor"):
        x.masked_fill(cr.tensor([1, 0, 1]), 0.0)


def test_nonzero_argwhere_and_one_argument_where():
    x = cr.tensor([[0, 3], [5, 0]])
    np.testing.assert_array_equal(x.nonzero().numpy(), [[0, 1], [1, 0]])
    assert x.nonzero().dtype == np.int64
    rows, cols = cr.nonzero(x, as_tuple=True)
    np.testing.assert_array_equal(rows.numpy(), [0, 1])
    np.testing.assert_array_equal(cols.numpy(), [1, 0])
    rows, cols = cr.where(x > 0)
    np.testing.assert_array_equal(x[rows, cols].numpy(), [3, 5])
    np.testing.assert_array_equal(cr.argwhere(x).numpy(), [[0, 1], [1, 0]])


def test_one_hot():
    out = F.one_hot(cr.tensor([[2], [0]]), num_classes=4)
    assert out.dtype == np.int64 and out.shape == (2, 1, 4)
    np.testing.assert_array_equal(out.numpy(), [[[0, 0, 1, 0]], [[1, 0, 0, 0]]])
    assert F.one_hot(cr.tensor([1, 3])).shape == (2, 4)
    with pytest.raises(ValueError, match=r"one_hot: class indices must lie in \[0, 2\)"):
        F.one_hot(cr.tensor([2]), 2)
    with pytest.raises(TypeError, match="one_hot: expected an integer tensor"):
        F.one_hot(cr.tensor([1.0]))


# ---------------------------------------------------------------------------- shapes


def test_views_and_splits_match_numpy():
    x = cr.arange(24.0).reshape(2, 3, 4)
    a = np.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_array_equal(x.movedim(0, -1).numpy(), np.moveaxis(a, 0, -1))
    np.testing.assert_array_equal(x.unflatten(2, (2, -1)).numpy(), a.reshape(2, 3, 2, 2))
    np.testing.assert_array_equal(x.narrow(2, 1, 2).numpy(), a[:, :, 1:3])
    assert [c.shape for c in x.chunk(3, 2)] == [(2, 3, 2), (2, 3, 2)]
    assert [c.shape for c in x.tensor_split(3, 2)] == [(2, 3, 2), (2, 3, 1), (2, 3, 1)]
    assert [c.shape for c in x.split([1, 3], 2)] == [(2, 3, 1), (2, 3, 3)]
    assert [u.shape for u in x.unbind(1)] == [(2, 4)] * 3
    assert x.squeeze((0, 1)).shape == (2, 3, 4) and x.unsqueeze(0).squeeze((0, 2)).shape == (2, 3, 4)
    np.testing.assert_array_equal(x.flatten(1).numpy(), a.reshape(2, 12))
    np.testing.assert_array_equal(x.view_as(cr.zeros(4, 6)).numpy(), a.reshape(4, 6))
    np.testing.assert_array_equal(x[0].t().numpy(), a[0].T)
    np.testing.assert_array_equal(x.unfold(2, 2, 2).numpy(), a.reshape(2, 3, 2, 2))
    np.testing.assert_array_equal(x.repeat(1, 1, 1, 2).numpy(), np.tile(a, (1, 1, 1, 2)))
    np.testing.assert_array_equal(x.roll(1, 2).numpy(), np.roll(a, 1, 2))


def test_narrow_shares_memory_and_the_version_counter():
    x = cr.zeros(4)
    part = x.narrow(0, 1, 2)
    part.add_(1.0)
    np.testing.assert_array_equal(x.numpy(), [0, 1, 1, 0])


def test_diag_trace_and_triangles_by_hand():
    m = cr.tensor([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal(m.diag().numpy(), [1, 4])
    np.testing.assert_array_equal(m.diag(1).numpy(), [2])
    np.testing.assert_array_equal(cr.diag(cr.tensor([1.0, 2.0]), -1).numpy(), [[0, 0, 0], [1, 0, 0], [0, 2, 0]])
    assert m.trace().item() == 5.0
    np.testing.assert_array_equal(m.triu(1).numpy(), [[0, 2], [0, 0]])
    np.testing.assert_array_equal(m.tril(-1).numpy(), [[0, 0], [3, 0]])


def test_pad_modes_and_their_errors():
    x = cr.tensor([[[1.0, 2.0, 3.0]]])
    np.testing.assert_array_equal(F.pad(x, (2, 1), mode="reflect").numpy(), [[[3, 2, 1, 2, 3, 2]]])
    np.testing.assert_array_equal(F.pad(x, (2, 1), mode="replicate").numpy(), [[[1, 1, 1, 2, 3, 3]]])
    np.testing.assert_array_equal(F.pad(x, (2, 1), mode="circular").numpy(), [[[2, 3, 1, 2, 3, 1]]])
    np.testing.assert_array_equal(F.pad(x, (-1, 1), value=9.0).numpy(), [[[2, 3, 9]]])
    w = cr.tensor([[1.0, 2.0, 3.0]], requires_grad=True)
    F.pad(w, (2, 1), mode="reflect").sum().backward()  # the copies' gradients add up
    np.testing.assert_array_equal(w.grad.numpy(), [[1, 3, 2]])  # 3 2 [1 2 3] 2
    with pytest.raises(ValueError, match=r"reflect padding \(3, 0\) of dim 2 must be at most 2"):
        F.pad(x, (3, 0), mode="reflect")
    with pytest.raises(ValueError, match="pads the last 1 dim"):
        F.pad(cr.ones(3), (1, 1), mode="replicate")
    with pytest.raises(ValueError, match="pad: mode must be one of"):
        F.pad(x, (1, 1), mode="wrap")
    with pytest.raises(ValueError, match="takes no value"):
        F.pad(x, (1, 1), mode="reflect", value=1.0)


def test_meshgrid_and_stacks():
    a, b = cr.tensor([1.0, 2.0]), cr.tensor([3.0, 4.0, 5.0])
    xs, ys = cr.meshgrid(a, b, indexing="xy")
    ref_x, ref_y = np.meshgrid([1.0, 2.0], [3.0, 4.0, 5.0])
    np.testing.assert_array_equal(xs.numpy(), ref_x)
    np.testing.assert_array_equal(ys.numpy(), ref_y)
    assert cr.meshgrid(a, b)[0].shape == (2, 3)
    assert cr.vstack([a, a]).shape == (2, 2) and cr.hstack([a, b]).shape == (5,)
    assert cr.column_stack([a, a]).shape == (2, 2)


def test_repeat_interleave_with_a_tensor_of_counts():
    x = cr.tensor([[1, 2], [3, 4]])
    np.testing.assert_array_equal(x.repeat_interleave(cr.tensor([1, 2]), dim=0).numpy(), [[1, 2], [3, 4], [3, 4]])
    np.testing.assert_array_equal(x.repeat_interleave(2).numpy(), [1, 1, 2, 2, 3, 3, 4, 4])
    with pytest.raises(ValueError, match="repeat_interleave: repeats"):
        x.repeat_interleave(cr.tensor([1, 2, 3]), dim=0)


def test_shape_errors_name_the_function():
    with pytest.raises(ValueError, match="narrow: length"):
        cr.ones(3).narrow(0, 1, 3)
    with pytest.raises(ValueError, match="movedim: source"):
        cr.ones(2, 3).movedim((0, 1), 0)
    with pytest.raises(ValueError, match="t: expected a tensor with at most 2 dims"):
        cr.ones(1, 2, 3).t()
    with pytest.raises(ValueError, match="diagonal: dim1 and dim2 must differ"):
        cr.ones(2, 2).diagonal(0, 1, -1)


# ---------------------------------------------------------------------------- products


def test_einsum_by_hand_and_against_numpy():
    a, b = RNG.standard_normal((2, 3, 4)), RNG.standard_normal((2, 4, 5))
    for equation, operands in [
        ("bij,bjk->bik", (a, b)), ("bij->j", (a,)), ("...jk,...kl", (a, b)), ("b i j , b j k", (a, b)),
        ("ii->", (a[0, :, :3],)), ("iij->ij", (np.ones((3, 3, 2)),)),
    ]:  # fmt: skip
        got = cr.einsum(equation, *(cr.tensor(o) for o in operands))
        np.testing.assert_allclose(got.numpy(), np.einsum(equation.replace(" ", ""), *operands), rtol=1e-12)
    assert cr.einsum("i,i->", [cr.tensor([1.0, 2.0]), cr.tensor([3.0, 4.0])]).item() == 11.0


def test_einsum_errors():
    with pytest.raises(ValueError, match="einsum: equation 'ij,jk' has 2 operands, but 1"):
        cr.einsum("ij,jk", cr.ones(2, 2))
    with pytest.raises(ValueError, match="do not fit an operand with 2 dims"):
        cr.einsum("ijk", cr.ones(2, 2))
    with pytest.raises(ValueError, match="label 'j' has sizes 2 and 3"):
        cr.einsum("ij,jk", cr.ones(2, 2), cr.ones(3, 2))
    with pytest.raises(RuntimeError, match="einsum: expected operands of one dtype"):
        cr.einsum("i,i", cr.ones(2), cr.ones(2, dtype=cr.float64))


def test_named_products():
    a, b = RNG.standard_normal((2, 3)), RNG.standard_normal((3, 4))
    ta, tb = cr.tensor(a), cr.tensor(b)
    np.testing.assert_allclose(ta.mm(tb).numpy(), a @ b)
    np.testing.assert_allclose(cr.bmm(ta[None], tb[None]).numpy(), (a @ b)[None])
    np.testing.assert_allclose(ta.mv(tb[:, 0]).numpy(), a @ b[:, 0])
    np.testing.assert_allclose(cr.outer(ta[0], tb[0]).numpy(), np.outer(a[0], b[0]))
    np.testing.assert_allclose(cr.dot(ta[0], tb[:, 0]).numpy(), a[0] @ b[:, 0])
    np.testing.assert_allclose(cr.inner(ta, tb.t()).numpy(), np.inner(a, b.T))
    np.testing.assert_allclose(cr.cross(ta, ta[::-1], dim=1).numpy(), np.cross(a, a[::-1]))
    np.testing.assert_allclose(cr.addmm(cr.ones(4), ta, tb, beta=2, alpha=0.5).numpy(), 2 + 0.5 * (a @ b))
    nan_input = cr.full((4,), float("nan"))
    assert np.isfinite(cr.addmm(nan_input, ta, tb, beta=0).numpy()).all()  # beta=0 ignores input
    np.testing.assert_allclose(ta.addcmul(ta, ta, value=2).numpy(), a + 2 * a * a)
    with pytest.raises(ValueError, match=r"mm: expected operands with \[2, 2\] dims"):
        cr.mm(ta[0], tb)
    with pytest.raises(ValueError, match="bmm: batch sizes differ"):
        cr.bmm(cr.ones(2, 2, 2), cr.ones(3, 2, 2))


def test_new_tensor_family_takes_selfs_dtype():
    x = cr.ones(2, dtype=cr.float64)
    for made in (x.new_zeros(2, 3), x.new_ones((2,)), x.new_empty(1), x.new_full((2,), 3), x.new_tensor([1, 2])):
        assert made.dtype == np.float64 and not made.requires_grad
    assert x.new_zeros(3, dtype=cr.int64).dtype == np.int64
    assert x.new_tensor([1.0], requires_grad=True).requires_grad
    np.testing.assert_array_equal(x.new_full((2,), 3).numpy(), [3.0, 3.0])


# ---------------------------------------------------------------------------- index helpers


def test_unique_bincount_and_buckets():
    v = cr.tensor([3, 1, 3, 2, 1, 1])
    values, inverse, counts = cr.unique(v, return_inverse=True, return_counts=True)
    np.testing.assert_array_equal(values.numpy(), [1, 2, 3])
    np.testing.assert_array_equal(inverse.numpy(), [2, 0, 2, 1, 0, 0])
    np.testing.assert_array_equal(counts.numpy(), [3, 1, 2])
    rows = cr.unique(cr.tensor([[1, 2], [0, 5], [1, 2]]), dim=0)
    np.testing.assert_array_equal(rows.numpy(), [[0, 5], [1, 2]])
    np.testing.assert_array_equal(v.bincount(minlength=5).numpy(), [0, 3, 1, 2, 0])
    assert v.bincount().dtype == np.int64
    boundaries = cr.tensor([1.0, 3.0, 5.0])
    np.testing.assert_array_equal(cr.bucketize(cr.tensor([0.0, 1.0, 4.0, 9.0]), boundaries).numpy(), [0, 0, 2, 3])
    np.testing.assert_array_equal(cr.bucketize(cr.tensor([1.0, 3.0]), boundaries, right=True).numpy(), [1, 2])
    rows = cr.searchsorted(cr.tensor([[1.0, 3.0], [2.0, 4.0]]), cr.tensor([[2.0], [5.0]]))
    np.testing.assert_array_equal(rows.numpy(), [[1], [2]])
    np.testing.assert_array_equal(cr.tril_indices(3, 3).numpy(), [[0, 1, 1, 2, 2, 2], [0, 0, 1, 0, 1, 2]])
    np.testing.assert_array_equal(cr.triu_indices(2, 3, 1).numpy(), [[0, 0, 1], [1, 2, 2]])
    with pytest.raises(ValueError, match="bincount: expected a 1-D tensor of non-negative integers"):
        cr.bincount(cr.tensor([-1, 2]))


def test_select_rot90_and_tensordot():
    x = cr.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(x.select(1, -1).numpy(), [2.0, 5.0])
    np.testing.assert_array_equal(x.rot90().numpy(), np.rot90(np.arange(6.0).reshape(2, 3)))
    assert cr.tensordot(x, x, ([0, 1], [0, 1])).item() == 55.0
    with pytest.raises(IndexError, match="select: index 3 is out of range"):
        x.select(1, 3)


def test_padding_layers_pad_as_f_pad():
    x = cr.tensor(RNG.standard_normal((2, 3, 4, 5)))
    np.testing.assert_array_equal(cr.nn.ZeroPad2d((1, 0, 2, -1))(x).numpy(), F.pad(x, (1, 0, 2, -1)).numpy())
    np.testing.assert_array_equal(
        cr.nn.ReflectionPad2d(2)(x).numpy(), np.pad(x.numpy(), [(0, 0)] * 2 + [(2, 2)] * 2, "reflect")
    )
    np.testing.assert_array_equal(
        cr.nn.ReplicationPad1d((0, 3))(x[0]).numpy(), np.pad(x[0].numpy(), [(0, 0), (0, 0), (0, 3)], "edge")
    )
    np.testing.assert_array_equal(
        cr.nn.CircularPad1d(1)(x[0]).numpy(), np.pad(x[0].numpy(), [(0, 0), (0, 0), (1, 1)], "wrap")
    )
    np.testing.assert_array_equal(
        cr.nn.ConstantPad3d(1, 2.5)(x).numpy(), np.pad(x.numpy(), [(0, 0)] + [(1, 1)] * 3, constant_values=2.5)
    )
    assert repr(cr.nn.ConstantPad1d(2, 3.5)) == "ConstantPad1d(padding=(2, 2), value=3.5)"
    with pytest.raises(ValueError, match=r"ZeroPad2d: padding must be an int or 4 ints, got \(1, 2\)"):
        cr.nn.ZeroPad2d((1, 2))


def test_unflatten_layer_undoes_flatten():
    layer = cr.nn.Unflatten(1, (1, 2, -1))
    assert layer(cr.randn(3, 8)).shape == (3, 1, 2, 4)
    assert repr(layer) == "Unflatten(dim=1, unflattened_size=(1, 2, -1))"


def test_index_put_replaces_or_accumulates():
    x = cr.zeros(3, 2)
    rows, cols = cr.tensor([0, 2, 0]), cr.tensor([1, 0, 1])
    np.testing.assert_array_equal(
        x.index_put((rows, cols), cr.tensor(1.0), accumulate=True).numpy(), [[0, 2], [0, 0], [1, 0]]
    )
    np.testing.assert_array_equal(
        x.index_put([rows, cols], cr.tensor([5.0, 6.0, 5.0])).numpy(), [[0, 5], [0, 0], [6, 0]]
    )
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    y = x * 1
    y.index_put_((rows, cols), w[[0, 1, 0]], accumulate=True)
    y.sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [2.0, 1.0])
