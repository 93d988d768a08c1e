"""HybridBlock.export, gluon.SymbolBlock (imports and constructor), MXNet symbol JSON.

Round trips compare an imported model with the block it was exported from (same inputs, also
at another batch size and hybridized). Real MXNet 1.9.1 exports (JSON and binary .params) and
MXNet's outputs for them come from tests/mxnet_ref/export_models.py (files in
tests/mxnet_ref/export/); that script's ``check`` mode was used to load graphcc's exports of
these models into MXNet itself.
"""
import json
import os

import numpy as np
import pytest

import graphcc as mx
from graphcc import autograd, gluon, nd
from graphcc.errors import ExportError, GraphccError, ParameterError, UnknownOpError
from graphcc.gluon import nn, rnn

REF = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mxnet_ref", "export")


def arr(shape, seed=0):
    return nd.array(np.random.RandomState(seed).uniform(-1, 1, shape))


def close(a, b, tol=1e-5):
    a = [a] if not isinstance(a, (list, tuple)) else a
    b = [b] if not isinstance(b, (list, tuple)) else b
    assert len(a) == len(b)
    for x, y in zip(a, b):
        np.testing.assert_allclose(x.asnumpy(), y.asnumpy(), rtol=tol, atol=tol)


def export_import(net, xs, tmp_path, names=None):
    """Call the hybridized net, export it, import it back."""
    net.hybridize()
    want = net(*xs)
    prefix = str(tmp_path / "model")
    net.export(prefix, epoch=3)
    names = names or (["data"] if len(xs) == 1 else [f"data{i}" for i in range(len(xs))])
    got = gluon.SymbolBlock.imports(prefix + "-symbol.json", names, prefix + "-0003.params")
    return want, got, prefix


def read_json(prefix):
    with open(prefix + "-symbol.json") as f:
        return json.load(f)


# ---------------------------------------------------------------- models


class Residual(gluon.HybridBlock):
    def __init__(self, channels, **kw):
        super().__init__(**kw)
        with self.name_scope():
            self.conv = nn.Conv2D(channels, 3, padding=1, in_channels=channels)
            self.bn = nn.BatchNorm()

    def hybrid_forward(self, F, x):
        return F.relu(x + self.bn(self.conv(x)))


def mlp():
    net = nn.HybridSequential(prefix="hybridsequential0_")
    with net.name_scope():
        net.add(nn.Dense(8, activation="relu"), nn.Dropout(0.3), nn.Dense(3))
    net.initialize()
    return net


def lenet():
    net = nn.HybridSequential()
    with net.name_scope():
        net.add(nn.Conv2D(4, 3, activation="tanh"), nn.MaxPool2D(2, 2),
                nn.Conv2D(6, 3, padding=1), nn.AvgPool2D(2), nn.Flatten(),
                nn.Dense(10, activation="sigmoid"), nn.Dense(3))
    net.initialize()
    return net


def resnet():
    net = nn.HybridSequential()
    with net.name_scope():
        net.add(nn.Conv2D(4, 3, padding=1), nn.BatchNorm(), nn.Activation("relu"),
                Residual(4), nn.GlobalAvgPool2D(), nn.Dense(3))
    net.initialize()
    net(arr((1, 3, 6, 6)))
    for k, (name, p) in enumerate(net.collect_params().items()):     # non-trivial stats
        v = np.sin(np.arange(int(np.prod(p.shape))) + k).reshape(p.shape) * 0.5
        p.set_data(nd.array(1 + v ** 2 if name.endswith("running_var") else v))
    return net


class LSTMNet(gluon.HybridBlock):
    def __init__(self, **kw):
        super().__init__(**kw)
        with self.name_scope():
            self.lstm = rnn.LSTM(5, num_layers=2, layout="NTC", input_size=4)
            self.out = nn.Dense(2, flatten=False)

    def hybrid_forward(self, F, x, h, c):
        y, (h2, _) = self.lstm(x, [h, c])
        return self.out(y), h2


