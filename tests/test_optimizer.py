"""mx.optimizer and mx.lr_scheduler: trajectories and learning rates against values MXNet 1.9.1
produced (tests/mxnet_ref/optimizers.py writes tests/mxnet_ref/optimizers.json), AdamW against
NumPy written out here, the registry, lr/wd multipliers, state files."""
import json
import os
import pickle

import numpy as np
import pytest

import graphcc as mx
from graphcc import nd
from graphcc.errors import GraphccError

REF = json.load(open(os.path.join(os.path.dirname(__file__), "mxnet_ref", "optimizers.json")))


def _case_id(c):
    return c["name"] + "-" + "-".join(f"{k}={v}" for k, v in sorted(c["kwargs"].items())) + (
        "-" + "-".join(sorted(c["extra"])) if c["extra"] else "")


def _make(case):
    kw = dict(case["kwargs"])
    extra = case["extra"]
    if "scheduler" in extra:
        cls, skw = extra["scheduler"]
        kw["lr_scheduler"] = getattr(mx.lr_scheduler, cls)(**skw)
    if extra.get("idx2name"):
        kw["param_idx2name"] = {int(k): v for k, v in REF["idx2name"].items()}
    opt = mx.optimizer.create(case["name"], **kw)
    if "lr_mult" in extra:
        opt.set_lr_mult({int(k): v for k, v in extra["lr_mult"].items()})
    if "wd_mult" in extra:
        opt.set_wd_mult({int(k): v for k, v in extra["wd_mult"].items()})
    return opt


@pytest.mark.parametrize("case", REF["cases"], ids=_case_id)
def test_trajectory_matches_mxnet(case):
    opt = _make(case)
    weights = [nd.array(w) for w in REF["w0"]]
    states = [opt.create_state(i, w) for i, w in enumerate(weights)]
    for step, grads in enumerate(REF["grads"]):
        for i, w in enumerate(weights):
            g = nd.array(grads[i])
            before = g.asnumpy()
            opt.update(i, w, g, states[i])
            np.testing.assert_array_equal(g.asnumpy(), before)   # the gradient is not touched
            np.testing.assert_allclose(w.asnumpy(), np.array(case["traj"][step][i]),
                                       rtol=1e-5, atol=1e-6)
            assert w.dtype == np.float32


@pytest.mark.parametrize("sched", REF["schedulers"], ids=lambda s: s["cls"])
def test_lr_scheduler_matches_mxnet(sched):
    s = getattr(mx.lr_scheduler, sched["cls"])(**sched["kwargs"])
    got = [s(n) for n in range(len(sched["lrs"]))]
    np.testing.assert_allclose(got, sched["lrs"], rtol=1e-12)


def test_scheduler_errors():
    with pytest.raises(ValueError, match="Factor must be no more than 1"):
        mx.lr_scheduler.FactorScheduler(step=2, factor=2.0)
    with pytest.raises(GraphccError, match="greater or equal than 1"):
        mx.lr_scheduler.FactorScheduler(step=0)
    with pytest.raises(GraphccError, match="increasing"):
        mx.lr_scheduler.MultiFactorScheduler(step=[3, 2])
    with pytest.raises(GraphccError, match="warmup"):
        mx.lr_scheduler.CosineScheduler(10, warmup_steps=2, warmup_mode="cubic")
    with pytest.raises(GraphccError, match="warmup_begin_lr"):
        mx.lr_scheduler.PolyScheduler(10, base_lr=0.1, warmup_begin_lr=0.5)
    with pytest.raises(GraphccError, match="strictly positive"):
        mx.lr_scheduler.PolyScheduler(0)


def test_adamw_decoupled_weight_decay():
    lr, wd, b1, b2, eps = 0.05, 0.1, 0.9, 0.999, 0.3
    opt = mx.optimizer.create("adamw", learning_rate=lr, wd=wd, rescale_grad=0.5, epsilon=eps)
    assert isinstance(opt, mx.optimizer.AdamW)
    w0 = np.array(REF["w0"][0], np.float64)
    w, m, v = w0.copy(), np.zeros_like(w0), np.zeros_like(w0)
    weight = nd.array(w0)
    state = opt.create_state(0, weight)
    for t, grads in enumerate(REF["grads"], start=1):
        g = np.array(grads[0], np.float64) * 0.5
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat, v_hat = m / (1 - b1 ** t), v / (1 - b2 ** t)
        # decay and the gradient step both use the weight before the update
        w = w - lr * wd * w - lr * m_hat / (np.sqrt(v_hat) + eps)
        opt.update(0, weight, nd.array(grads[0]), state)
        np.testing.assert_allclose(weight.asnumpy(), w, rtol=1e-5, atol=1e-6)


