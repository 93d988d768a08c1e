"""gluon.Trainer (against NumPy written out here, and one run MXNet 1.9.1 produced, see
tests/mxnet_ref/optimizers.py), gluon.utils.clip_global_norm / split_data / split_and_load."""
import json
import os
import warnings

import numpy as np
import pytest

import graphcc as mx
from graphcc import autograd, gluon, nd
from graphcc.errors import GraphccError
from graphcc.gluon.trainer import StaleGradientError

REF = json.load(open(os.path.join(os.path.dirname(__file__), "mxnet_ref", "optimizers.json")))


def _dense(rng, units=3, in_units=4, **kw):
    net = gluon.nn.Dense(units, in_units=in_units, **kw)
    net.initialize()
    net.weight.set_data(nd.array(rng.standard_normal((units, in_units))))
    if net.bias is not None:
        net.bias.set_data(nd.array(rng.standard_normal(units)))
    return net


def _backward(net, x, y):
    with autograd.record():
        loss = ((net(nd.array(x)) - nd.array(y)) ** 2).sum() * 0.5
    loss.backward()


def test_step_scales_by_batch_size_with_hand_gradient(rng):
    net = _dense(rng)
    x, y = rng.standard_normal((5, 4)), rng.standard_normal((5, 3))
    w0, b0 = net.weight.data().asnumpy(), net.bias.data().asnumpy()
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.2})
    _backward(net, x, y)
    trainer.step(batch_size=4)
    x32, y32 = x.astype(np.float32), y.astype(np.float32)
    err = x32 @ w0.T + b0 - y32                 # dL/dpred of 0.5 * sum((pred - y)^2)
    gw, gb = err.T @ x32, err.sum(axis=0)
    np.testing.assert_allclose(net.weight.data().asnumpy(), w0 - 0.2 * gw / 4, rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(net.bias.data().asnumpy(), b0 - 0.2 * gb / 4, rtol=1e-5,
                               atol=1e-6)


def test_trainer_run_matches_mxnet():
    d = REF["trainer"]
    net = gluon.nn.Dense(3, in_units=4)
    net.initialize()
    net.weight.set_data(nd.array(d["w"]))
    net.bias.set_data(nd.array(d["b"]))
    net.bias.lr_mult = 0.5
    trainer = gluon.Trainer(net.collect_params(), "sgd",
                            {"learning_rate": 0.1, "momentum": 0.9, "wd": 0.05})
    loss_fn = gluon.loss.L2Loss()
    for w_ref, b_ref in d["traj"]:
        with autograd.record():
            loss = loss_fn(net(nd.array(d["x"])), nd.array(d["y"]))
        loss.backward()
        trainer.step(5)
        np.testing.assert_allclose(net.weight.data().asnumpy(), w_ref, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(net.bias.data().asnumpy(), b_ref, rtol=1e-5, atol=1e-6)


def _zero_grad_step(net, trainer):
    """A step whose gradients are all zero (but fresh): only weight decay moves weights."""
    with autograd.record():
        loss = (net(nd.ones((2, 4))) * 0).sum()
    loss.backward()
    trainer.step(1)


def test_weight_decay_applies_to_biases_and_wd_mult(rng):
    net = _dense(rng)
    w0, b0 = net.weight.data().asnumpy(), net.bias.data().asnumpy()
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.5, "wd": 0.1})
    _zero_grad_step(net, trainer)
    np.testing.assert_allclose(net.weight.data().asnumpy(), w0 * (1 - 0.05), rtol=1e-6)
    np.testing.assert_allclose(net.bias.data().asnumpy(), b0 * (1 - 0.05), rtol=1e-6)
    net.bias.wd_mult = 0.0
    net.weight.wd_mult = 2.0
    _zero_grad_step(net, trainer)
    np.testing.assert_allclose(net.bias.data().asnumpy(), b0 * (1 - 0.05), rtol=1e-6)
    np.testing.assert_allclose(net.weight.data().asnumpy(), w0 * 0.95 * 0.9, rtol=1e-6)


def test_lr_mult_per_parameter(rng):
    net = _dense(rng)
    x, y = rng.standard_normal((2, 4)), rng.standard_normal((2, 3))
    b0 = net.bias.data().asnumpy()
    net.bias.lr_mult = 0.0
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 1.0})
    w0 = net.weight.data().asnumpy()
    _backward(net, x, y)
    gw = net.weight.grad().asnumpy()
    net.weight.lr_mult = 0.25      # read at update time, as MXNet does through param_dict
    trainer.step(1)
    np.testing.assert_array_equal(net.bias.data().asnumpy(), b0)
    np.testing.assert_allclose(net.weight.data().asnumpy(), w0 - 0.25 * gw, rtol=1e-6)