def test_mlp_round_trip_and_json_layout(tmp_path):
    net = mlp()
    want, got, prefix = export_import(net, [arr((2, 6))], tmp_path)
    close(got(arr((2, 6))), want)
    close(got(arr((5, 6), 1)), net(arr((5, 6), 1)))         # another batch size
    got.hybridize()
    close(got(arr((4, 6), 2)), net(arr((4, 6), 2)))
    doc = read_json(prefix)
    assert set(doc) == {"nodes", "arg_nodes", "node_row_ptr", "heads", "attrs"}
    assert doc["attrs"] == {"mxnet_version": ["int", 10901]}
    ops = {n["name"]: n for n in doc["nodes"]}
    assert ops["data"] == {"op": "null", "name": "data", "inputs": []}     # no batch size
    fc = ops["hybridsequential0_dense0_fwd"]
    assert fc["op"] == "FullyConnected" and fc["attrs"] == {"num_hidden": "8"}
    assert ops["hybridsequential0_dense0_relu_fwd"]["attrs"] == {"act_type": "relu"}
    assert ops["hybridsequential0_dropout0_fwd"]["op"] == "Dropout"          # not expanded
    assert ops["hybridsequential0_dropout0_fwd"]["attrs"]["p"] == "0.3"
    assert all("training" not in n.get("attrs", {}) for n in doc["nodes"])
    w = ops["hybridsequential0_dense0_weight"]["attrs"]
    assert w["__shape__"] == "(8, 6)" and w["__dtype__"] == "0"
    assert doc["arg_nodes"] == [i for i, n in enumerate(doc["nodes"]) if n["op"] == "null"]
    assert len(doc["node_row_ptr"]) == len(doc["nodes"]) + 1
    assert sorted(nd.load(prefix + "-0003.params")) == sorted(
        "arg:" + k for k in net.collect_params())


def test_imported_dropout_follows_the_mode_of_each_call(tmp_path):
    net = nn.HybridSequential()
    net.add(nn.Dropout(0.5))
    x = nd.ones((4, 50))
    _, got, _ = export_import(net, [x], tmp_path)
    close(got(x), x)                                     # predict mode: identity
    with autograd.record():                              # training: dropped or scaled by 2
        y = got(x).asnumpy()
    assert set(np.unique(y)) == {0.0, 2.0}


def test_lenet_round_trip_at_other_batch_sizes(tmp_path):
    net = lenet()
    want, got, prefix = export_import(net, [arr((2, 1, 10, 10))], tmp_path)
    close(got(arr((2, 1, 10, 10))), want)
    for b in (1, 3):
        close(got(arr((b, 1, 10, 10), b)), net(arr((b, 1, 10, 10), b)))
    got.hybridize()
    close(got(arr((3, 1, 10, 10), 3)), net(arr((3, 1, 10, 10), 3)))
    ops = [n["op"] for n in read_json(prefix)["nodes"]]
    assert {"Convolution", "Pooling", "Flatten", "FullyConnected"} <= set(ops)


def test_residual_batchnorm_aux_states_round_trip(tmp_path):
    net = resnet()
    x = arr((2, 3, 6, 6))
    want, got, prefix = export_import(net, [x], tmp_path)
    close(got(x), want)
    close(got(arr((4, 3, 6, 6), 1)), net(arr((4, 3, 6, 6), 1)))
    saved = nd.load(prefix + "-0003.params")
    aux = sorted(k for k in saved if k.startswith("aux:"))
    assert aux == sorted("aux:" + k for k in net.collect_params()
                         if k.endswith(("running_mean", "running_var")))
    assert all(k.startswith("arg:") for k in saved if k not in aux)
    for name, p in net.collect_params().items():          # every value came back
        q = got.collect_params()[name]
        np.testing.assert_array_equal(q.data().asnumpy(), p.data().asnumpy())
        assert q.grad_req == ("null" if name.endswith(("mean", "var")) else "write")
    doc = read_json(prefix)
    bn = [n for n in doc["nodes"] if n["op"] == "BatchNorm"]
    assert bn and all(e[2] == 1 for n in bn for e in n["inputs"][3:])    # MXNet's versions
    # training mode uses batch statistics in both, and updates the imported running stats
    with autograd.record():
        y1 = net(x)
    with autograd.record():
        y2 = got(x)
    close(y2, y1, 1e-4)
    y2.backward()
    mean = next(k for k in got.collect_params() if k.endswith("running_mean"))
    assert not np.allclose(got.collect_params()[mean].data().asnumpy(),
                           net.collect_params()[mean].data().asnumpy())


def test_lstm_round_trip_with_states_at_another_batch_size(tmp_path):
    net = LSTMNet()
    net.initialize()
    xs = [arr((2, 3, 4)), arr((2, 2, 5), 1), arr((2, 2, 5), 2)]
    want, got, prefix = export_import(net, xs, tmp_path)
    close(got(*xs), want)
    xs3 = [arr((3, 3, 4), 3), arr((2, 3, 5), 4), arr((2, 3, 5), 5)]
    close(got(*xs3), net(*xs3))
    got.hybridize()
    close(got(*xs3), net(*xs3))
    ops = {n["op"] for n in read_json(prefix)["nodes"]}
    assert "SliceChannel" in ops and "_reshape_to" not in ops and "Reshape" not in ops


