"""Writing files so that a failure loses nothing: one helper for every writer (parameter and
array files, optimizer states, exports, the kernel cache)."""
from __future__ import annotations

import os
import tempfile


def write_atomically(files) -> None:
    """Write each of ``files`` — (name, write(file), mode) — to a fresh temporary file beside
    it, and rename them all into place only when every write succeeded. A failure (a full
    disk, an error while serialising) leaves every old file as it was and no temporary file
    behind; two writers of one name never share a temporary file."""
    tmps = []
    try:
        for fname, write, mode in files:
            d, base = os.path.split(os.fspath(fname))
            fd, tmp = tempfile.mkstemp(prefix=base + ".", suffix=".tmp", dir=d or ".")
            tmps.append((tmp, fname))
            with open(fd, mode) as f:
                write(f)
        for tmp, fname in tmps:
            os.replace(tmp, fname)
    except BaseException:
        for tmp, _ in tmps:
            try:
                os.unlink(tmp)
            except OSError:
                pass
        raise
