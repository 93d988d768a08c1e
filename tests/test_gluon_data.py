"""gluon.data: datasets, samplers, DataLoader batching and last_batch modes."""
import numpy as np
import pytest

import graphcc as mx
from graphcc import gluon, nd
from graphcc.errors import GraphccError

D = gluon.data


def test_array_dataset_numpy_and_ndarray_columns():
    x = np.arange(12, dtype=np.float32).reshape(6, 2)
    y = nd.array([0, 1, 0, 1, 1, 0])
    ds = D.ArrayDataset(x, y)
    assert len(ds) == 6
    a, b = ds[4]
    np.testing.assert_array_equal(a, [8, 9])
    assert not isinstance(b, nd.NDArray) and b == 1.0       # 1-D NDArray -> NumPy scalar
    single = D.ArrayDataset(nd.array(x))
    assert isinstance(single[1], nd.NDArray)
    np.testing.assert_array_equal(single[1].asnumpy(), [2, 3])
    with pytest.raises(ValueError, match="same length"):
        D.ArrayDataset(x, [1, 2])
    with pytest.raises(GraphccError):
        D.ArrayDataset()


def test_simple_dataset_transform_and_transform_first():
    ds = D.SimpleDataset([(1, "a"), (2, "b"), (3, "c")])
    assert len(ds) == 3 and ds[1] == (2, "b")
    both = ds.transform(lambda x, y: (x * 10, y + "!"))
    assert both[2] == (30, "c!")
    first = ds.transform_first(lambda x: x + 100)
    assert [first[i] for i in range(3)] == [(101, "a"), (102, "b"), (103, "c")]
    calls = []

    def fn(x):
        calls.append(x)
        return -x
    eager = D.SimpleDataset([1, 2]).transform(fn, lazy=False)
    assert calls == [1, 2] and isinstance(eager, D.SimpleDataset)
    assert eager[0] == -1 and calls == [1, 2]          # not transformed again
    lazy = D.SimpleDataset([1, 2]).transform_first(fn)
    assert calls == [1, 2] and lazy[1] == -2 and calls == [1, 2, 2]


def test_dataset_filter_shard_take():
    ds = D.SimpleDataset(list(range(10)))
    evens = ds.filter(lambda v: v % 2 == 0)
    assert [evens[i] for i in range(len(evens))] == [0, 2, 4, 6, 8]
    shards = [ds.shard(3, i) for i in range(3)]
    assert [len(s) for s in shards] == [4, 3, 3]
    assert [shards[1][i] for i in range(3)] == [4, 5, 6]
    assert len(ds.take(4)) == 4 and len(ds.take(None)) == 10 and len(ds.take(50)) == 10


def test_samplers():
    assert list(D.SequentialSampler(4)) == [0, 1, 2, 3]
    assert list(D.SequentialSampler(3, start=5)) == [5, 6, 7]
    mx.random.seed(3)
    r = list(D.RandomSampler(10))
    assert sorted(r) == list(range(10)) and len(D.RandomSampler(10)) == 10
    assert all(isinstance(i, int) for i in r)
    seq = D.SequentialSampler(10)
    assert list(D.BatchSampler(seq, 3, "keep")) == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    assert len(D.BatchSampler(seq, 3, "keep")) == 4
    assert list(D.BatchSampler(seq, 3, "discard")) == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    assert len(D.BatchSampler(seq, 3, "discard")) == 3
    roll = D.BatchSampler(seq, 3, "rollover")
    assert len(roll) == 3
    assert list(roll) == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    assert len(roll) == 3                                # 1 left over + 10 -> 3 full batches
    assert list(roll) == [[9, 0, 1], [2, 3, 4], [5, 6, 7]]
    assert list(roll)[0] == [8, 9, 0]
    with pytest.raises(ValueError, match="last_batch must be one of"):
        D.BatchSampler(seq, 3, "pad")
    ds = D.SimpleDataset([5, 1, 7, 2])
    assert list(D.FilterSampler(lambda v: v > 2, ds)) == [0, 2]


