"""The eager NDArray API as MXNet 1.x user code uses it."""
import os

import numpy as np
import pytest

import graphcc as mx
from graphcc import nd
from graphcc.errors import DeviceError, DTypeError, GraphccError, ParameterError, ShapeError


def test_array_dtype_rules():
    assert nd.array([1, 2]).dtype == np.float32                      # lists -> float32
    assert nd.array(np.array([1.0, 2.0])).dtype == np.float32        # float64 data -> float32
    assert nd.array(np.array([1, 2], np.int64)).dtype == np.float32
    assert nd.array([1, 2], dtype="int32").dtype == np.int32
    x = nd.array([1, 2], dtype=np.float64)
    assert nd.array(x).dtype == np.float64                           # NDArray keeps its dtype
    assert np.dtype(nd.zeros((1,)).dtype) == np.dtype("float32")
    with pytest.raises(DTypeError):
        nd.array([1, 2], dtype="complex64")


def test_attributes():
    x = nd.array(np.arange(6).reshape(2, 3))
    assert x.shape == (2, 3) and x.size == 6 and x.ndim == 2 and len(x) == 2
    assert x.context == mx.cpu() and x.context.device_type == "cpu"
    assert x.T.shape == (3, 2)
    np.testing.assert_array_equal(x.T.asnumpy(), np.arange(6).reshape(2, 3).T)
    assert x.stype == "default"


def test_asnumpy_is_a_copy_and_asscalar():
    x = nd.array([[3.0]])
    a = x.asnumpy()
    a[0, 0] = 9
    assert x.asscalar() == 3.0 and isinstance(x.asscalar(), np.float32)
    with pytest.raises(ShapeError):
        nd.array([1, 2]).asscalar()
    assert float(nd.array([2.5])) == 2.5 and int(nd.array([2.0])) == 2


def test_astype_copy_copyto_context():
    x = nd.array([1.5, 2.5])
    y = x.astype("int32")
    assert y.dtype == np.int32 and list(y.asnumpy()) == [1, 2]
    assert x.astype("float32", copy=False) is x
    z = x.copy()
    z[:] = 0
    assert x.asnumpy()[0] == 1.5
    out = nd.zeros((2,))
    x.copyto(out)
    np.testing.assert_array_equal(out.asnumpy(), [1.5, 2.5])
    w = x.copyto(mx.cpu(0))
    assert w is not x and w.context == mx.cpu(0)
    assert x.as_in_context(mx.cpu()) is x
    with pytest.raises(ShapeError):
        x.copyto(nd.zeros((3,)))


def test_inplace_operators_keep_identity():
    x = nd.array([1.0, 2.0])
    ident = id(x)
    x += 1
    x -= 0.5
    x *= 2
    x /= 4
    x += nd.array([1.0, 1.0])
    assert id(x) == ident
    np.testing.assert_allclose(x.asnumpy(), [1.75, 2.25])


def test_methods_generated_from_ops():
    a = np.array([[1.0, -2.0], [3.0, -4.0]])
    x = nd.array(a)
    np.testing.assert_allclose(x.abs().asnumpy(), np.abs(a))
    np.testing.assert_allclose(x.sum(axis=1).asnumpy(), a.sum(1))
    np.testing.assert_allclose(x.mean().asnumpy(), [a.mean()])
    np.testing.assert_allclose(x.max(axis=0).asnumpy(), a.max(0))
    np.testing.assert_allclose(x.clip(-1, 1).asnumpy(), np.clip(a, -1, 1))
    np.testing.assert_allclose(x.square().asnumpy(), a * a)
    np.testing.assert_array_equal(x.argmax(axis=1).asnumpy(), [0, 0])
    np.testing.assert_allclose(x.norm().asnumpy(), [np.sqrt((a * a).sum())], rtol=1e-6)
    with pytest.raises(AttributeError):
        x.no_such_method()


