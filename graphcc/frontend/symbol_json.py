"""MXNet 1.x symbol JSON: ``Symbol.tojson()`` / ``sym.load_json()``.

The layout is MXNet's (``nodes``, ``arg_nodes``, ``node_row_ptr``, ``heads``, ``attrs`` with
``mxnet_version``): variables are ``"op": "null"`` nodes, every other node names its op as
MXNet spells it, attribute values are strings as MXNet's Python frontend writes them (``str``
of the value: ``"(3, 3)"``, ``"True"``), and only attributes that differ from the op's
default are written. Export works on the op-level view of the symbol (symbol_graph.py):
composite ops are written as the op the user called (``Dropout``, ``SliceChannel``), tracer
attributes (``training``) are dropped, and attributes are kept as given, so reshape codes
such as ``shape=(0, -1)`` survive and an imported model runs at any batch size.

Import reads our files and MXNet's own exports: op names resolve through the registry's
aliases (``elemwise_add``, ``_plus_scalar``, ``Reshape``...), a few MXNet-only spellings are
converted (``_split_v2``, ``add_n``), and ops graphcc does not have are reported together,
with the nodes that use them.
"""
from __future__ import annotations

import ast
import functools
import json

from ..errors import GraphccError, UnknownOpError
from ..ir.types import canon_dtype
from ..ops import registry
from .symbol_graph import INTERNAL_ATTRS, LNode, aux_indices, logical, run

MXNET_VERSION = 10901

# MXNet's type flags (mshadow) for ``__dtype__``
DTYPE_CODES = {"float32": 0, "float64": 1, "float16": 2, "uint8": 3, "int32": 4, "int8": 5,
               "int64": 6, "bool": 7, "bfloat16": 12}
CODE_DTYPES = {v: k for k, v in DTYPE_CODES.items()}

# our op name -> the name MXNet writes in its JSON (same name when absent)
EXPORT_NAMES = {
    "add": "broadcast_add", "subtract": "broadcast_sub", "multiply": "broadcast_mul",
    "divide": "broadcast_div", "power": "broadcast_power", "maximum": "broadcast_maximum",
    "minimum": "broadcast_minimum", "mod": "broadcast_mod", "hypot": "broadcast_hypot",
    "equal": "broadcast_equal", "not_equal": "broadcast_not_equal",
    "greater": "broadcast_greater", "greater_equal": "broadcast_greater_equal",
    "lesser": "broadcast_lesser", "lesser_equal": "broadcast_lesser_equal",
    "logical_and": "broadcast_logical_and", "logical_or": "broadcast_logical_or",
    "logical_xor": "broadcast_logical_xor",
    "zeros": "_zeros", "ones": "_ones", "full": "_full", "arange": "_arange", "eye": "_eye",
    "linalg_gemm2": "_linalg_gemm2", "cast": "Cast", "stop_gradient": "BlockGrad",
    "flatten": "Flatten", "concat": "Concat", "reshape": "Reshape", "swapaxes": "SwapAxis",
    "split": "SliceChannel", "flip": "reverse", "pad": "Pad", "_reshape_to": "Reshape",
}
# attributes written even when they equal our default: MXNet requires them, or MXNet's
# frontend always writes them (the scalar of ``x + 1``)
ALWAYS_WRITTEN = {"arange": ("start",), "split_v2": ("axis",), "*": ("scalar",)}
# attributes MXNet writes for some ops that mean nothing to graphcc (dropped on import)
IGNORED_ON_IMPORT = {"ctx"}
LEGACY_DEFAULTS = {"target_shape": ("()", "[]"), "keep_highest": ("False", "0", "false")}


# ---------------------------------------------------------------- attribute strings


def fmt(v) -> str:
    """An attribute value as MXNet's Python frontend writes it (``str`` of the value)."""
    if isinstance(v, str):
        return v
    if hasattr(v, "item") and not isinstance(v, (list, tuple)):
        v = v.item()
    if isinstance(v, list):
        v = tuple(v)
    if isinstance(v, tuple):
        return str(tuple(x.item() if hasattr(x, "item") else x for x in v))
    return str(v)