def test_dataloader_batches_and_dtypes():
    x = np.arange(20, dtype=np.float32).reshape(10, 2)
    y = np.arange(10)
    loader = D.DataLoader(D.ArrayDataset(x, y), batch_size=4)
    assert len(loader) == 3
    batches = list(loader)
    assert [b[0].shape for b in batches] == [(4, 2), (4, 2), (2, 2)]
    data, label = batches[1]
    assert isinstance(data, nd.NDArray) and data.dtype == np.float32
    assert label.dtype == y.dtype                         # the NumPy dtype is kept
    np.testing.assert_array_equal(data.asnumpy(), x[4:8])
    np.testing.assert_array_equal(label.asnumpy(), y[4:8])
    # NDArray samples are stacked; scalars become a 1-D array
    nd_loader = D.DataLoader(D.SimpleDataset([nd.ones((2, 3)) * i for i in range(5)]),
                             batch_size=2, last_batch="discard")
    got = list(nd_loader)
    assert len(got) == len(nd_loader) == 2 and got[1].shape == (2, 2, 3)
    np.testing.assert_array_equal(got[1].asnumpy()[:, 0, 0], [2, 3])
    scal = list(D.DataLoader([0.5, 1.5, 2.5], batch_size=3))[0]
    np.testing.assert_array_equal(scal.asnumpy(), [0.5, 1.5, 2.5])
    assert scal.dtype == np.float64                      # as MXNet: the NumPy dtype


def test_dataloader_last_batch_modes():
    ds = D.SimpleDataset(list(range(7)))
    keep = [b.asnumpy().tolist() for b in D.DataLoader(ds, 3)]
    assert keep == [[0, 1, 2], [3, 4, 5], [6]]
    discard = D.DataLoader(ds, 3, last_batch="discard")
    assert len(discard) == 2 and [b.asnumpy().tolist() for b in discard][-1] == [3, 4, 5]
    roll = D.DataLoader(ds, 3, last_batch="rollover")
    first = [b.asnumpy().tolist() for b in roll]
    second = [b.asnumpy().tolist() for b in roll]
    assert first == [[0, 1, 2], [3, 4, 5]]
    assert second == [[6, 0, 1], [2, 3, 4]]


def test_dataloader_shuffle_reproducible_with_seed():
    ds = D.ArrayDataset(np.arange(20, dtype=np.float32))

    def epoch():
        return np.concatenate([b.asnumpy() for b in D.DataLoader(ds, 6, shuffle=True)])
    mx.random.seed(42)
    a = epoch()
    mx.random.seed(42)
    b = epoch()
    c = epoch()
    np.testing.assert_array_equal(a, b)
    assert sorted(a.tolist()) == list(range(20))
    assert not np.array_equal(a, np.arange(20)) and not np.array_equal(b, c)


def test_dataloader_options():
    ds = D.ArrayDataset(np.arange(6, dtype=np.float32), np.arange(6, dtype=np.float32) * 2)
    custom = D.DataLoader(ds, 2, batchify_fn=lambda samples: [s[1] for s in samples])
    assert list(custom)[0] == [0.0, 2.0]
    bs = D.BatchSampler(D.SequentialSampler(6), 4, "keep")
    via_bs = D.DataLoader(ds, batch_sampler=bs, num_workers=2, thread_pool=True)
    assert [len(b[0]) for b in via_bs] == [4, 2]
    sampled = D.DataLoader(ds, 3, sampler=D.SequentialSampler(3, start=3))
    np.testing.assert_array_equal(list(sampled)[0][0].asnumpy(), [3, 4, 5])
    pinned = list(D.DataLoader(ds, 3, pin_memory=True))[0]
    assert pinned[0].context == mx.cpu_pinned(0)
    with pytest.raises(ValueError, match="batch_size must be specified"):
        D.DataLoader(ds)
    with pytest.raises(ValueError, match="must not be specified if batch_sampler"):
        D.DataLoader(ds, 2, batch_sampler=bs)
    with pytest.raises(ValueError, match="shuffle must not be specified"):
        D.DataLoader(ds, 2, shuffle=True, sampler=D.SequentialSampler(6))


def test_transform_first_in_a_loader():
    x = np.arange(8, dtype=np.float32).reshape(4, 2)
    ds = D.ArrayDataset(x, np.array([0, 1, 0, 1])).transform_first(lambda v: v * 2)
    data, label = next(iter(D.DataLoader(ds, batch_size=4)))
    np.testing.assert_array_equal(data.asnumpy(), x * 2)
    np.testing.assert_array_equal(label.asnumpy(), [0, 1, 0, 1])
