"""Autograd: a tape of recorded op calls, differentiated with the ops' gradient rules.

While ``record()`` is on, every op call that reads a value needing a gradient appends a
``TapeNode`` (the op row, its attributes, links to the nodes that produced its inputs, and only
the forward values its gradient rule declared in ``needs``). The tape is a DAG of such nodes: a
graph. ``backward`` walks it in reverse topological order and applies the same gradient rules
the compiler's gradient pass uses, with ``F`` bound to the eager ``nd`` namespace; with
``create_graph=True`` the rules themselves are recorded, which gives higher-order gradients.
Custom nodes (``Function`` and hybridized blocks) carry their own backward callable.
"""
from __future__ import annotations

import contextlib
import itertools
import threading
import weakref

from ..errors import AutogradError
from ..ops.registry import GradCtx

_state = threading.local()


def _get(name, default=False):
    return getattr(_state, name, default)


def is_recording() -> bool:
    return _get("recording")


def is_training() -> bool:
    return _get("training")


def set_recording(flag: bool) -> bool:
    old = is_recording()
    _state.recording = bool(flag)
    return old


def set_training(flag: bool) -> bool:
    old = is_training()
    _state.training = bool(flag)
    return old


@contextlib.contextmanager
def _scope(recording, training):
    old_r = set_recording(recording) if recording is not None else None
    old_t = set_training(training) if training is not None else None
    try:
        yield
    finally:
        if recording is not None:
            set_recording(old_r)
        if training is not None:
            set_training(old_t)


def record(train_mode: bool = True):
    """Record op calls for backward; ``train_mode`` also switches Dropout/BatchNorm to training."""
    return _scope(True, train_mode)


def pause(train_mode: bool = False):
    return _scope(False, train_mode)


def train_mode():
    return _scope(None, True)


def predict_mode():
    return _scope(None, False)


# ---------------------------------------------------------------- tape nodes


class Leaf:
    """A variable: an array that receives a gradient (``attach_grad``/``mark_variables``)."""
    __slots__ = ("array", "grad_req", "__weakref__")

    def __init__(self, array, grad_req):
        self.array = weakref.ref(array)
        self.grad_req = grad_req


class TapeNode:
    """One recorded call. ``parents[i]`` is (node or Leaf, output index) or None for a constant."""
    __slots__ = ("op", "attrs", "parents", "inputs", "out", "in_types", "out_types", "backward_fn",
                 "freed", "name", "on_backward", "seq")
    _counter = itertools.count()

    def __init__(self, op, attrs, parents, inputs, out, in_types, out_types, backward_fn=None,
                 name=""):
        self.op = op                    # op row (None for custom nodes)
        self.attrs = attrs
        self.parents = parents
        self.inputs = inputs            # saved input arrays (None where not needed)
        self.out = out                  # saved output array (None where not needed)
        self.in_types = in_types
        self.out_types = out_types
        self.backward_fn = backward_fn  # custom: (out_grads, retain_graph) -> in_grads
        self.freed = False
        self.name = name or (op.name if op is not None else "custom")
        self.on_backward = None         # side effect when backward reaches this node
        self.seq = next(TapeNode._counter)   # creation order: a topological order


def _entry(arr):
    node = arr._ag_node
    return None if node is None else (node, arr._ag_index)


def needs_grad(arrays) -> bool:
    return any(a is not None and getattr(a, "_ag_node", None) is not None for a in arrays)


def record_op(op, attrs, inputs, result, in_types, out_type):
    """Append the call ``result = op(*inputs)`` to the tape (inputs are NDArrays)."""
    needs = op.needs
    saved = tuple(x if i in needs else None for i, x in enumerate(inputs))
    node = TapeNode(op, attrs, tuple(_entry(x) for x in inputs), saved,
                    result if "out" in needs else None, in_types, (out_type,))
    result._ag_node, result._ag_index = node, 0
    return node


def record_custom(name, inputs, outputs, backward_fn):
    """Append a node whose backward is ``backward_fn(out_grads, retain_graph) -> in_grads``
    (``retain_graph``: another backward through this node may follow)."""
    node = TapeNode(None, {}, tuple(_entry(x) for x in inputs), None, None,
                    tuple(x._type for x in inputs), tuple(o._type for o in outputs),
                    backward_fn=backward_fn, name=name)
    for i, o in enumerate(outputs):
        o._ag_node, o._ag_index = node, i
    return node


def mark_variables(variables, gradients, grad_reqs="write"):
    """Mark arrays as variables whose gradients are written into ``gradients``."""
    from .ndarray import NDArray
    if isinstance(variables, NDArray):
        variables, gradients = [variables], [gradients]
    if isinstance(grad_reqs, str):
        grad_reqs = [grad_reqs] * len(variables)
    for v, g, r in zip(variables, gradients, grad_reqs):
        if r not in ("write", "add", "null", "inplace"):
            raise AutogradError(f"grad_req must be 'write', 'add' or 'null', got {r!r}")
        v._grad = g
        v._grad_req = "write" if r == "inplace" else r
        v._ag_node = Leaf(v, v._grad_req) if r != "null" else None
        v._ag_index = 0