def _dtype_code(v) -> str:
    s = fmt(v)
    if s.isdigit():
        return s
    return str(DTYPE_CODES[canon_dtype(v)])


def _var_attrs(ln: LNode) -> dict:
    """The attributes of a variable node: from its Parameter when it stands for one."""
    node = ln.var
    param = getattr(node, "param", None) if node is not None else None
    if param is not None:
        shape = tuple(param.shape) if param.shape is not None else None
        if node.type is not None:
            shape = tuple(node.type.shape)
        out = {}
        if shape is not None:
            out["__shape__"] = fmt(shape)
        out["__dtype__"] = _dtype_code(param.dtype)
        if isinstance(param.init, str):
            out["__init__"] = param.init
        elif param.init is not None and hasattr(param.init, "dumps"):
            out["__init__"] = param.init.dumps()
        out["__lr_mult__"] = fmt(float(param.lr_mult))
        out["__storage_type__"] = "0"
        out["__wd_mult__"] = fmt(float(param.wd_mult))
        return dict(sorted(out.items()))
    out = {}
    for k, v in ln.attrs.items():
        if v is None:
            continue
        if k == "__dtype__":
            out[k] = _dtype_code(v)
        elif k == "__init__" and not isinstance(v, str) and hasattr(v, "dumps"):
            out[k] = v.dumps()
        else:
            out[k] = fmt(v)
    return dict(sorted(out.items()))


def _export_op(ln: LNode) -> tuple[str, dict]:
    op = ln.op
    attrs = {}
    for k, v in ln.attrs.items():
        a = op.attrs.get(k)
        if k in INTERNAL_ATTRS or a is None:
            continue
        if a.default is registry.REQUIRED or k in ALWAYS_WRITTEN.get(op.name, ()) or \
                k in ALWAYS_WRITTEN["*"] or not _same(v, a.default):
            attrs[k] = v
    if op.variadic:
        attrs["num_args"] = len(ln.inputs)
    name = EXPORT_NAMES.get(op.name, op.name)
    if op.name == "softrelu":
        name, attrs = "Activation", {"act_type": "softrelu"}
    elif op.name == "gelu" and ln.attrs.get("approximation", "erf") == "erf":
        name, attrs = "LeakyReLU", {"act_type": "gelu"}
    elif op.name == "split_v2":
        ios = ln.attrs["indices_or_sections"]
        attrs = {k: v for k, v in attrs.items() if k != "indices_or_sections"}
        if isinstance(ios, (tuple, list)):
            attrs.update(indices=(0,) + tuple(ios), sections=0)
        else:
            attrs.update(indices=(), sections=int(ios))
        name = "_split_v2"
    return name, {k: fmt(v) for k, v in sorted(attrs.items())}


def _same(v, default) -> bool:
    try:
        return bool(v == default)
    except (TypeError, ValueError):
        return False


# ---------------------------------------------------------------- export


def to_mxnet_json(symbol) -> str:
    """The MXNet 1.x JSON text of ``symbol`` (loadable by ``mx.sym.load_json`` in MXNet)."""
    nodes, heads = logical(symbol._nodes)
    consts = [ln for ln in nodes if ln.is_var and ln.var is not None and ln.var.role == "const"]
    if consts:
        raise GraphccError(
            "cannot write symbol JSON: the graph holds NDArray constants captured while it was "
            f"built ({', '.join(_describe_const(ln) for ln in consts)}); MXNet's format has "
            "no place for array values. Make them Parameters (params.get_constant) or inputs")
    aux = aux_indices(nodes)
    out_nodes = []
    for ln in nodes:
        if ln.is_var:
            d = {"op": "null", "name": ln.name}
            attrs = _var_attrs(ln)
        else:
            name, attrs = _export_op(ln)
            d = {"op": name, "name": ln.name}
        if attrs:
            d["attrs"] = attrs
        mutated = set(getattr(ln.op, "aux_inputs", ()))
        d["inputs"] = [[j, k, 1 if pos in mutated and j in aux else 0]
                       for pos, (j, k) in enumerate(ln.inputs)]
        out_nodes.append(d)
    row_ptr = [0]
    for ln in nodes:
        row_ptr.append(row_ptr[-1] + ln.n_out)
    arg_nodes = [i for i, ln in enumerate(nodes) if ln.is_var]
    return _dumps(out_nodes, arg_nodes, row_ptr, [[j, k, 0] for j, k in heads])