def test_grad_req_null_parameters_are_skipped(rng):
    net = _dense(rng)
    net.weight.grad_req = "null"
    w0, b0 = net.weight.data().asnumpy(), net.bias.data().asnumpy()
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 1.0})
    _backward(net, rng.standard_normal((2, 4)), rng.standard_normal((2, 3)))
    trainer.step(1)
    np.testing.assert_array_equal(net.weight.data().asnumpy(), w0)
    assert not np.allclose(net.bias.data().asnumpy(), b0)
    trainer.step(1, ignore_stale_grad=True)   # nothing fresh: nothing moves, no error


def test_set_learning_rate(rng):
    net = _dense(rng)
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1})
    assert trainer.learning_rate == 0.1
    trainer.set_learning_rate(0.5)
    assert trainer.learning_rate == 0.5 and trainer.optimizer.lr == 0.5
    w0 = net.weight.data().asnumpy()
    _backward(net, rng.standard_normal((2, 4)), rng.standard_normal((2, 3)))
    g = net.weight.grad().asnumpy()
    trainer.step(2)
    np.testing.assert_allclose(net.weight.data().asnumpy(), w0 - 0.5 * g / 2, rtol=1e-6)


def test_optimizer_object_and_bad_arguments(rng):
    net = _dense(rng)
    sgd = mx.optimizer.SGD(learning_rate=0.3, momentum=0.9)
    trainer = gluon.Trainer(net.collect_params(), sgd)
    assert trainer.optimizer is sgd and trainer.learning_rate == 0.3
    assert sorted(p.name for p in sgd.param_dict.values()) == sorted(net.collect_params().keys())
    with pytest.raises(ValueError, match="optimizer_params must be None"):
        gluon.Trainer(net.collect_params(), sgd, {"learning_rate": 0.1})
    with pytest.raises(GraphccError, match="list or dict of Parameters"):
        gluon.Trainer(net.weight, "sgd")
    with pytest.raises(GraphccError, match="list of"):
        gluon.Trainer([net.weight, 3], "sgd")
    with pytest.raises(ValueError, match="Cannot find optimizer"):
        gluon.Trainer(net.collect_params(), "nosuch")
    _backward(net, rng.standard_normal((2, 4)), rng.standard_normal((2, 3)))
    with pytest.raises(GraphccError, match="batch_size"):     # was a ZeroDivisionError
        trainer.step(0)
    with pytest.raises(GraphccError, match="batch_size"):
        trainer.update(0)


def _momentum_setup(rng):
    net = _dense(rng)
    trainer = gluon.Trainer(net.collect_params(), "adam", {"learning_rate": 0.1})
    data = [(rng.standard_normal((2, 4)), rng.standard_normal((2, 3))) for _ in range(3)]
    return net, trainer, data


def test_save_load_states_round_trip(rng, tmp_path):
    net, trainer, data = _momentum_setup(rng)
    for x, y in data[:2]:
        _backward(net, x, y)
        trainer.step(2)
    fname = str(tmp_path / "t.states")
    trainer.save_states(fname)
    saved_w = [p.data().asnumpy() for p in net.collect_params().values()]
    _backward(net, *data[2])
    trainer.step(2)
    want = [p.data().asnumpy() for p in net.collect_params().values()]

    net2 = _dense(rng)
    for p, w in zip(net2.collect_params().values(), saved_w):
        p.set_data(nd.array(w))
    trainer2 = gluon.Trainer(net2.collect_params(), "adam", {"learning_rate": 0.9})
    trainer2.load_states(fname)
    assert trainer2.learning_rate == 0.1       # the optimizer comes from the file
    _backward(net2, *data[2])
    trainer2.step(2)
    for p, w in zip(net2.collect_params().values(), want):
        np.testing.assert_allclose(p.data().asnumpy(), w, rtol=1e-6)