# ---------------------------------------------------------------- backward


_NOT_RECORDED = (
    "Cannot differentiate node because it is not in a computational graph. You need to set "
    "is_recording to true or use autograd.record() to save computational graphs for backward. "
    "If you want to differentiate the same graph twice, you need to pass retain_graph=True to "
    "backward.")


def _topo(heads):
    """The tape nodes reachable from ``heads``, in creation order (so backward visits them
    in reverse call order, as MXNet does)."""
    order, seen = [], set()
    for h in heads:
        if not isinstance(h, TapeNode) or id(h) in seen:
            continue
        stack = [(h, False)]
        while stack:
            node, done = stack.pop()
            if done:
                order.append(node)
                continue
            if id(node) in seen:
                continue
            seen.add(id(node))
            stack.append((node, True))
            for p in node.parents:
                if p is not None and isinstance(p[0], TapeNode) and id(p[0]) not in seen:
                    stack.append((p[0], False))
    order.sort(key=lambda n: n.seq)
    return order


def _accumulate(store, key, g, F):
    old = store.get(key)
    store[key] = g if old is None else F.add(old, g)


def _run(heads, head_grads, retain_graph, create_graph, train_mode):
    """Propagate gradients from heads; return {id(leaf): (leaf, grad)} and the leaves seen."""
    from . import nd as F
    from .ndarray import NDArray

    if isinstance(heads, NDArray):
        heads = [heads]
    if head_grads is None or isinstance(head_grads, NDArray):
        head_grads = [head_grads] * len(heads) if head_grads is None else [head_grads]
    if len(head_grads) != len(heads):
        raise AutogradError(f"{len(heads)} heads but {len(head_grads)} head gradients")
    grads: dict = {}
    for h, hg in zip(heads, head_grads):
        if h._ag_node is None:
            raise AutogradError(_NOT_RECORDED)
        if hg is None:
            hg = F.ones_like(h)
        elif tuple(hg.shape) != tuple(h.shape):
            raise AutogradError(f"head gradient of shape {hg.shape} does not match head "
                                f"{h.shape}")
        _accumulate(grads, (id(h._ag_node), h._ag_index), hg, F)
    nodes = _topo([h._ag_node for h in heads])
    leaves: dict = {}
    # leaves whose gradient comes from exactly one place: a compiled backward may write it
    # straight into the leaf's gradient buffer (grad_req "write")
    refs: dict = {}
    for h in heads:
        refs[id(h._ag_node)] = refs.get(id(h._ag_node), 0) + 1
    for node in nodes:
        for p in node.parents:
            if p is not None:
                refs[id(p[0])] = refs.get(id(p[0]), 0) + 1
    with _scope(create_graph, train_mode):
        for h in heads:
            if isinstance(h._ag_node, Leaf):
                leaves[id(h._ag_node)] = h._ag_node
        for node in reversed(nodes):
            outs = [grads.pop((id(node), i), None) for i in range(len(node.out_types))]
            for p in node.parents:
                if p is not None and isinstance(p[0], Leaf):
                    leaves[id(p[0])] = p[0]
            if all(g is None for g in outs):
                continue
            if node.freed:
                raise AutogradError(
                    f"the graph through {node.name} was freed by an earlier backward(); pass "
                    "retain_graph=True to the first backward to differentiate it twice")
            dests = None
            if not create_graph and getattr(node.backward_fn, "accepts_dests", False):
                dests = [_grad_dest(p, refs) for p in node.parents]
            in_grads = _node_backward(node, outs, F, retain_graph, dests)
            if node.on_backward is not None:
                with _scope(False, train_mode):
                    node.on_backward()
                if not retain_graph:
                    node.on_backward = None
            for p, ig in zip(node.parents, in_grads):
                if p is None or ig is None:
                    continue
                _accumulate(grads, (id(p[0]), p[1]), ig, F)
            if not retain_graph:
                node.freed = True
                node.inputs, node.out = None, None
    leaf_grads = {k: grads.get((k, 0)) for k in leaves}
    return leaves, leaf_grads


def _grad_dest(parent, refs):
    """The gradient buffer a backward may write a parent's gradient into, or None."""
    if parent is None or not isinstance(parent[0], Leaf) or refs.get(id(parent[0])) != 1:
        return None
    leaf = parent[0]
    arr = leaf.array()
    if arr is None or leaf.grad_req != "write" or arr._grad is None:
        return None
    return arr._grad._data