def test_reshape_codes_survive_export(tmp_path):
    class Flat(gluon.HybridBlock):
        def hybrid_forward(self, F, x):
            return F.reshape(x, shape=(0, -1)) * 2

    net = Flat()
    want, got, prefix = export_import(net, [arr((2, 3, 4))], tmp_path)
    close(got(arr((2, 3, 4))), want)
    close(got(arr((5, 3, 4), 1)), net(arr((5, 3, 4), 1)))
    node = next(n for n in read_json(prefix)["nodes"] if n["op"] == "Reshape")
    assert node["attrs"] == {"shape": "(0, -1)"}


# ---------------------------------------------------------------- Symbol API


def test_symbol_json_round_trip(tmp_path):
    data = mx.sym.var("data")
    fc = mx.sym.FullyConnected(data, num_hidden=6, name="fc1")
    bn = mx.sym.BatchNorm(fc, fix_gamma=False, name="bn1")
    act = mx.sym.Activation(bn, act_type="tanh", name="act")
    parts = mx.sym.split(act, num_outputs=2, axis=1, name="sp")
    out = mx.sym.Group([mx.sym.softmax(parts[0] * 2 + 1, axis=-1),
                        mx.sym.Dropout(parts[1], p=0.2, name="drop"),
                        mx.sym.reshape(act, shape=(0, -1, 2))])
    text = out.tojson()
    back = mx.sym.load_json(text)
    for f in ("list_arguments", "list_outputs", "list_auxiliary_states", "list_inputs"):
        assert getattr(back, f)() == getattr(out, f)(), f
    assert back.tojson() == text
    out.save(str(tmp_path / "s.json"))
    assert mx.sym.load(str(tmp_path / "s.json")).tojson() == text
    shapes = dict(zip(out.list_arguments(), out.infer_shape(data=(3, 5))[0]))
    assert back.infer_shape(data=(3, 5)) == out.infer_shape(data=(3, 5))
    vals = {k: arr(s, i) for i, (k, s) in enumerate(shapes.items())}
    vals.update({k: nd.ones(s) for k, s in zip(out.list_auxiliary_states(),
                                               out.infer_shape(data=(3, 5))[2])})
    close(back.eval(**vals), out.eval(**vals))
    assert json.loads(text)["heads"][0] != json.loads(text)["heads"][1]


def test_block_called_on_symbol_gives_mxnet_names_with_deferred_params():
    net = nn.HybridSequential(prefix="hybridsequential0_")
    with net.name_scope():
        net.add(nn.Dense(8, activation="relu"), nn.Dense(3))
    out = net(mx.sym.var("data"))                    # parameters not even initialised
    assert isinstance(out, mx.sym.Symbol)
    assert out.list_arguments() == ["data", "hybridsequential0_dense0_weight",
                                    "hybridsequential0_dense0_bias",
                                    "hybridsequential0_dense1_weight",
                                    "hybridsequential0_dense1_bias"]
    internals = out.get_internals()
    assert "hybridsequential0_dense0_relu_fwd_output" in internals.list_outputs()
    assert out.infer_shape(data=(2, 5))[1] == [(2, 3)]
    net.initialize()
    feat = gluon.SymbolBlock(internals["hybridsequential0_dense0_relu_fwd_output"],
                             mx.sym.var("data"), params=net.collect_params())
    x = arr((2, 5))
    close(feat(x), net[0](x))                        # shares the network's parameters
    feat.hybridize()
    close(feat(x), net[0](x))


