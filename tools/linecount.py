"""Lines of code per directory of the package (the core is ir/ + passes/ + frontend/)."""
import os
import sys

ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "graphcc")
CORE = ("ir", "passes", "frontend")
SOFT_CAP = 12000   # core lines; raised on purpose, never by accident


def count(path):
    if os.path.isfile(path):
        with open(path) as fh:
            return sum(1 for line in fh if line.strip())
    total = 0
    for dirpath, _, files in os.walk(path):
        for f in files:
            if f.endswith(".py"):
                with open(os.path.join(dirpath, f)) as fh:
                    total += sum(1 for line in fh if line.strip())
    return total


def main():
    rows = []
    for name in sorted(os.listdir(ROOT)):
        p = os.path.join(ROOT, name)
        if os.path.isdir(p) and not name.startswith("__"):
            rows.append((name, count(p)))
    top = sum(count(os.path.join(ROOT, f)) for f in os.listdir(ROOT) if f.endswith(".py"))
    rows.append(("(top-level modules)", top))
    for name, n in rows:
        print(f"{name:<22}{n:>7}")
    core = sum(n for name, n in rows if name in CORE)
    print(f"{'core':<22}{core:>7}  (soft cap {SOFT_CAP})")
    return 0 if core <= SOFT_CAP else 1


if __name__ == "__main__":
    sys.exit(main())
