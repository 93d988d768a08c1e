"""Every public op is exercised by name somewhere in the test suite."""
import glob
import os
import re

from graphcc import ops

HERE = os.path.dirname(os.path.abspath(__file__))


def test_every_public_op_is_tested_by_name():
    text = "\n".join(open(f).read() for f in glob.glob(os.path.join(HERE, "test_*.py"))
                     if not f.endswith("test_op_coverage.py"))
    untested = []
    for name, row in ops.OPS.items():
        if row.kind == "input" or name.startswith("_"):
            continue
        names = [name] + list(row.aliases)
        if not any(re.search(rf"[\"'.]{re.escape(n)}[\"'(]", text) for n in names):
            untested.append(name)
    assert not untested, f"ops without a test naming them: {untested}"
