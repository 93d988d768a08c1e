"""``HybridBlock.export``: ``path-symbol.json`` (MXNet's symbol format) and
``path-%04d.params`` (``arg:<name>`` parameters, ``aux:<name>`` auxiliary states).

The symbol is the block's last traced call, as Symbols (not the lowered graph): attributes are
the ones the block's code gave, so reshape codes and the like keep the model independent of
the traced batch size. Inputs are named ``data`` (one input) or ``data0``, ``data1``...
"""
from __future__ import annotations

from ..errors import ExportError
from .serialization import save_arrays_to
from .symbol import Group
from .symbol_graph import aux_indices, logical

NOT_TRACED = ("Please first call block.hybridize() and then run forward with this block at "
              "least once before calling export.")


def export_block(block, path, epoch=0):
    """Write the last traced graph of ``block`` and its parameters; returns the two paths."""
    cached = getattr(block, "_cached", None)
    entry = cached.last if cached is not None else None
    if entry is None or not entry.trace.outputs:
        raise ExportError(NOT_TRACED)
    outputs = entry.trace.outputs
    symbol = Group(outputs) if len(outputs) > 1 else outputs[0]
    nodes, _ = logical(symbol._nodes)
    _check_expressible(block, nodes)
    aux = aux_indices(nodes)
    arrays = {}
    for i, ln in enumerate(nodes):
        param = ln.var.param if ln.is_var and ln.var is not None else None
        if param is None:
            continue
        key = f"{'aux' if i in aux else 'arg'}:{param.name}"
        arrays[key] = param._reduce()
    sym_file = f"{path}-symbol.json"
    params_file = f"{path}-{int(epoch):04d}.params"
    text = symbol.tojson()
    # both files or neither: a failed write leaves the old pair as it was
    from ..fileio import write_atomically
    write_atomically([(sym_file, lambda f: f.write(text), "w"),
                (params_file, lambda f: save_arrays_to(f, arrays), "wb")])
    return sym_file, params_file


def _check_expressible(block, nodes):
    """The graph may only read its inputs and the block's Parameters."""
    bad = []
    for ln in nodes:
        if not ln.is_var or ln.var is None:
            continue
        v = ln.var
        if v.role == "const":
            t = v.type
            what = f"an NDArray of shape {tuple(t.shape)} ({t.dtype})" if t else "an NDArray"
            users = [u.name for u in nodes if not u.is_var and
                     any(nodes[j] is ln for j, _ in u.inputs)]
            where = _attribute_holding(block, v.value)
            held = f" held in {where}" if where else ""
            used = f", used by {', '.join(users)}" if users else ""
            bad.append(f"{what}{held}{used}")
    if bad:
        raise ExportError(
            f"cannot export {type(block).__name__} ({block.name}): its traced graph holds "
            f"{len(bad)} NDArray constant(s) that are not Parameters ({'; '.join(bad)}). "
            "The exported files can only hold Parameters: register the array with "
            "self.params.get_constant(name, value) (or a Parameter) and use it through "
            "hybrid_forward's keyword arguments, or pass it as an input")


def _attribute_holding(block, value, path="self"):
    """``self.child.attr`` naming the block attribute that holds ``value`` (or None)."""
    if value is None:
        return None
    for k, v in vars(block).items():
        if v is value:
            return f"{path}.{k}"
        if isinstance(v, (list, tuple)) and any(x is value for x in v):
            return f"{path}.{k}[...]"
    for name, child in getattr(block, "_children", {}).items():
        attr = next((k for k, v in vars(block).items() if v is child), f"[{name}]")
        found = _attribute_holding(child, value,
                                   f"{path}.{attr}" if not attr.startswith("[") else
                                   f"{path}{attr}")
        if found:
            return found
    return None
