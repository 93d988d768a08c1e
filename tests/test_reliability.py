"""Errors in the user's terms, and structures as large as MXNet builds."""
from __future__ import annotations

import numpy as np
import pytest

from graphcc import nd
from graphcc.errors import GraphccError
from graphcc.gluon import nn


@pytest.mark.parametrize("arg", [[[1.0, 2.0, 3.0]], np.ones((1, 3), np.float32), None])
@pytest.mark.parametrize("hybrid", [False, True])
def test_a_layer_called_on_something_else_than_an_array_says_so(arg, hybrid):
    d = nn.Dense(2, in_units=3)
    d.initialize()
    if hybrid:
        d.hybridize()
    with pytest.raises(GraphccError, match="Symbol or NDArray|needs at least one array"):
        d(arg)
    assert d(nd.ones((1, 3))).shape == (1, 2)


def test_a_nest_of_1500_blocks_builds():
    net = nn.HybridSequential()
    cur = net
    for _ in range(1500):          # MXNet builds this; bookkeeping must not recurse per level
        nxt = nn.HybridSequential()
        cur.add(nxt)
        cur = nxt
    cur.add(nn.Dense(2, in_units=3))
    cur.add(nn.Dense(2, in_units=2))     # a change deep down reaches every ancestor
    assert len(cur._children) == 2


def test_a_deep_nest_collects_and_initialises_its_parameters_in_order(tmp_path):
    net = nn.HybridSequential()
    cur = net
    for _ in range(1500):
        nxt = nn.HybridSequential()
        cur.add(nxt)
        cur = nxt
    cur.add(nn.Dense(2, in_units=3))
    net.initialize()
    assert len(list(net.collect_params().keys())) == 2
    net.save_parameters(str(tmp_path / "deep.params"))
    # the order stays depth first, children in order (MXNet's order)
    outer = nn.HybridSequential()
    inner = nn.HybridSequential()
    inner.add(nn.Dense(4, in_units=3), nn.Dense(3, in_units=4))
    outer.add(inner, nn.Dense(2, in_units=3))
    shapes = [p.shape for p in outer.collect_params().values()]
    assert shapes == [(4, 3), (4,), (3, 4), (3,), (2, 3), (2,)]
    assert list(outer._collect_params_with_prefix()) == [
        "0.0.weight", "0.0.bias", "0.1.weight", "0.1.bias", "1.weight", "1.bias"]
