"""The op table in the README, generated from the registry.

``python -m graphcc.ops.doc --write README.md`` replaces the text between the
``<!-- ops:begin -->`` and ``<!-- ops:end -->`` markers.
"""
from __future__ import annotations

import argparse
import re

from . import OPS

_GROUPS = [
    ("elementwise", "Elementwise"), ("broadcast", "Broadcasting"), ("reduction", "Reductions"),
    ("view", "Views"), ("source", "Creation and random"), ("opaque", "Other (opaque)"),
]


def op_table() -> str:
    lines = []
    public = {n: r for n, r in OPS.items() if r.kind != "input"}
    lines.append(f"{len(public)} ops ({sum(1 for n in public if not n.startswith('_'))} public, "
                 f"the rest internal building blocks of gradients and Python operators).")
    lines.append("")
    lines.append("| kind | ops (aliases in parentheses) |")
    lines.append("|---|---|")
    for kind, title in _GROUPS:
        names = sorted((n for n, r in public.items() if r.kind == kind and
                        not n.startswith("_")), key=str.lower)
        cells = []
        for n in names:
            al = [a for a in public[n].aliases if not a.startswith("_")]
            grad = "" if public[n].grad is not None or public[n].expand else "\\*"
            cells.append(f"`{n}`{grad}" + (f" ({', '.join(al)})" if al else ""))
        lines.append(f"| {title} | {', '.join(cells)} |")
    lines.append("")
    internal = sorted(n for n in public if n.startswith("_"))
    lines.append("\\* no gradient rule (not differentiable). Internal ops (scalar forms of the "
                 "Python operators, gradient building blocks, random sources): "
                 + ", ".join(f"`{n}`" for n in internal) + ".")
    return "\n".join(lines) + "\n"


def write(path: str) -> None:
    text = open(path).read()
    new = re.sub(r"(<!-- ops:begin -->\n).*?(<!-- ops:end -->)",
                 lambda m: m.group(1) + op_table() + m.group(2), text, flags=re.S)
    with open(path, "w") as f:
        f.write(new)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--write", metavar="README", help="update the table in this file")
    args = ap.parse_args()
    if args.write:
        write(args.write)
    else:
        print(op_table())


if __name__ == "__main__":
    main()
