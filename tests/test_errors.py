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