def test_iteration_and_bool():
    x = nd.array([[1, 2], [3, 4]])
    rows = [r.asnumpy().tolist() for r in x]
    assert rows == [[1, 2], [3, 4]]
    assert bool(nd.array([1.0])) and not bool(nd.array([0.0]))
    with pytest.raises(ValueError, match="ambiguous"):
        bool(x)


def test_repr_like_mxnet():
    text = repr(nd.array([[1, 2]]))
    assert "<NDArray 1x2 @cpu(0)>" in text


def test_mixed_devices_raise():
    a = nd.array([1.0], ctx=mx.cpu(0))
    b = nd.array([1.0], ctx=mx.cpu(1))
    with pytest.raises(DeviceError, match="different devices"):
        a + b


def test_gpu_arrays_refused_clearly_without_cuda_runtime():
    with pytest.raises(DeviceError, match="GPU"):
        nd.zeros((2,), ctx=mx.gpu(0))


def test_operand_type_errors():
    with pytest.raises(DTypeError, match="not supported"):
        nd.array([1.0]) + "a"
    with pytest.raises(DTypeError, match="different dtypes"):
        nd.array([1.0]) + nd.array([1.0], dtype="float64")


def test_save_load_list_and_dict(tmp_path):
    f = str(tmp_path / "arrays")
    nd.save(f, {"a": nd.array([1, 2]), "b": nd.zeros((2, 2), dtype="float64")})
    d = nd.load(f)
    assert sorted(d) == ["a", "b"] and d["b"].dtype == np.float64
    nd.save(f, [nd.array([1]), nd.array([2, 3])])
    lst = nd.load(f)
    assert [x.asnumpy().tolist() for x in lst] == [[1], [2, 3]]


def test_load_damaged_file_is_clear(tmp_path):
    f = str(tmp_path / "p")
    nd.save(f, {"a": nd.ones((100,))})
    raw = open(f, "rb").read()
    open(f, "wb").write(raw[: len(raw) // 2])
    with pytest.raises(ParameterError, match="damaged"):
        nd.load(f)
    with pytest.raises(ParameterError, match="cannot read"):
        nd.load(os.path.join(str(tmp_path), "missing"))


def test_errors_are_graphcc_errors():
    with pytest.raises(GraphccError):
        nd.zeros((2, 3)) + nd.zeros((4,))
    with pytest.raises(mx.base.MXNetError):
        nd.zeros((2, 3)).reshape(7)


def test_context_manager_sets_default():
    with mx.cpu(3):
        assert nd.zeros((1,)).context == mx.cpu(3)
    assert nd.zeros((1,)).context == mx.cpu(0)


def test_load_file_with_an_unsupported_zip_entry_is_clear(tmp_path):
    # a flipped compression-method field made zipfile raise NotImplementedError
    path = tmp_path / "a.params"
    nd.save(str(path), {"w": nd.ones((2, 3))})
    raw = bytearray(path.read_bytes())
    central = raw.find(b"PK\x01\x02")            # the first central-directory entry
    assert central > 0
    raw[central + 10:central + 12] = b"\x63\x00"  # its compression method: 99
    path.write_bytes(bytes(raw))
    with pytest.raises(ParameterError, match="damaged"):
        nd.load(str(path))


def test_symbol_file_that_is_not_text_is_clear(tmp_path):
    path = tmp_path / "m-symbol.json"
    path.write_bytes(b'{"nodes": [\xb9\xff]}')
    with pytest.raises(GraphccError, match="m-symbol.json"):
        mx.sym.load(str(path))


def test_from_numpy_shares_memory_and_keeps_dtype():
    a = np.arange(6, dtype=np.float64).reshape(2, 3)
    x = nd.from_numpy(a)
    assert x.dtype == np.float64 and x.shape == (2, 3)
    a[0, 0] = 42.0
    assert x.asnumpy()[0, 0] == 42.0                  # zero copy
    y = nd.from_numpy(a, zero_copy=False)
    a[0, 0] = 7.0
    assert y.asnumpy()[0, 0] == 42.0
    z = nd.from_numpy(a[:, ::2])                       # not contiguous: copied
    np.testing.assert_array_equal(z.asnumpy(), a[:, ::2])
