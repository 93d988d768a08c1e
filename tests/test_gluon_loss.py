"""gluon.loss: every loss against NumPy written out here (sample_weight, weight, batch_axis),
hybridized against eager, gradients through autograd against finite differences."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from graphcc import autograd, gluon, nd
from graphcc.errors import GraphccError, ShapeError

from opcheck import floats_array

L = gluon.loss


def _nd(a, dtype="float32"):
    return nd.array(np.asarray(a), dtype=dtype)


def _np_log_softmax(x, axis):
    m = x.max(axis=axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


def _mean_but(x, axis):
    axes = tuple(i for i in range(x.ndim) if i != axis % x.ndim)
    return x.mean(axis=axes)


def _close(got, want, rtol=1e-5, atol=1e-6):
    np.testing.assert_allclose(got.asnumpy(), want, rtol=rtol, atol=atol)


# ---------------------------------------------------------------- forward vs NumPy


@given(shape=st.sampled_from([(3, 4), (2, 3, 2), (5, 1)]), w=st.sampled_from([1.0, 0.5, 3.0]),
       data=st.data())
def test_l2_l1_losses(shape, w, data):
    p = data.draw(floats_array(shape), "pred").astype(np.float32)
    y = data.draw(floats_array(shape), "label").astype(np.float32)
    _close(L.L2Loss(weight=w)(_nd(p), _nd(y)), _mean_but(0.5 * w * (y - p) ** 2, 0))
    _close(L.L1Loss(weight=w)(_nd(p), _nd(y)), _mean_but(w * np.abs(y - p), 0))


def test_label_reshaped_like_pred_and_sample_weight(rng):
    p = rng.standard_normal((4, 1)).astype(np.float32)
    y = rng.standard_normal(4).astype(np.float32)             # (4,) vs (4, 1)
    sw = np.array([[1.0], [0.0], [2.0], [0.5]], np.float32)
    out = L.L2Loss()(_nd(p), _nd(y), _nd(sw))
    assert out.shape == (4,)
    _close(out, 0.5 * (y - p[:, 0]) ** 2 * sw[:, 0])
    out = L.L1Loss(weight=2.0)(_nd(p), _nd(y), _nd(sw))
    _close(out, 2.0 * np.abs(y - p[:, 0]) * sw[:, 0])


def test_batch_axis(rng):
    p, y = rng.standard_normal((3, 5)), rng.standard_normal((3, 5))
    out = L.L2Loss(batch_axis=1)(_nd(p), _nd(y))
    assert out.shape == (5,)
    _close(out, (0.5 * (y - p) ** 2).mean(axis=0))
    p3, y3 = rng.standard_normal((2, 4, 3)), rng.standard_normal((2, 4, 3))
    out = L.HuberLoss(batch_axis=2)(_nd(p3), _nd(y3))
    d = np.abs(y3 - p3)
    _close(out, np.where(d > 1, d - 0.5, 0.5 * d * d).mean(axis=(0, 1)))


def test_softmax_cross_entropy_sparse_and_dense(rng):
    x = rng.standard_normal((4, 5)).astype(np.float32)
    lab = np.array([0, 4, 2, 2])
    want = -_np_log_softmax(x.astype(np.float64), 1)[np.arange(4), lab]
    _close(L.SoftmaxCrossEntropyLoss()(_nd(x), _nd(lab)), want)
    _close(L.SoftmaxCELoss(weight=0.5)(_nd(x), _nd(lab)), 0.5 * want)
    sw = np.array([[1.0], [2.0], [0.0], [1.0]], np.float32)
    _close(L.SoftmaxCELoss()(_nd(x), _nd(lab), _nd(sw)), want * sw[:, 0])
    dist = rng.random((4, 5)).astype(np.float32)
    dist /= dist.sum(axis=1, keepdims=True)
    want = -(dist * _np_log_softmax(x.astype(np.float64), 1)).sum(axis=1)
    _close(L.SoftmaxCrossEntropyLoss(sparse_label=False)(_nd(x), _nd(dist)), want)
    logp = _np_log_softmax(x.astype(np.float64), 1).astype(np.float32)
    _close(L.SoftmaxCrossEntropyLoss(from_logits=True)(_nd(logp), _nd(lab)),
           -logp[np.arange(4), lab])


def test_softmax_cross_entropy_axis(rng):
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)     # classes on axis 1
    lab = rng.integers(0, 3, size=(2, 4))
    ls = _np_log_softmax(x.astype(np.float64), 1)
    want = np.zeros((2, 4))
    for n in range(2):
        for t in range(4):
            want[n, t] = -ls[n, lab[n, t], t]
    _close(L.SoftmaxCrossEntropyLoss(axis=1)(_nd(x), _nd(lab)), want.mean(axis=1))


def test_sigmoid_bce(rng):
    x = (rng.standard_normal((3, 4)) * 3).astype(np.float32)
    z = (rng.random((3, 4)) > 0.5).astype(np.float32)
    s = 1 / (1 + np.exp(-x.astype(np.float64)))
    bce = -(z * np.log(s) + (1 - z) * np.log(1 - s))
    _close(L.SigmoidBinaryCrossEntropyLoss()(_nd(x), _nd(z)), bce.mean(axis=1), rtol=1e-4)
    _close(L.SigmoidBCELoss(from_sigmoid=True)(_nd(s), _nd(z)), bce.mean(axis=1), rtol=1e-4)
    pw = np.array([2.0, 1.0, 0.5, 3.0], np.float32)
    want = -(pw * z * np.log(s) + (1 - z) * np.log(1 - s))
    _close(L.SigmoidBCELoss()(_nd(x), _nd(z), None, _nd(pw)), want.mean(axis=1), rtol=1e-4)
    _close(L.SigmoidBCELoss(from_sigmoid=True)(_nd(s), _nd(z), None, _nd(pw)),
           want.mean(axis=1), rtol=1e-4)
    big = _nd([[80.0, -80.0]])                    # stable for large logits
    _close(L.SigmoidBCELoss()(big, _nd([[1.0, 0.0]])), [0.0])


def test_kl_div(rng):
    logits = rng.standard_normal((3, 4))
    lab = rng.random((3, 4))
    lab /= lab.sum(axis=1, keepdims=True)
    logp = _np_log_softmax(logits, 1)
    want = (lab * (np.log(lab + 1e-12) - logp)).sum(axis=1)     # summed, as MXNet 1.9.1
    _close(L.KLDivLoss()(_nd(logp), _nd(lab)), want)
    _close(L.KLDivLoss(from_logits=False)(_nd(logits), _nd(lab)), want)
    _close(L.KLDivLoss(weight=2.0)(_nd(logp), _nd(lab)), 2 * want)


def test_huber_hinge_squared_hinge_logistic(rng):
    p = (rng.standard_normal((4, 3)) * 2).astype(np.float32)
    y = (rng.standard_normal((4, 3)) * 2).astype(np.float32)
    sign = np.where(rng.random((4, 3)) > 0.5, 1.0, -1.0).astype(np.float32)
    for rho in (1.0, 0.5):
        d = np.abs(y - p)
        _close(L.HuberLoss(rho=rho)(_nd(p), _nd(y)),
               np.where(d > rho, d - rho / 2, d * d / (2 * rho)).mean(axis=1))
    for margin in (1.0, 2.0):
        h = np.maximum(0, margin - p * sign)
        _close(L.HingeLoss(margin=margin)(_nd(p), _nd(sign)), h.mean(axis=1))
        _close(L.SquaredHingeLoss(margin=margin)(_nd(p), _nd(sign)), (h * h).mean(axis=1))
    want = np.log1p(np.exp(-p.astype(np.float64) * sign)).mean(axis=1)
    _close(L.LogisticLoss()(_nd(p), _nd(sign)), want, rtol=1e-4)
    _close(L.LogisticLoss(label_format="binary")(_nd(p), _nd((sign + 1) / 2)), want, rtol=1e-4)


def test_triplet(rng):
    a, pos, neg = (rng.standard_normal((3, 4)).astype(np.float32) for _ in range(3))
    want = np.maximum(0, ((pos - a) ** 2 - (neg - a) ** 2).sum(axis=1) + 1.0)
    _close(L.TripletLoss()(_nd(a), _nd(pos), _nd(neg)), want, rtol=1e-4)
    _close(L.TripletLoss(margin=0.0, weight=2.0)(_nd(a), _nd(pos), _nd(neg)),
           2 * np.maximum(0, want - 1.0), rtol=1e-4)


def test_poisson_nll(rng):
    p = rng.random((3, 2)).astype(np.float32) + 0.1
    t = rng.integers(1, 5, size=(3, 2)).astype(np.float32)
    out = L.PoissonNLLLoss()(_nd(p), _nd(t))
    assert out.shape == (1,)
    _close(out, [(np.exp(p) - t * p).mean()])
    _close(L.PoissonNLLLoss(from_logits=False)(_nd(p), _nd(t)),
           [(p - t * np.log(p + 1e-8)).mean()])
    t64 = t.astype(np.float64)
    stirling = np.where(t64 > 1, t64 * np.log(t64) - t64 + 0.5 * np.log(2 * np.pi * t64), 0)
    _close(L.PoissonNLLLoss(compute_full=True)(_nd(p), _nd(t)),
           [(np.exp(p) - t * p + stirling).mean()], rtol=1e-4)


def test_cosine_embedding(rng):
    a, b = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    lab = np.array([1, -1, 1, -1])
    cos = (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    for margin in (0.0, 0.3):
        want = np.where(lab == 1, 1 - cos, np.maximum(0, cos - margin))[:, None]
        out = L.CosineEmbeddingLoss(margin=margin)(_nd(a), _nd(b), _nd(lab))
        assert out.shape == (4, 1)
        _close(out, want, rtol=1e-4)


def test_sdml(rng):
    x1, x2 = rng.standard_normal((3, 2)), rng.standard_normal((3, 2))
    d = ((x1[:, None, :] - x2[None, :, :]) ** 2).sum(axis=2)
    logp = _np_log_softmax(-d, 1)
    lab = np.full((3, 3), 0.3 / 2) + np.eye(3) * (0.7 - 0.15)
    want = (lab * (np.log(lab + 1e-12) - logp)).sum(axis=1)
    _close(L.SDMLLoss()(_nd(x1), _nd(x2)), want, rtol=1e-4)


# ---------------------------------------------------------------- hybridized == eager

CASES = [
    (lambda: L.L2Loss(weight=0.3), [(3, 4), (3, 4)]),
    (lambda: L.L1Loss(batch_axis=1), [(3, 4), (3, 4)]),
    (lambda: L.SoftmaxCrossEntropyLoss(), [(3, 4), "cls"]),
    (lambda: L.SoftmaxCrossEntropyLoss(sparse_label=False), [(3, 4), (3, 4)]),
    (lambda: L.SigmoidBCELoss(), [(3, 4), "bin"]),
    (lambda: L.SigmoidBCELoss(from_sigmoid=True), ["prob", "bin"]),
    (lambda: L.KLDivLoss(from_logits=False), [(3, 4), "prob"]),
    (lambda: L.HuberLoss(rho=0.5), [(3, 4), (3, 4)]),
    (lambda: L.HingeLoss(), [(3, 4), "sign"]),
    (lambda: L.SquaredHingeLoss(), [(3, 4), "sign"]),
    (lambda: L.LogisticLoss(), [(3, 4), "sign"]),
    (lambda: L.TripletLoss(), [(3, 4), (3, 4), (3, 4)]),
    (lambda: L.PoissonNLLLoss(), [(3, 4), "prob"]),
    (lambda: L.CosineEmbeddingLoss(), [(3, 4), (3, 4), "sign3"]),
    (lambda: L.SDMLLoss(), [(3, 4), (3, 4)]),
]


def _input(kind, rng):
    if kind == "cls":
        return nd.array(rng.integers(0, 4, size=3))
    if kind == "bin":
        return nd.array((rng.random((3, 4)) > 0.5).astype(np.float32))
    if kind == "prob":
        return nd.array(rng.random((3, 4)) * 0.8 + 0.1)
    if kind == "sign":
        return nd.array(np.where(rng.random((3, 4)) > 0.5, 1.0, -1.0))
    if kind == "sign3":
        return nd.array([1.0, -1.0, 1.0])
    return nd.array(rng.standard_normal(kind))


@pytest.mark.parametrize("make,kinds", CASES, ids=[f"{i}" for i in range(len(CASES))])
def test_hybridized_matches_eager(make, kinds, rng):
    xs = [_input(k, rng) for k in kinds]
    loss = make()
    eager = loss(*xs).asnumpy()
    loss.hybridize()
    hyb = loss(*xs)
    assert loss.trace_count == 1
    np.testing.assert_allclose(hyb.asnumpy(), eager, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- gradients


def _fd_check(loss, pred, *rest, eps=1e-6):
    """d sum(loss(pred, *rest)) / d pred: autograd vs central differences, float64."""
    others = [nd.array(r, dtype="float64") for r in rest]
    p = nd.array(pred, dtype="float64")
    p.attach_grad()
    with autograd.record():
        out = loss(p, *others)
    out.backward()
    num = np.zeros_like(pred)
    for i in range(pred.size):
        hi, lo = pred.copy(), pred.copy()
        hi.flat[i] += eps
        lo.flat[i] -= eps
        f_hi = loss(nd.array(hi, dtype="float64"), *others).asnumpy().sum()
        f_lo = loss(nd.array(lo, dtype="float64"), *others).asnumpy().sum()
        num.flat[i] = (f_hi - f_lo) / (2 * eps)
    np.testing.assert_allclose(p.grad.asnumpy(), num, rtol=1e-5, atol=1e-7)


def test_gradients_vs_finite_differences(rng):
    x = rng.standard_normal((3, 4))
    y = rng.standard_normal((3, 4))
    _fd_check(L.L2Loss(weight=0.7), x, y, np.array([[1.0], [2.0], [0.5]]))
    _fd_check(L.SoftmaxCrossEntropyLoss(), x, np.array([1.0, 0.0, 3.0]))
    _fd_check(L.SigmoidBCELoss(), x, (rng.random((3, 4)) > 0.5).astype(np.float64))
    _fd_check(L.HuberLoss(rho=0.5), x, y + np.sign(y) * 0.1)
    _fd_check(L.LogisticLoss(), x, np.where(y > 0, 1.0, -1.0))
    _fd_check(L.KLDivLoss(from_logits=False), x, rng.random((3, 4)) * 0.3)
    _fd_check(L.CosineEmbeddingLoss(margin=-0.5), x, y, np.array([1.0, -1.0, 1.0]))


# ---------------------------------------------------------------- errors and repr


def test_bad_inputs_raise_clear_errors(rng):
    with pytest.raises(ShapeError, match=r"L2Loss .*\(3,\).*\(2, 2\)"):
        L.L2Loss()(nd.zeros((2, 2)), nd.zeros((3,)))
    with pytest.raises(ValueError, match="label_format can only be signed or binary"):
        L.LogisticLoss(label_format="ternary")
    with pytest.raises(GraphccError, match="weight must be a number"):
        L.L1Loss(weight=nd.ones((1,)))
    with pytest.raises(GraphccError, match="SoftmaxCrossEntropyLoss"):
        L.SoftmaxCrossEntropyLoss(sparse_label=False)(nd.zeros((2, 3)), nd.zeros((2, 2)))
    for shape in [(), (4,), (2, 3, 4), (1, 4)]:     # was an unpacking / division error
        with pytest.raises(ShapeError, match="SDMLLoss"):
            L.SDMLLoss()(nd.zeros(shape), nd.zeros(shape))


def test_repr_and_subclass():
    assert repr(L.L2Loss()) == "L2Loss(batch_axis=0, w=1.0)"
    assert repr(L.SoftmaxCELoss(batch_axis=1)) == "SoftmaxCrossEntropyLoss(batch_axis=1, w=None)"
    assert L.SoftmaxCELoss is L.SoftmaxCrossEntropyLoss
    assert L.SigmoidBCELoss is L.SigmoidBinaryCrossEntropyLoss

    class Cubed(L.Loss):
        def __init__(self, weight=None, batch_axis=0, **kwargs):
            super().__init__(weight, batch_axis, **kwargs)

        def hybrid_forward(self, F, pred, label, sample_weight=None):
            loss = F.abs(pred - label) ** 3
            if self._weight is not None:
                loss = loss * self._weight
            return F.mean(loss, axis=self._batch_axis, exclude=True)

    out = Cubed(weight=2.0)(nd.array([[1.0, 2.0]]), nd.array([[0.0, 0.0]]))
    _close(out, [9.0])
