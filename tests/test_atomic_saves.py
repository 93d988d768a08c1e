"""Nothing lost: a write that fails part way (disk full) leaves the old files loadable and no
temporary file behind, for every writer: save_parameters, export, Trainer.save_states and
nd.save."""
from __future__ import annotations

import errno
import os

import numpy as np
import pytest

import graphcc as mx
from graphcc import gluon, nd
from graphcc import fileio
from graphcc.gluon import nn


class _Full:
    """An open file that raises ENOSPC once ``budget`` bytes have been written."""

    def __init__(self, f, budget):
        self.f, self.budget = f, budget

    def write(self, data):
        if self.budget < len(data):
            raise OSError(errno.ENOSPC, "No space left on device")
        self.budget -= len(data)
        return self.f.write(data)

    def __getattr__(self, name):
        return getattr(self.f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.f.close()
        return False


def _failing_open(budget):
    def fake(name, mode="r", *a, **k):
        f = open(name, mode, *a, **k)
        return _Full(f, budget) if "w" in mode else f
    return fake


def _net(seed):
    mx.random.seed(seed)
    net = nn.HybridSequential()
    net.add(nn.Dense(4, in_units=3, activation="relu"), nn.Dense(2, in_units=4))
    net.initialize()
    return net


def _files(d):
    return sorted(os.listdir(d))


@pytest.mark.parametrize("budget", [0, 40, 200])
def test_every_writer_keeps_the_old_files_when_a_write_fails(tmp_path, monkeypatch, budget):
    old, new = _net(1), _net(2)
    x = nd.array(np.ones((2, 3), np.float32))
    params = str(tmp_path / "net.params")
    old.save_parameters(params)
    old.hybridize()
    old(x)
    prefix = str(tmp_path / "model")
    old.export(prefix)
    trainer = gluon.Trainer(old.collect_params(), "sgd", {"learning_rate": 0.1,
                                                           "momentum": 0.9})
    states = str(tmp_path / "t.states")
    trainer.save_states(states)
    arrays = str(tmp_path / "a.nd")
    nd.save(arrays, {"w": nd.array(np.arange(3.0))})
    before = {f: (tmp_path / f).read_bytes() for f in _files(tmp_path)}

    new.hybridize()
    new(x)
    trainer2 = gluon.Trainer(new.collect_params(), "adam", {"learning_rate": 0.5})
    monkeypatch.setattr(fileio, "open", _failing_open(budget), raising=False)
    writers = [lambda: new.save_parameters(params), lambda: new.export(prefix),
               lambda: trainer2.save_states(states),
               lambda: nd.save(arrays, {"w": nd.array(np.zeros(3))})]
    for write in writers:
        with pytest.raises(OSError):
            write()
    monkeypatch.undo()
    assert _files(tmp_path) == sorted(before), "a temporary file was left behind"
    for f, data in before.items():
        assert (tmp_path / f).read_bytes() == data, f"{f} was changed by a failed write"
    # and the old files still load
    net = _net(3)
    net.load_parameters(params)
    np.testing.assert_array_equal(net(x).asnumpy(), old(x).asnumpy())
    sb = gluon.SymbolBlock.imports(prefix + "-symbol.json", ["data"],
                                   prefix + "-0000.params")
    np.testing.assert_allclose(sb(x).asnumpy(), old(x).asnumpy(), rtol=1e-6)
    trainer.load_states(states)
    np.testing.assert_array_equal(nd.load(arrays)["w"].asnumpy(), np.arange(3.0))


def test_nd_save_keeps_every_user_key_and_reads_older_files(tmp_path):
    keys = {"__graphcc_kind__": np.ones(2), "graphcc:format": np.zeros(1), "k:x": np.arange(3.),
            "a": np.full(2, 7.0)}
    f = str(tmp_path / "d.nd")
    nd.save(f, {k: nd.array(v) for k, v in keys.items()})
    back = nd.load(f)
    assert sorted(back) == sorted(keys)
    for k, v in keys.items():
        np.testing.assert_array_equal(back[k].asnumpy(), v.astype(np.float32))
    old = str(tmp_path / "old.nd")          # the layout graphcc wrote before: a bare marker
    with open(old, "wb") as fh:
        np.savez(fh, **{"w": np.arange(4.0), "__graphcc_kind__": np.array("dict")})
    np.testing.assert_array_equal(nd.load(old)["w"].asnumpy(), np.arange(4.0))
