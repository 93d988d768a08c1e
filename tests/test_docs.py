"""The code in docs/passes.md runs as written, and the README's op table is current."""
import io
import os
import re
from contextlib import redirect_stdout

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _blocks(path, lang="python"):
    text = open(os.path.join(ROOT, path)).read()
    return re.findall(rf"```{lang}\n(.*?)```", text, re.S), text


def test_passes_tutorial_runs():
    from graphcc.passes import unregister_pass
    blocks, text = _blocks("docs/passes.md")
    assert len(blocks) >= 5
    env: dict = {}
    out = io.StringIO()
    try:
        with redirect_stdout(out):
            for code in blocks:
                exec(compile(code, "docs/passes.md", "exec"), env)
    finally:
        unregister_pass("square_to_multiply")
    printed = out.getvalue()
    shown = re.findall(r"```text\n(.*?)```", text, re.S)[0]
    assert shown.strip() in printed             # the printed IR in the page is real
    assert "multiply" in printed and "True" in printed


def test_readme_op_table_is_generated_from_the_registry():
    from graphcc.ops.doc import op_table
    readme = open(os.path.join(ROOT, "README.md")).read()
    m = re.search(r"<!-- ops:begin -->\n(.*?)<!-- ops:end -->", readme, re.S)
    assert m, "README.md lacks the generated op table markers"
    assert m.group(1).strip() == op_table().strip(), \
        "README op table is stale: run `python -m graphcc.ops.doc --write README.md`"


def test_readme_speed_figures_are_the_benchmark_files():
    """The README's speed table is copied from bench/results/speed.txt, not typed in."""
    readme = open(os.path.join(ROOT, "README.md")).read()
    m = re.search(r"<!-- speed:begin -->\n```\n(.*?)```\n<!-- speed:end -->", readme, re.S)
    assert m, "README.md lacks the speed block markers"
    speed = open(os.path.join(ROOT, "bench", "results", "speed.txt")).read()
    summary = speed[speed.index("## summary: median"):speed.index("## first call")].strip()
    first = speed[speed.index("## first call"):speed.index("# load average at end")].strip()
    assert m.group(1).strip() == summary + "\n\n" + first, \
        "README speed figures differ from bench/results/speed.txt: copy them again"