def test_adamw_differs_from_adam_only_through_decay():
    w0, g0 = nd.array(REF["w0"][0]), nd.array(REF["grads"][0][0])
    a, b = w0.copy(), w0.copy()
    adam = mx.optimizer.Adam(learning_rate=0.1, epsilon=0.0)
    adamw = mx.optimizer.AdamW(learning_rate=0.1, epsilon=0.0)
    adam.update(0, a, g0, adam.create_state(0, a))
    adamw.update(0, b, g0, adamw.create_state(0, b))
    np.testing.assert_allclose(a.asnumpy(), b.asnumpy(), rtol=1e-6)  # wd=eps=0: same update


def test_readme_differences_multi_precision_and_adadelta_gradient():
    # README: multi_precision=True is accepted and ignored (float16 weights are updated in
    # float16); AdaDelta does not scale the caller's gradient in place (MXNet's does)
    w = nd.array([1.0, 2.0], dtype="float16")
    sgd = mx.optimizer.SGD(learning_rate=0.5, multi_precision=True)
    sgd.update(0, w, nd.array([1.0, -2.0], dtype="float16"), sgd.create_state(0, w))
    assert w.asnumpy().dtype == np.float16
    np.testing.assert_array_equal(w.asnumpy(), np.array([0.5, 3.0], np.float16))
    w, g = nd.array([1.0, 2.0]), nd.array([0.5, -1.0])
    ada = mx.optimizer.AdaDelta(rescale_grad=2.0)
    ada.update(0, w, g, ada.create_state(0, w))
    np.testing.assert_array_equal(g.asnumpy(), [0.5, -1.0])
    assert not np.array_equal(w.asnumpy(), [1.0, 2.0])

def test_create_and_register():
    assert isinstance(mx.optimizer.create("SGD", momentum=0.9), mx.optimizer.SGD)
    assert isinstance(mx.optimizer.Optimizer.create_optimizer("rmsprop"), mx.optimizer.RMSProp)
    for name in ("sgd", "nag", "adam", "adamw", "rmsprop", "adagrad", "adadelta"):
        assert name in mx.optimizer.Optimizer.opt_registry
    with pytest.raises(ValueError, match="Cannot find optimizer nosuch"):
        mx.optimizer.create("nosuch")

    @mx.optimizer.register
    class HalfStep(mx.optimizer.Optimizer):
        def update(self, index, weight, grad, state):
            weight[:] -= 0.5 * self._get_lr(index) * grad

    try:
        opt = mx.optimizer.create("halfstep", learning_rate=1.0)
        w = nd.array([1.0, 2.0])
        opt.update(0, w, nd.array([1.0, 1.0]), opt.create_state(0, w))
        np.testing.assert_allclose(w.asnumpy(), [0.5, 1.5])
        with pytest.warns(UserWarning, match="overriding"):
            mx.optimizer.register(HalfStep)
    finally:
        mx.optimizer.Optimizer.opt_registry.pop("halfstep", None)


def test_defaults_match_mxnet():
    assert mx.optimizer.SGD().learning_rate == 0.01
    assert mx.optimizer.Adam().learning_rate == 0.001
    assert mx.optimizer.RMSProp().learning_rate == 0.001
    a = mx.optimizer.Adam()
    assert (a.beta1, a.beta2, a.epsilon, a.wd, a.rescale_grad) == (0.9, 0.999, 1e-8, 0.0, 1.0)
    assert mx.optimizer.SGD().create_state(0, nd.zeros((2,))) is None
    assert mx.optimizer.SGD(momentum=0.9).create_state(0, nd.zeros((2,))).shape == (2,)


class _FakeParam:
    def __init__(self, lr_mult, wd_mult):
        self.lr_mult, self.wd_mult = lr_mult, wd_mult