def test_failed_load_leaves_state_intact(rng, tmp_path):
    net, trainer, data = _momentum_setup(rng)
    _backward(net, *data[0])
    trainer.step(2)
    good = str(tmp_path / "good.states")
    trainer.save_states(good)
    blob = open(good, "rb").read()
    bad = tmp_path / "bad.states"
    bad.write_bytes(blob[: len(blob) // 2])
    states_before = {k: [s.asnumpy() for s in v] for k, v in trainer._updaters[0].states.items()}
    opt_before = trainer.optimizer
    with pytest.raises(GraphccError, match="damaged"):
        trainer.load_states(str(bad))
    with pytest.raises(GraphccError, match="cannot read"):
        trainer.load_states(str(tmp_path / "missing.states"))
    other = _dense(rng, units=5)            # states of another shape
    t_other = gluon.Trainer(other.collect_params(), "adam")
    _backward(other, rng.standard_normal((1, 4)), rng.standard_normal((1, 5)))
    t_other.step(1)
    t_other.save_states(str(tmp_path / "other.states"))
    with pytest.raises(GraphccError, match="shape"):
        trainer.load_states(str(tmp_path / "other.states"))
    assert trainer.optimizer is opt_before
    for k, v in trainer._updaters[0].states.items():
        for s, before in zip(v, states_before[k]):
            np.testing.assert_array_equal(s.asnumpy(), before)
    _backward(net, *data[1])
    trainer.step(2)                               # still usable


def test_allreduce_grads_then_update_equals_step(rng):
    x, y = rng.standard_normal((3, 4)), rng.standard_normal((3, 3))
    results = []
    for split in (False, True):
        net = _dense(np.random.default_rng(7))
        trainer = gluon.Trainer(net.collect_params(), "sgd",
                                {"learning_rate": 0.1, "momentum": 0.5},
                                update_on_kvstore=False)
        for _ in range(2):
            _backward(net, x, y)
            if split:
                trainer.allreduce_grads()
                trainer.update(3)
            else:
                trainer.step(3)
        results.append(net.weight.data().asnumpy())
    np.testing.assert_array_equal(results[0], results[1])


def test_stale_gradient_error(rng):
    a, b = _dense(rng), _dense(rng, units=2, in_units=3)
    params = a.collect_params()
    params.update(b.collect_params())
    trainer = gluon.Trainer(params, "sgd", {"learning_rate": 0.1})
    _backward(a, rng.standard_normal((2, 4)), rng.standard_normal((2, 3)))   # b unused
    # sorted names: b's bias is the first stale one
    w_a = a.weight.data().asnumpy()
    with pytest.raises(StaleGradientError, match=f"`{b.bias.name}` on context cpu"):
        trainer.step(1)
    np.testing.assert_array_equal(a.weight.data().asnumpy(), w_a)   # refused: nothing moved
    with pytest.raises(UserWarning, match="ignore_stale_grad=True"):
        trainer.step(1)
    trainer.step(1, ignore_stale_grad=True)          # updates a only
    assert not np.allclose(a.weight.data().asnumpy(), w_a)
    w_a = a.weight.data().asnumpy()
    with pytest.raises(StaleGradientError, match="has not been updated by backward"):
        trainer.step(1)                              # a's gradient was used: stale now
    trainer.step(1, ignore_stale_grad=True)
    np.testing.assert_array_equal(a.weight.data().asnumpy(), w_a)


def test_autograd_grad_does_not_refresh(rng):
    net = _dense(rng)
    trainer = gluon.Trainer(net.collect_params(), "sgd")
    x = nd.ones((1, 4))
    with autograd.record():
        out = net(x).sum()
    autograd.grad(out, [net.weight.data()], retain_graph=True)
    with pytest.raises(StaleGradientError):
        trainer.step(1)
    out.backward()
    trainer.step(1)


def test_hybridized_backward_refreshes(rng):
    net = gluon.nn.HybridSequential()
    net.add(gluon.nn.Dense(2, in_units=3))
    net.initialize()
    net.hybridize()
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.5})
    x = nd.ones((1, 3))
    before = net(x).asnumpy()
    with autograd.record():
        loss = net(x).sum()
    loss.backward()
    trainer.step(1)
    # d loss / d w = 1 everywhere, d loss / d b = 1: each output drops by 0.5 * (3 + 1)
    np.testing.assert_allclose(net(x).asnumpy(), before - 2.0, rtol=1e-6)