def _node_backward(node, outs, F, retain_graph, dests=None):
    if node.backward_fn is not None:
        filled = [g if g is not None else F.zeros(shape=t.shape, dtype=t.dtype)
                  for g, t in zip(outs, node.out_types)]
        res = node.backward_fn(filled, retain_graph) if dests is None else \
            node.backward_fn(filled, retain_graph, dests)
        res = list(res) if isinstance(res, (list, tuple)) else [res]
        from .ndarray import NDArray
        for k, (g, t) in enumerate(zip(res, node.in_types)):
            if g is not None and (not isinstance(g, NDArray) or tuple(g.shape) != t.shape):
                what = f"shape {tuple(g.shape)}" if isinstance(g, NDArray) else \
                    f"a {type(g).__name__}"
                raise AutogradError(f"{node.name}.backward returned {what} as the gradient of "
                                    f"input {k}, which has shape {t.shape}")
        return res
    op = node.op
    if op.grad is None:
        raise AutogradError(f"{op.name} has no gradient rule: it cannot be differentiated")
    ctx = GradCtx(F, outs[0], node.inputs, node.out, node.in_types, node.out_types[0],
                  dict(node.attrs))
    res = op.grad(ctx)
    if len(res) != len(node.parents):
        raise AutogradError(f"gradient rule of {op.name} returned {len(res)} gradients for "
                            f"{len(node.parents)} inputs")
    return res


def backward(heads, head_grads=None, retain_graph=False, train_mode=True, create_graph=False):
    """Compute the gradients of ``heads`` and store them in the variables' ``.grad``."""
    leaves, leaf_grads = _run(heads, head_grads, retain_graph, create_graph, train_mode)
    from . import nd as F
    for k, leaf in leaves.items():
        arr = leaf.array()
        if arr is None or leaf.grad_req == "null" or arr._grad is None:
            continue
        arr._fresh_grad = True
        g = leaf_grads.get(k)
        if g is None:
            if leaf.grad_req == "write":
                arr._grad._data[...] = 0
            continue
        if leaf.grad_req == "add":
            arr._grad._data += g._data
        elif g._data is not arr._grad._data:     # (a compiled backward may have written it)
            arr._grad._data[...] = g._data
        if create_graph and g._ag_node is not None:
            arr._grad._ag_node, arr._grad._ag_index = g._ag_node, g._ag_index
    del F


def grad(heads, variables, head_grads=None, retain_graph=None, create_graph=False,
         train_mode=True):
    """Return the gradients of ``heads`` with respect to ``variables`` (as new arrays)."""
    from . import nd as F
    from .ndarray import NDArray
    single = isinstance(variables, NDArray)
    variables = [variables] if single else list(variables)
    for v in variables:
        if not isinstance(v._ag_node, Leaf):
            raise AutogradError("autograd.grad: every variable must have a gradient attached "
                                "(call attach_grad() before recording)")
    if retain_graph is None:
        retain_graph = create_graph
    leaves, leaf_grads = _run(heads, head_grads, retain_graph, create_graph, train_mode)
    out = []
    for v in variables:
        g = leaf_grads.get(id(v._ag_node))
        out.append(g if g is not None else F.zeros_like(v))
    return out


def get_symbol(x):
    """The recorded computation that produced ``x``, as a graph (``graphcc.ir.Graph``)."""
    from ..ir.tape import tape_to_graph
    return tape_to_graph(x)


class Function:
    """A custom differentiable function: override ``forward`` and ``backward``.

    ``forward(*inputs)`` runs with recording paused; ``backward(*output_grads)`` returns one
    gradient per input. ``save_for_backward`` keeps arrays for ``backward``.
    """

    def __init__(self):
        self._saved = ()

    def save_for_backward(self, *args):
        self._saved = args

    @property
    def saved_tensors(self):
        return self._saved

    def forward(self, *inputs):
        raise NotImplementedError

    def backward(self, *output_grads):
        raise NotImplementedError

    def __call__(self, *inputs):
        from .ndarray import NDArray
        with pause(is_training()):
            outputs = self.forward(*inputs)
        single = isinstance(outputs, NDArray)
        outs = [outputs] if single else list(outputs)
        if is_recording() and needs_grad(inputs):
            outs = [o.copy() if o._ag_node is not None else o for o in outs]

            def bwd(out_grads, retain_graph):
                if is_recording():          # autograd.grad(..., create_graph=True)
                    raise AutogradError(
                        f"{type(self).__name__}: create_graph=True (higher-order gradients) "
                        "cannot go through a custom autograd.Function: its backward is not "
                        "differentiated")
                with pause(is_training()):
                    res = self.backward(*out_grads)
                res = [res] if isinstance(res, NDArray) else list(res)
                if len(res) != len(inputs):
                    raise AutogradError(f"{type(self).__name__}.backward returned {len(res)} "
                                        f"gradients for {len(inputs)} inputs")
                return res
            record_custom(type(self).__name__, inputs, outs, bwd)
        return outs[0] if single else outs