def test_lr_wd_multipliers_precedence():
    opt = mx.optimizer.SGD(learning_rate=0.5, wd=0.2, param_idx2name={0: "a_weight",
                                                                      1: "a_bias", 2: "c"},
                           param_dict={0: _FakeParam(3.0, 0.5)})
    opt.set_lr_mult({0: 10.0, 1: 2.0, "c": 4.0})
    # param_dict wins over set_lr_mult; then the index; then the name
    assert opt._get_lrs([0, 1, 2, 3]) == [1.5, 1.0, 2.0, 0.5]
    # names not ending in _weight/_gamma get no weight decay
    assert opt._get_wds([0, 1, 2, 3]) == [0.1, 0.0, 0.0, 0.2]
    opt.set_wd_mult({"c": 2.0})
    assert opt._get_wd(2) == pytest.approx(0.4)


def test_learning_rate_and_scheduler():
    opt = mx.optimizer.SGD(learning_rate=0.3)
    opt.set_learning_rate(0.7)
    assert opt.learning_rate == 0.7
    sched = mx.lr_scheduler.FactorScheduler(step=1, factor=0.5, base_lr=1.0)
    opt = mx.optimizer.SGD(lr_scheduler=sched)
    assert opt.learning_rate == 1.0
    w = nd.array([0.0])
    for _ in range(3):
        opt.update(0, w, nd.array([1.0]), None)
    # updates 1, 2, 3 use lr 1, 0.5, 0.25
    np.testing.assert_allclose(w.asnumpy(), [-1.75])
    assert opt.num_update == 3
    with pytest.raises(UserWarning, match="LRScheduler"):
        opt.set_learning_rate(0.1)
    with pytest.warns(UserWarning, match="overwritten"):
        opt = mx.optimizer.SGD(learning_rate=0.2,
                               lr_scheduler=mx.lr_scheduler.FactorScheduler(step=1))
    assert opt.lr_scheduler.base_lr == 0.2


def test_clip_gradient_zero_means_off_for_fused_kernels():
    w = nd.array([1.0])
    mx.optimizer.SGD(learning_rate=1.0, clip_gradient=0).update(0, w, nd.array([3.0]), None)
    np.testing.assert_allclose(w.asnumpy(), [-2.0])
    w = nd.array([1.0])
    mx.optimizer.SGD(learning_rate=1.0, clip_gradient=0.5).update(0, w, nd.array([3.0]), None)
    np.testing.assert_allclose(w.asnumpy(), [0.5])


def test_float64_weights_stay_float64():
    w = nd.array([1.0, 2.0], dtype="float64")
    opt = mx.optimizer.Adam(learning_rate=0.1)
    opt.update(0, w, nd.array([0.5, -0.5], dtype="float64"), opt.create_state(0, w))
    assert w.dtype == np.float64
    np.testing.assert_allclose(w.asnumpy(), [0.9, 2.1], rtol=1e-7)


def test_updater_states_round_trip():
    opt = mx.optimizer.Adam(learning_rate=0.1)
    upd = mx.optimizer.get_updater(opt)
    w = nd.array([1.0, 2.0])
    upd(0, nd.array([0.1, 0.2]), w)
    blob = upd.get_states(dump_optimizer=True)
    upd2 = mx.optimizer.get_updater(mx.optimizer.Adam())
    upd2.set_states(blob)
    assert isinstance(upd2.optimizer, mx.optimizer.Adam)
    assert upd2.optimizer.lr == 0.1 and upd2.optimizer._index_update_count == {0: 1}
    np.testing.assert_array_equal(upd2.states[0][0].asnumpy(), upd.states[0][0].asnumpy())
    w2 = w.copy()
    upd(0, nd.array([0.3, 0.1]), w)
    upd2(0, nd.array([0.3, 0.1]), w2)
    np.testing.assert_array_equal(w.asnumpy(), w2.asnumpy())
    # states only (no optimizer)
    upd3 = mx.optimizer.get_updater(mx.optimizer.Adam())
    upd3.set_states(upd.get_states())
    assert set(upd3.states) == {0}


def test_state_files_refuse_damage_and_code():
    upd = mx.optimizer.get_updater(mx.optimizer.SGD(momentum=0.9))
    with pytest.raises(mx.optimizer.OptimizerError, match="damaged"):
        upd.set_states(b"not a pickle")

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))
    with pytest.raises(mx.optimizer.OptimizerError, match="not allowed"):
        upd.set_states(pickle.dumps(({0: Evil()}, mx.optimizer.SGD())))
    assert upd.states == {}


def test_optimizer_pickle_drops_param_dict():
    opt = mx.optimizer.SGD(param_dict={0: _FakeParam(1.0, 1.0)})
    clone = pickle.loads(pickle.dumps(opt))
    assert clone.param_dict == {} and opt.param_dict