def test_two_devices_sum_gradients(rng):
    x, y = rng.standard_normal((4, 4)), rng.standard_normal((4, 3))
    single = _dense(np.random.default_rng(3))
    t1 = gluon.Trainer(single.collect_params(), "sgd", {"learning_rate": 0.1, "momentum": 0.9})
    ctxs = [mx.cpu(0), mx.cpu(1)]
    multi = gluon.nn.Dense(3, in_units=4)
    multi.initialize(ctx=ctxs)
    for p, q in zip(multi.collect_params().values(), single.collect_params().values()):
        p.set_data(q.data())
    t2 = gluon.Trainer(multi.collect_params(), "sgd", {"learning_rate": 0.1, "momentum": 0.9})
    for _ in range(2):
        _backward(single, x, y)
        t1.step(4)
        xs = gluon.utils.split_and_load(x, ctxs)
        ys = gluon.utils.split_and_load(y, ctxs)
        with autograd.record():
            losses = [((multi(a) - b) ** 2).sum() * 0.5 for a, b in zip(xs, ys)]
        autograd.backward(losses)
        t2.step(4)
    for w in multi.weight.list_data():
        np.testing.assert_allclose(w.asnumpy(), single.weight.data().asnumpy(), rtol=1e-5)
    with pytest.raises(GraphccError, match="update_on_kvstore"):
        t2.allreduce_grads()


# ---------------------------------------------------------------- gluon.utils


def test_clip_global_norm_value_and_scaling(rng):
    a, b = rng.standard_normal((3, 4)), rng.standard_normal(5)
    arrays = [nd.array(a), nd.array(b)]
    total = np.sqrt((a.astype(np.float32) ** 2).sum() + (b.astype(np.float32) ** 2).sum())
    norm = gluon.utils.clip_global_norm(arrays, 1.0)
    assert isinstance(norm, np.float32)
    assert norm == pytest.approx(total, rel=1e-6)
    scale = 1.0 / (total + 1e-8)
    np.testing.assert_allclose(arrays[0].asnumpy(), a * scale, rtol=1e-5)
    np.testing.assert_allclose(arrays[1].asnumpy(), b * scale, rtol=1e-5)
    new = np.sqrt(sum((x.asnumpy() ** 2).sum() for x in arrays))
    assert new == pytest.approx(1.0, rel=1e-5)
    # below max_norm: untouched; check_isfinite=False gives an NDArray of shape (1,)
    small = [nd.array([0.3, 0.4])]
    res = gluon.utils.clip_global_norm(small, 10.0, check_isfinite=False)
    assert isinstance(res, mx.nd.NDArray) and res.shape == (1,)
    np.testing.assert_allclose(res.asnumpy(), [0.5], rtol=1e-6)
    np.testing.assert_allclose(small[0].asnumpy(), [0.3, 0.4], rtol=1e-6)
    with pytest.warns(UserWarning, match="nan or inf"):
        gluon.utils.clip_global_norm([nd.array([np.inf, 1.0])], 1.0)


def test_clip_global_norm_on_gradients(rng):
    net = _dense(rng)
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 1.0})
    w0 = net.weight.data().asnumpy()
    _backward(net, rng.standard_normal((4, 4)) * 10, rng.standard_normal((4, 3)))
    grads = [p.grad() for p in net.collect_params().values()]
    raw = [g.asnumpy() for g in grads]
    norm = gluon.utils.clip_global_norm(grads, 0.5)
    assert norm > 0.5
    trainer.step(1)
    np.testing.assert_allclose(net.weight.data().asnumpy(),
                               w0 - raw[0] * 0.5 / norm, rtol=1e-5, atol=1e-6)


def test_split_data_and_split_and_load():
    x = nd.array(np.arange(20).reshape(5, 4))
    parts = gluon.utils.split_data(x, 2, even_split=False)
    assert [p.shape for p in parts] == [(3, 4), (2, 4)]
    np.testing.assert_array_equal(np.concatenate([p.asnumpy() for p in parts]), x.asnumpy())
    with pytest.raises(ValueError, match="cannot be evenly split into 2 slices"):
        gluon.utils.split_data(x, 2)
    cols = gluon.utils.split_data(x, 2, batch_axis=1)
    np.testing.assert_array_equal(cols[1].asnumpy(), x.asnumpy()[:, 2:])
    assert len(gluon.utils.split_data(x, 1)) == 1
    ctxs = [mx.cpu(0), mx.cpu(1)]
    loaded = gluon.utils.split_and_load(np.arange(8.0).reshape(4, 2), ctxs)
    assert [a.context for a in loaded] == ctxs
    assert loaded[0].dtype == np.float32
    np.testing.assert_array_equal(loaded[1].asnumpy(), [[4, 5], [6, 7]])
    one = gluon.utils.split_and_load(x, [mx.cpu(0)])
    assert len(one) == 1 and one[0].shape == (5, 4)
    with pytest.raises(ValueError):
        gluon.utils.split_and_load(x, ctxs)


def test_no_warnings_in_a_plain_training_loop(rng):
    net = _dense(rng)
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(2):
            _backward(net, rng.standard_normal((2, 4)), rng.standard_normal((2, 3)))
            trainer.step(2)
