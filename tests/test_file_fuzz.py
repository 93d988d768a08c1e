"""Damaged and tampered files: loading either succeeds or raises a GraphccError naming the
file's problem, never a raw Python exception. Inputs are MXNet 1.9.1's own files (written by
MXNet, in tests/mxnet_ref) and graphcc's, mutated by hypothesis."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from graphcc import nd, sym
from graphcc.errors import GraphccError

REF = Path(__file__).resolve().parent / "mxnet_ref"
SYMBOLS = [REF / "export" / f for f in ("mlp-symbol.json", "lenet-symbol.json")]
PARAMS = [REF / "export" / "mlp-0000.params", REF / "gluon_params" / "arrays.nd"]

JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-3, 10 ** 6), st.text(max_size=5),
              st.floats(allow_nan=False, allow_infinity=False)),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.text(max_size=4), inner, max_size=3)),
    max_leaves=6)


def _paths(doc, prefix=()):
    """Every (path) to a value inside a JSON document."""
    yield prefix
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _paths(v, prefix + (i,))


def _set(doc, path, value):
    if not path:
        return value
    node = doc
    for p in path[:-1]:
        node = node[p]
    node[path[-1]] = value
    return doc


@settings(max_examples=60)
@given(data=st.data())
def test_tampered_symbol_json_loads_or_raises_a_graphcc_error(data):
    src = data.draw(st.sampled_from(SYMBOLS))
    doc = json.loads(src.read_text())
    for _ in range(data.draw(st.integers(1, 3))):
        paths = list(_paths(doc))
        path = data.draw(st.sampled_from(paths))
        doc = _set(doc, path, data.draw(JSON_VALUES))
    text = json.dumps(doc)
    try:
        s = sym.load_json(text)
    except GraphccError:
        return
    s.list_arguments()          # what loaded is usable


def _mutate(raw: bytes, data) -> bytes:
    how = data.draw(st.sampled_from(["flip", "truncate", "insert", "int64"]))
    pos = data.draw(st.integers(0, max(0, len(raw) - 1)))
    if how == "flip":
        return raw[:pos] + bytes([raw[pos] ^ data.draw(st.integers(1, 255))]) + raw[pos + 1:]
    if how == "truncate":
        return raw[:pos]
    if how == "insert":
        return raw[:pos] + data.draw(st.binary(min_size=1, max_size=8)) + raw[pos:]
    value = data.draw(st.sampled_from([-1, -(2 ** 40), 2 ** 62, 0]))   # a size or dim
    pos -= pos % 8
    return raw[:pos] + int(value).to_bytes(8, "little", signed=True) + raw[pos + 8:]


@settings(max_examples=80)
@given(data=st.data())
def test_damaged_parameter_files_load_or_raise_a_graphcc_error(tmp_path_factory, data):
    src = data.draw(st.sampled_from(PARAMS + ["graphcc"]))
    d = tmp_path_factory.mktemp("fuzz")
    if src == "graphcc":
        nd.save(str(d / "ours.nd"), {"w": nd.array(np.arange(6.0).reshape(2, 3))})
        src = d / "ours.nd"
    raw = _mutate(Path(src).read_bytes(), data)
    f = d / "damaged.params"
    f.write_bytes(raw)
    try:
        loaded = nd.load(str(f))
    except GraphccError as e:
        assert str(f) in str(e) or "damaged" in str(e) or "not" in str(e)
        return
    assert isinstance(loaded, (dict, list))


def test_a_npy_file_is_named_as_such(tmp_path):
    f = tmp_path / "a.npy"
    np.save(f, np.ones(3))
    with pytest.raises(GraphccError, match="one NumPy array"):
        nd.load(str(f))


def test_malformed_symbol_documents():
    doc = json.loads(SYMBOLS[0].read_text())
    bad = [json.dumps(dict(doc, heads=[[len(doc["nodes"]) + 5, 0, 0]])),
           json.dumps(dict(doc, heads=[[-1, 0, 0]])),
           json.dumps(dict(doc, nodes=["oops"] + doc["nodes"][1:])),
           "[" * 100000 + "]" * 100000]
    for text in bad:
        with pytest.raises(GraphccError):
            sym.load_json(text)
    assert os.path.exists(SYMBOLS[0])


def test_a_states_file_may_hold_only_what_states_files_hold():
    """Trainer.load_states unpickles: only optimizers, schedules, arrays and plain data may
    come back, not any graphcc class (a Parameter or an initializer is refused)."""
    import pickle

    from graphcc.gluon.parameter import Parameter
    from graphcc.initializer import Uniform
    from graphcc.optimizer import loads_states
    for obj in (Parameter("w", shape=(2,)), Uniform(0.1)):
        with pytest.raises(GraphccError, match="not allowed"):
            loads_states(pickle.dumps(obj))
    back = loads_states(pickle.dumps({"m": nd.ones((2,)), "lr": 0.1}))
    np.testing.assert_array_equal(back["m"].asnumpy(), [1.0, 1.0])