def _dumps(nodes, arg_nodes, row_ptr, heads) -> str:
    """MXNet's layout, one line per field: easy to read and to diff."""
    def node_text(d):
        fields = [f'"op": {json.dumps(d["op"])}', f'"name": {json.dumps(d["name"])}']
        if "attrs" in d:
            fields.append(f'"attrs": {json.dumps(d["attrs"])}')
        fields.append(f'"inputs": {json.dumps(d["inputs"])}')
        return "    {\n      " + ", \n      ".join(fields) + "\n    }"
    return ("{\n  \"nodes\": [\n" + ", \n".join(node_text(d) for d in nodes) + "\n  ], \n"
            f'  "arg_nodes": {json.dumps(arg_nodes)}, \n'
            f'  "node_row_ptr": {json.dumps(row_ptr)}, \n'
            f'  "heads": {json.dumps(heads)}, \n'
            f'  "attrs": {{"mxnet_version": ["int", {MXNET_VERSION}]}}\n}}')


def _describe_const(ln: LNode) -> str:
    v = ln.var
    t = v.type
    shape = f"shape {tuple(t.shape)} {t.dtype}" if t is not None else "unknown shape"
    return f"{ln.name}: an NDArray of {shape}" + (f" captured at {v.loc}" if v.loc else "")


# ---------------------------------------------------------------- import


def _add_n(F, inputs, attrs):
    return functools.reduce(lambda a, b: F.add(a, b), inputs)


IMPORT_MACROS = {"add_n": _add_n, "ElementWiseSum": _add_n, "_internal._plus": _add_n}


def _import_attrs(opname, op, attrs: dict, node_name) -> dict:
    out = {}
    for k, v in attrs.items():
        if k in IGNORED_ON_IMPORT or k.startswith("__"):
            continue
        if k in LEGACY_DEFAULTS and k not in op.attrs:
            if str(v) not in LEGACY_DEFAULTS[k]:
                raise GraphccError(f"symbol JSON node {node_name!r} ({opname}): attribute "
                                   f"{k}={v!r} (legacy MXNet) is not supported")
            continue
        out[k] = v
    if opname == "_split_v2":
        sections = int(out.pop("sections", 0) or 0)
        indices = ast.literal_eval(str(out.pop("indices", "()")) or "()")
        out["indices_or_sections"] = sections if sections > 0 else tuple(indices)[1:]
    if op.variadic:
        out.pop("num_args", None)
    if op.name in ("zeros", "ones", "full") and "shape" in out:
        shape = registry.get(op.name).attrs["shape"].parse(op.name, "shape", out["shape"])
        if 0 in shape:       # MXNet infers such dims from the consumers; graphcc cannot
            raise GraphccError(
                f"symbol JSON node {node_name!r} ({opname}): shape {tuple(shape)} has a 0 "
                "(a dimension MXNet infers from the nodes that use it, as in begin states "
                "made with batch_size=0); graphcc needs it known: export with the states "
                "passed as inputs")
    return out


def _resolve(opname):
    if opname in IMPORT_MACROS:
        return IMPORT_MACROS[opname]
    if opname == "_split_v2":
        return registry.get("split_v2")
    return registry.get(opname)


