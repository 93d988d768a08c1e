"""Files written by MXNet 1.9.1 (tests/mxnet_ref/gluon_params.py) load in graphcc:
``nd.load`` and ``Block.load_parameters``."""
import os

import numpy as np
import pytest

from graphcc import nd
from graphcc.errors import ParameterError
from graphcc.gluon import nn

REF = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mxnet_ref", "gluon_params")


def test_nd_load_reads_mxnet_files():
    d = nd.load(os.path.join(REF, "arrays.nd"))
    np.testing.assert_array_equal(d["a"].asnumpy(), np.arange(6).reshape(2, 3))
    assert d["b"].dtype == np.float64 and d["b"].shape == (2,)


def test_load_parameters_from_mxnet_save_parameters():
    net = nn.HybridSequential()
    net.add(nn.Dense(4, activation="relu", in_units=3), nn.Dense(2, in_units=4))
    net.initialize()
    net.load_parameters(os.path.join(REF, "mlp.params"))
    weights = []
    for k, p in enumerate(net.collect_params().values()):
        n = int(np.prod(p.shape))
        want = (np.arange(n) - n / 2).reshape(p.shape) / (7 + k)
        np.testing.assert_allclose(p.data().asnumpy(), want, rtol=1e-6)
        weights.append(want)
    x = np.linspace(-1, 1, 6).reshape(2, 3)
    h = np.maximum(x @ weights[0].T + weights[1], 0)
    np.testing.assert_allclose(net(nd.array(x)).asnumpy(), h @ weights[2].T + weights[3],
                               rtol=1e-5)
    # the values MXNet printed when it wrote the file
    np.testing.assert_allclose(net(nd.array(x)).asnumpy(),
                               [[-0.778968334197998, 0.05595238506793976],
                                [-0.3234127163887024, 0.5051587820053101]], rtol=1e-5)


def test_truncated_mxnet_file_is_a_clear_error(tmp_path):
    raw = open(os.path.join(REF, "mlp.params"), "rb").read()
    bad = tmp_path / "bad.params"
    bad.write_bytes(raw[:100])
    net = nn.Dense(2, in_units=4)
    net.initialize()
    before = net.weight.data().asnumpy().copy()
    with pytest.raises(ParameterError, match="truncated|damaged"):
        net.load_parameters(str(bad))
    np.testing.assert_array_equal(net.weight.data().asnumpy(), before)
