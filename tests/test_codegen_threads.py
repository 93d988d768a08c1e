"""Concurrency is input too: threads calling one hybridized block (cpu backend) get the
numbers a single thread gets, with and without static_alloc, from a cold or a warm cache."""
from __future__ import annotations

import sys
import threading

import numpy as np
import pytest

import graphcc as mx
from graphcc import nd
from graphcc.gluon import nn


@pytest.fixture
def short_switch():
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)        # threads interleave inside a call
    yield
    sys.setswitchinterval(old)


@pytest.mark.parametrize("static", [False, True])
@pytest.mark.parametrize("warm", [False, True])
def test_threads_calling_one_block_get_their_own_results(short_switch, static, warm):
    mx.random.seed(3)
    net = nn.HybridSequential()
    net.add(nn.Dense(32, in_units=16, activation="tanh"), nn.Dense(8, in_units=32))
    net.initialize()
    xs = [nd.array(np.random.RandomState(i).randn(4, 16).astype("float32")) for i in range(4)]
    refs = [net(x).asnumpy() for x in xs]            # eager, one thread
    net.hybridize(backend="cpu", static_alloc=static)
    if warm:
        net(xs[0])
    wrong = [0] * len(xs)
    errors = []

    def work(t):
        try:
            for _ in range(60):
                out = net(xs[t]).asnumpy()
                wrong[t] += not np.allclose(out, refs[t], rtol=1e-5, atol=1e-6)
        except Exception as e:      # noqa: BLE001 - reported below
            errors.append(repr(e))
    threads = [threading.Thread(target=work, args=(t,)) for t in range(len(xs))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == [] and wrong == [0] * len(xs)


@pytest.mark.parametrize("hybrid", [False, True])
def test_first_calls_from_several_threads_initialise_each_parameter_once(short_switch, hybrid):
    """Deferred shapes: two threads making a net's first call at once. Each parameter is
    initialised once, so both threads' outputs are those of the weights the net keeps."""
    wrong = 0
    for trial in range(30):
        net = nn.HybridSequential()
        net.add(nn.Dense(16, activation="relu"), nn.Dense(4))
        net.initialize()
        if hybrid:
            net.hybridize()
        x = nd.array(np.random.RandomState(trial).randn(2, 8).astype("float32"))
        outs = [None, None]

        def work(t):
            outs[t] = net(x).asnumpy()
        threads = [threading.Thread(target=work, args=(t,)) for t in range(2)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        ref = net(x).asnumpy()
        wrong += sum(not np.allclose(o, ref) for o in outs)
    assert wrong == 0