def _make_var(name, attrs: dict):
    from .symbol import var
    attrs = {k: str(v) for k, v in attrs.items()}
    shape = dtype = None
    if "__shape__" in attrs:
        try:
            shape = tuple(int(d) for d in ast.literal_eval(attrs.pop("__shape__")))
        except (ValueError, SyntaxError, TypeError):
            raise GraphccError(f"symbol JSON variable {name!r}: bad __shape__") from None
    if "__dtype__" in attrs:
        code = attrs.pop("__dtype__")
        dtype = CODE_DTYPES.get(int(code)) if code.lstrip("-").isdigit() else code
        if dtype is None:
            raise GraphccError(f"symbol JSON variable {name!r}: unknown __dtype__ {code}")
    return var(name, attr=attrs, shape=shape, dtype=dtype)._nodes[0]


def parse(text) -> tuple[list[LNode], list[tuple[int, int]]]:
    """The op-level graph of an MXNet symbol JSON document."""
    try:
        doc = json.loads(text)
    except (ValueError, TypeError) as e:
        raise GraphccError(f"not a symbol JSON document: {e}") from None
    except RecursionError:
        raise GraphccError("not a symbol JSON document: nested too deeply") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("nodes"), list) or \
            not isinstance(doc.get("heads"), list):
        raise GraphccError("not a symbol JSON document: expected an object with 'nodes' and "
                           "'heads' (MXNet's symbol format)")
    raw = doc["nodes"]
    unknown = {}
    for i, d in enumerate(raw):
        if not isinstance(d, dict):
            raise GraphccError(f"symbol JSON node {i} is malformed: expected an object, got "
                               f"{type(d).__name__} {str(d)[:100]}")
        op = d.get("op")
        if op in (None, "null"):
            continue
        try:
            _resolve(op)
        except UnknownOpError:
            unknown.setdefault(op, []).append(d.get("name", "?"))
    if unknown:
        listing = "; ".join(f"{op} (node{'s' if len(ns) > 1 else ''} {', '.join(ns[:3])}"
                            f"{', ...' if len(ns) > 3 else ''})" for op, ns in unknown.items())
        raise UnknownOpError(f"symbol JSON uses op(s) that graphcc does not have: {listing}")
    nodes: list[LNode] = []
    for i, d in enumerate(raw):
        try:
            name, opname = str(d["name"]), d["op"]
            attrs = d.get("attrs", d.get("attr", d.get("param", {}))) or {}
            inputs = [(int(e[0]), int(e[1])) for e in d.get("inputs", [])]
        except (KeyError, TypeError, ValueError, IndexError):
            raise GraphccError(f"symbol JSON node {i} is malformed: {str(d)[:200]}") from None
        if any(not 0 <= j < i for j, _ in inputs):
            raise GraphccError(f"symbol JSON node {i} ({name!r}) reads a node that does not "
                               "come before it")
        if opname == "null":
            nodes.append(LNode(None, name, dict(attrs), [], 1, _make_var(name, attrs)))
            continue
        op = _resolve(opname)
        if hasattr(op, "impl"):
            attrs = _import_attrs(opname, op, attrs, name)
        nodes.append(LNode(op, name, dict(attrs), inputs))
    try:
        heads = [(int(h[0]), int(h[1])) for h in doc["heads"]]
    except (TypeError, ValueError, IndexError):
        raise GraphccError("symbol JSON: malformed 'heads'") from None
    if not heads or any(not 0 <= j < len(nodes) for j, _ in heads):
        raise GraphccError("symbol JSON: 'heads' must name existing nodes")
    return nodes, heads


def from_mxnet_json(text):
    """A Symbol from MXNet 1.x symbol JSON text (ours or MXNet's own exports). A document
    that is malformed in a way no check above names (a value of the wrong type deep inside)
    is a GraphccError too, never a Python exception from the middle of the reader."""
    from .symbol import Symbol
    try:
        nodes, heads = parse(text)
        outs = run(nodes, heads, {}, symbolic=True)
    except GraphccError:
        raise
    except (TypeError, ValueError, KeyError, IndexError, AttributeError, RecursionError) as e:
        raise GraphccError(f"symbol JSON is malformed: {type(e).__name__}: "
                           f"{str(e)[:200]}") from None
    return Symbol([s._nodes[0] for s in outs])