def test_symbol_block_from_sym_ops_and_multiple_outputs():
    data = mx.sym.var("data")
    fc = mx.sym.FullyConnected(data, num_hidden=4, name="fc")
    block = gluon.SymbolBlock([mx.sym.relu(fc), mx.sym.sum(fc, axis=1)], [data])
    assert list(block.collect_params().keys()) == ["fc_weight", "fc_bias"]
    block.initialize()
    x = arr((3, 2))
    relu, total = block(x)                           # deferred shapes inferred on the call
    w, b = (p.data().asnumpy() for p in block.collect_params().values())
    z = x.asnumpy() @ w.T + b
    np.testing.assert_allclose(relu.asnumpy(), np.maximum(z, 0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(total.asnumpy(), z.sum(1), rtol=1e-5, atol=1e-5)
    with pytest.raises(GraphccError, match="must be variable"):
        gluon.SymbolBlock(fc, [fc])


# ---------------------------------------------------------------- real MXNet exports


@pytest.mark.parametrize("name, inputs", [("mlp", 1), ("lenet", 1), ("resnet", 1),
                                          ("cell_lstm", 3)])
def test_imports_mxnet_exports(name, inputs):
    names = ["data"] if inputs == 1 else [f"data{i}" for i in range(inputs)]
    prefix = os.path.join(REF, name)
    block = gluon.SymbolBlock.imports(prefix + "-symbol.json", names, prefix + "-0000.params")
    io = np.load(prefix + "-io.npz")
    for hybrid in (False, True):
        block.hybridize(hybrid)
        for tag in "01":
            xs = [io[f"x{tag}"]] if inputs == 1 else [io[f"x{tag}_{k}"] for k in range(inputs)]
            y = block(*[nd.array(x) for x in xs])
            np.testing.assert_allclose(y.asnumpy(), io[f"y{tag}"], rtol=1e-5, atol=1e-6)


def test_unknown_ops_are_named_with_their_nodes():
    with pytest.raises(UnknownOpError, match=r"RNN \(node lstm0_rnn0\)") as e:
        mx.sym.load(os.path.join(REF, "fused_lstm-symbol.json"))
    assert "_rnn_param_concat" in str(e.value)
    doc = {"nodes": [{"op": "null", "name": "x", "inputs": []},
                     {"op": "FooBar", "name": "foo0", "inputs": [[0, 0, 0]]}],
           "arg_nodes": [0], "heads": [[1, 0, 0]]}
    with pytest.raises(UnknownOpError, match=r"FooBar \(node foo0\)"):
        mx.sym.load_json(json.dumps(doc))
    with pytest.raises(GraphccError, match="not a symbol JSON"):
        mx.sym.load_json("{not json")
    zeros = {"nodes": [{"op": "_zeros", "name": "h0", "inputs": [],
                        "attrs": {"shape": "(0, 5)", "ctx": "cpu(0)"}}], "heads": [[0, 0, 0]]}
    with pytest.raises(GraphccError, match=r"'h0'.*\(0, 5\)"):    # MXNet infers such a 0
        mx.sym.load_json(json.dumps(zeros))


# ---------------------------------------------------------------- errors


def test_export_needs_a_hybridized_call(tmp_path):
    msg = ("Please first call block.hybridize() and then run forward with this block at "
           "least once before calling export.")
    net = mlp()
    net(arr((2, 6)))                                     # eager call only
    with pytest.raises(ExportError) as e:
        net.export(str(tmp_path / "m"))
    assert str(e.value) == msg and isinstance(e.value, RuntimeError)
    net.hybridize()                                      # hybridized, not called yet
    with pytest.raises(ExportError, match="hybridize"):
        net.export(str(tmp_path / "m"))
    net(arr((2, 6)))
    net.export(str(tmp_path / "m"))
    assert os.path.exists(tmp_path / "m-symbol.json") and os.path.exists(tmp_path / "m-0000.params")


def test_export_names_captured_ndarray_constants(tmp_path):
    class Shift(gluon.HybridBlock):
        def __init__(self, **kw):
            super().__init__(**kw)
            self.offset = nd.array([1.0, 2.0, 3.0])

        def hybrid_forward(self, F, x):
            return x + self.offset

    net = Shift()
    net.hybridize()
    net(arr((2, 3)))
    with pytest.raises(ExportError, match=r"shape \(3,\).*self\.offset"):
        net.export(str(tmp_path / "m"))
    assert not os.path.exists(tmp_path / "m-symbol.json")


def test_imports_missing_and_extra_parameters_are_listed(tmp_path):
    net = mlp()
    _, _, prefix = export_import(net, [arr((2, 6))], tmp_path)
    params = nd.load(prefix + "-0003.params")
    weight = "hybridsequential0_dense1_weight"
    partial = {k: v for k, v in params.items() if k != "arg:" + weight}
    nd.save(str(tmp_path / "partial.params"), partial)
    sym_file = prefix + "-symbol.json"
    with pytest.raises(ParameterError, match=weight):
        gluon.SymbolBlock.imports(sym_file, ["data"], str(tmp_path / "partial.params"))
    block = gluon.SymbolBlock.imports(sym_file, ["data"], str(tmp_path / "partial.params"),
                                      allow_missing=True)
    with pytest.raises(GraphccError, match=weight):
        block.collect_params()[weight].data()
    nd.save(str(tmp_path / "extra.params"), {**params, "arg:stray_weight": nd.ones((2,))})
    with pytest.raises(ParameterError, match="stray_weight"):
        gluon.SymbolBlock.imports(sym_file, ["data"], str(tmp_path / "extra.params"))
    block = gluon.SymbolBlock.imports(sym_file, ["data"], str(tmp_path / "extra.params"),
                                      ignore_extra=True)
    close(block(arr((2, 6))), net(arr((2, 6))))
    with pytest.raises(GraphccError, match="'dta'.*data"):
        gluon.SymbolBlock.imports(sym_file, ["dta"], prefix + "-0003.params")


def test_damaged_parameter_files_leave_parameters_unchanged(tmp_path):
    net = mlp()
    _, block, prefix = export_import(net, [arr((2, 6))], tmp_path)
    with open(prefix + "-0003.params", "rb") as f:
        raw = f.read()
    bad = tmp_path / "bad.params"
    bad.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ParameterError, match="bad.params"):
        gluon.SymbolBlock.imports(prefix + "-symbol.json", ["data"], str(bad))
    with open(os.path.join(REF, "mlp-0000.params"), "rb") as f:     # MXNet's format
        mx_raw = f.read()
    bad.write_bytes(mx_raw[:-7])
    with pytest.raises(ParameterError, match="truncated"):
        gluon.SymbolBlock.imports(os.path.join(REF, "mlp-symbol.json"), ["data"], str(bad))
    # a parameter of the wrong shape: nothing is loaded
    block.save_parameters(str(tmp_path / "good.params"))
    before = {k: p.data().asnumpy().copy() for k, p in block.collect_params().items()}
    saved = nd.load(str(tmp_path / "good.params"))
    last = list(saved)[-1]                   # keys without the common prefix, as MXNet's
    saved = {k: (nd.zeros((1, 1)) if k == last else nd.zeros(v.shape))
             for k, v in saved.items()}
    nd.save(str(tmp_path / "wrong.params"), saved)
    with pytest.raises(ParameterError, match=last):
        block.load_parameters(str(tmp_path / "wrong.params"))
    for k, p in block.collect_params().items():
        np.testing.assert_array_equal(p.data().asnumpy(), before[k])
    fresh = gluon.SymbolBlock.imports(prefix + "-symbol.json", ["data"])
    fresh.load_parameters(str(tmp_path / "good.params"))
    close(fresh(arr((3, 6), 1)), net(arr((3, 6), 1)))


@pytest.mark.parametrize("source", ["current", "saved"])
def test_load_parameters_cast_dtype_sets_data_and_dtype_together(tmp_path, source):
    mx.random.seed(0)
    half = nn.Dense(3, in_units=2)
    half.initialize()
    half.cast("float16")
    path = str(tmp_path / "half.params")
    half.save_parameters(path)
    w16 = half.weight.data().asnumpy()
    net = nn.Dense(3, in_units=2)
    net.initialize()
    net.hybridize()
    net(nd.ones((1, 2)))                      # a compiled float32 graph exists
    with pytest.raises(ParameterError, match="cast_dtype"):
        net.load_parameters(path)
    net.load_parameters(path, cast_dtype=True, dtype_source=source)
    want = "float32" if source == "current" else "float16"
    for p in (net.weight, net.bias):
        assert p.dtype == want and p.data().asnumpy().dtype == want
    np.testing.assert_array_equal(net.weight.data().asnumpy(), w16.astype(want))
    x = np.ones((1, 2), want)
    np.testing.assert_allclose(net(nd.array(x, dtype=want)).asnumpy(),
                               x @ w16.astype(np.float32).T, rtol=1e-3)


def test_symbol_api_bad_arguments_are_graphcc_errors():
    # were int()'s ValueError, an IndexError and an AttributeError
    x = mx.sym.var("x")
    y = mx.sym.FullyConnected(x, mx.sym.var("w"), num_hidden=3, no_bias=True)
    with pytest.raises(GraphccError, match="shape of x"):
        y.infer_shape(x="abc")
    with pytest.raises(GraphccError, match="shape"):
        mx.sym.var("q", shape=(2, "a"))
    with pytest.raises(GraphccError, match="at least one"):
        mx.sym.Group([])
    with pytest.raises(GraphccError, match="expected Symbols"):
        mx.sym.Group([x, 1])
    assert mx.sym.var("q", shape=(np.int64(2), 0)).infer_shape(q=(2, 5))[0] == [(2, 5)]
