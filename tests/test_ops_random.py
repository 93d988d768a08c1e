"""Random ops: distributions checked statistically against their definitions (fixed seeds, so
the bounds are deterministic), seeding, and the rules passes follow for them."""
import numpy as np
import pytest

import graphcc as mx
from graphcc import nd, ops


N = 20000


def _draw(fn, **kw):
    mx.random.seed(7)
    return fn(shape=(N,), **kw).asnumpy().astype(np.float64)


def test_uniform():
    x = _draw(nd.random.uniform, low=-2, high=3)
    assert x.min() >= -2 and x.max() < 3
    assert abs(x.mean() - 0.5) < 0.05 and abs(x.var() - 25 / 12) < 0.1


def test_normal():
    x = _draw(nd.random.normal, loc=1.0, scale=2.0)
    assert abs(x.mean() - 1.0) < 0.05 and abs(x.std() - 2.0) < 0.05


def test_randint():
    x = _draw(nd.random.randint, low=-3, high=4)
    assert set(np.unique(x)) == set(range(-3, 4))
    assert nd.random.randint(0, 5, shape=(3,)).dtype == np.int32


def test_exponential_gamma_poisson():
    e = _draw(nd.random.exponential, scale=2.0)
    assert e.min() >= 0 and abs(e.mean() - 2.0) < 0.08
    g = _draw(nd.random.gamma, alpha=3.0, beta=0.5)
    assert abs(g.mean() - 1.5) < 0.05 and abs(g.var() - 0.75) < 0.06
    p = _draw(nd.random.poisson, lam=4.0)
    assert np.all(p == np.round(p)) and abs(p.mean() - 4.0) < 0.08


def test_bernoulli_rate():
    mx.random.seed(3)
    x = nd._random_bernoulli(p=0.3, shape=(N,)).asnumpy()
    assert set(np.unique(x)) <= {0.0, 1.0} and abs(x.mean() - 0.3) < 0.02


def test_shuffle_is_a_permutation_of_rows():
    a = np.arange(30, dtype=np.float32).reshape(10, 3)
    mx.random.seed(5)
    s = nd.random.shuffle(nd.array(a)).asnumpy()
    assert sorted(map(tuple, s)) == sorted(map(tuple, a)) and not np.array_equal(s, a)


def test_seed_reproducible_and_streams_advance():
    mx.random.seed(11)
    a = nd.random.normal(shape=(5,)).asnumpy()
    b = nd.random.normal(shape=(5,)).asnumpy()
    mx.random.seed(11)
    np.testing.assert_array_equal(nd.random.normal(shape=(5,)).asnumpy(), a)
    assert not np.array_equal(a, b)


@pytest.mark.parametrize("name", ["_random_uniform", "_random_normal", "_random_randint",
                                  "_random_exponential", "_random_gamma", "_random_poisson",
                                  "_random_bernoulli", "_shuffle"])
def test_random_rows_are_marked(name):
    assert ops.get(name).random


def test_dtype_and_shape():
    x = nd.random.uniform(shape=(2, 3), dtype="float64")
    assert x.shape == (2, 3) and x.dtype == np.float64
