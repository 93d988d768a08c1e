"""Bad input gives clear graphcc errors naming the op and shapes, never a bare NumPy error."""
import numpy as np
import pytest

from graphcc import autograd, nd
from graphcc.errors import (AutogradError, DTypeError, GraphccError, OpAttrError, ShapeError,
                            UnknownOpError)


def test_shape_mismatch_names_op_and_shapes():
    with pytest.raises(ShapeError) as e:
        nd.add(nd.zeros((2, 3)), nd.zeros((4, 3)))
    msg = str(e.value)
    assert "add" in msg and "(2, 3)" in msg and "(4, 3)" in msg


def test_unknown_attribute_lists_the_known_ones():
    with pytest.raises(OpAttrError) as e:
        nd.sum(nd.zeros((2,)), axes=0)
    assert "axes" in str(e.value) and "keepdims" in str(e.value)


def test_bad_attribute_value():
    with pytest.raises(OpAttrError, match="act_type"):
        nd.Activation(nd.zeros((2,)), act_type="swish")
    with pytest.raises(OpAttrError, match="True or False"):
        nd.sum(nd.zeros((2,)), keepdims="maybe")


def test_missing_required_attribute():
    with pytest.raises(OpAttrError, match="missing required attribute 'a_min'"):
        nd.clip(nd.zeros((2,)))


def test_unsupported_dtype():
    with pytest.raises(DTypeError):
        nd.zeros((2,), dtype="complex128")


def test_unknown_op():
    with pytest.raises(AttributeError):
        nd.definitely_not_an_op(nd.zeros((1,)))
    from graphcc import ops
    with pytest.raises(UnknownOpError):
        ops.get("definitely_not_an_op")


def test_backward_without_record():
    x = nd.ones((2,))
    x.attach_grad()
    with pytest.raises(AutogradError):
        (x * 2).backward()


def test_all_are_graphcc_errors():
    for cls in (ShapeError, DTypeError, OpAttrError, AutogradError, UnknownOpError):
        assert issubclass(cls, GraphccError)


def test_no_numpy_error_leaks_from_infer():
    # every op row's shape rule failing on nonsense input must raise a GraphccError
    from graphcc import ops
    from graphcc.ir.types import TensorType
    bad = (TensorType((2, 3), "float32"), TensorType((5, 7, 1), "float32"))
    for name, row in sorted(ops.OPS.items()):
        if row.kind == "input" or row.expand is not None:
            continue
        try:
            attrs = ops.normalize_attrs(row, {})
        except GraphccError:
            continue
        n = len(row.names_of_inputs(dict(attrs)))
        try:
            ops.infer(row, bad[:n] if not row.variadic else bad, attrs)
        except GraphccError:
            pass
        except Exception as e:   # pragma: no cover - the failure message is the point
            pytest.fail(f"{name}: {type(e).__name__}: {e}")
    _ = np


@pytest.mark.parametrize("call", [
    lambda: nd.zeros((2, -1)),
    lambda: nd.ones(-3),
    lambda: nd.full((-1,), 2.0),
    lambda: nd.eye(-5),
    lambda: nd.linspace(0, 1, -5),
    lambda: nd.broadcast_to(nd.zeros((1,)), shape=(-1,)),
    lambda: nd.random.uniform(shape=(-1,)),
    lambda: nd.random.uniform(1.0, 0.0, shape=(2,)),
    lambda: nd.random.normal(0.0, -1.0, shape=(2,)),
    lambda: nd.random.randint(3, 3, shape=(2,)),
    lambda: nd.random.exponential(0.0, shape=(2,)),
    lambda: nd.random.exponential(-1.0, shape=(2,)),
    lambda: nd.random.gamma(-1.0, 1.0, shape=(2,)),
    lambda: nd.random.poisson(-1.0, shape=(2,)),
    lambda: nd._slice_assign(nd.zeros((3,)), nd.ones((3,)), begin=(2,), end=(3,)),
    lambda: nd._slice_assign_scalar(nd.zeros((3,)), scalar=1.0, begin=("x",), end=(3,)),
], ids=["zeros", "ones", "full", "eye", "linspace", "broadcast_to", "uniform-shape",
        "uniform-range", "normal-scale", "randint-range", "exponential-zero",
        "exponential-negative", "gamma", "poisson", "slice_assign", "slice_assign_scalar"])
def test_bad_shapes_and_distribution_parameters_are_graphcc_errors(call):
    # these reached the user as NumPy's ValueError / ZeroDivisionError / TypeError
    with pytest.raises(GraphccError):
        call()


def test_smooth_l1_with_scalar_zero_is_zero_like_mxnet():
    # 1 / scalar^2 is infinite: every |x| is "inside", where the loss is 0.5 (s x)^2 = 0
    x = nd.array([-2.0, 0.5, 3.0])
    x.attach_grad()
    with autograd.record():
        y = nd.smooth_l1(x, scalar=0.0)
    y.backward()
    np.testing.assert_array_equal(y.asnumpy(), np.zeros(3))
    np.testing.assert_array_equal(x.grad.asnumpy(), np.zeros(3))


def test_bad_values_for_python_level_helpers_are_graphcc_errors():
    import graphcc as mx
    with pytest.raises(GraphccError, match="add_n"):          # was an IndexError
        nd.add_n()
    x = nd.zeros((2, 3))
    with pytest.raises(GraphccError, match="'x'"):            # was NumPy's ValueError
        x[0] = "x"
    np.testing.assert_array_equal(x.asnumpy(), np.zeros((2, 3)))
    for bad in ("abc", -1, 1.5):                              # was int()'s / NumPy's ValueError
        with pytest.raises(GraphccError, match="seed"):
            mx.random.seed(bad)
