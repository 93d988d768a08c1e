"""Generated kernels for 2-d pooling (NCHW, 'valid' windows): max and avg forward, and the
max/avg backward (``_pool_backward``), each one loop nest over the output.

The window geometry (kernel, stride, pad) is part of the source; sizes come from the arrays.
Semantics follow the reference implementations in ``ops/pool.py``: max pools over the cells
of the window inside the input (a window wholly in the padding gives the dtype's lowest
value), NaN propagates; avg divides by the whole window (``count_include_pad``, the default)
or by the cells inside the input; the max gradient goes to the first cell of the window
(row-major, padding cells counted as -inf) holding the maximum.
Other layouts, dimensions, conventions and pool types are not generated here.
"""
from __future__ import annotations

import numpy as np

from .render import FLOAT_DTYPES, NotRenderable


def _geometry(node, x_shape):
    a = node.attrs_dict
    if len(x_shape) != 4 or a.get("global_pool") or a.get("layout") not in (None, "NCHW") or \
            a.get("pooling_convention") != "valid" or a.get("pool_type") not in ("max", "avg"):
        raise NotRenderable("pooling other than 2-d NCHW max/avg with valid windows")
    if node.dtype not in FLOAT_DTYPES:
        raise NotRenderable(f"pooling of {node.dtype}")
    k = tuple(a["kernel"])
    s = tuple(a["stride"]) or (1, 1)
    p = tuple(a["pad"]) or (0, 0)
    if len(k) != 2 or len(s) != 2 or len(p) != 2:
        raise NotRenderable("pooling geometry")
    include_pad = a.get("count_include_pad") is not False
    return a["pool_type"], k, s, p, include_pad


def _header(dt):
    return ["@njit(cache=_CACHE, error_model='numpy', fastmath={'contract'})"]


def pool_forward_source(node, x_shape) -> str:
    t, (kh, kw), (sh, sw), (ph, pw), include_pad = _geometry(node, x_shape)
    dt = node.dtype
    lowest = repr(float(np.finfo(dt).min))
    if t == "max":
        init, upd = "-math.inf", "best = np_maximum(best, x[n, c, h, w])"
        fin = f"o[n, c, oh, ow] = best if cnt > 0 else np.{dt}({lowest})"
    else:
        init, upd = "0.0", "best += x[n, c, h, w]"
        div = f"{float(kh * kw)!r}" if include_pad else "cnt"
        fin = f"o[n, c, oh, ow] = best / {div} if cnt > 0 else np.{dt}(0.0)"
    return "\n".join(_header(dt) + [
        "def kernel(x, o):",
        "    N, C, H, W = x.shape",
        "    OH, OW = o.shape[2], o.shape[3]",
        "    for n in range(N):",
        "        for c in range(C):",
        "            for oh in range(OH):",
        f"                h0 = oh * {sh} - {ph}",
        "                for ow in range(OW):",
        f"                    w0 = ow * {sw} - {pw}",
        f"                    best = np.{dt}({init})",
        "                    cnt = 0",
        f"                    for i in range({kh}):",
        "                        h = h0 + i",
        "                        if h < 0 or h >= H:",
        "                            continue",
        f"                        for j in range({kw}):",
        "                            w = w0 + j",
        "                            if w < 0 or w >= W:",
        "                                continue",
        f"                            {upd}",
        "                            cnt += 1",
        f"                    {fin}",
    ]) + "\n"


def pool_backward_source(node, x_shape) -> str:
    """``_pool_backward(grad, data, out)``: the kernel takes (g, x, dx)."""
    t, (kh, kw), (sh, sw), (ph, pw), include_pad = _geometry(node, x_shape)
    dt = node.dtype
    head = _header(dt) + [
        "def kernel(g, x, dx):",
        "    N, C, H, W = x.shape",
        "    OH, OW = g.shape[2], g.shape[3]",
        "    for n in range(N):",
        "        for c in range(C):",
        "            for h in range(H):",
        "                for w in range(W):",
        f"                    dx[n, c, h, w] = np.{dt}(0.0)",
        "            for oh in range(OH):",
        f"                h0 = oh * {sh} - {ph}",
        "                for ow in range(OW):",
        f"                    w0 = ow * {sw} - {pw}",
    ]
    if t == "max" and (ph, pw) == (0, 0):
        # every window lies inside the input ('valid', no padding): no bounds checks
        body = [
            "                    best = x[n, c, h0, w0]",
            "                    bh = h0",
            "                    bw = w0",
            f"                    for i in range({kh}):",
            f"                        for j in range({kw}):",
            "                            v = x[n, c, h0 + i, w0 + j]",
            "                            if v > best or (v != v and best == best):",
            "                                best = v",
            "                                bh = h0 + i",
            "                                bw = w0 + j",
            "                    dx[n, c, bh, bw] += g[n, c, oh, ow]",
        ]
    elif t == "max":
        body = [
            "                    best = -math.inf",
            "                    bh = -1",
            "                    bw = -1",
            "                    first = True",
            f"                    for i in range({kh}):",
            "                        h = h0 + i",
            f"                        for j in range({kw}):",
            "                            w = w0 + j",
            "                            inside = h >= 0 and h < H and w >= 0 and w < W",
            "                            v = x[n, c, h, w] if inside else -math.inf",
            "                            if first or v > best or (v != v and best == best):",
            "                                best = v",
            "                                bh = h if inside else -1",
            "                                bw = w",
            "                                first = False",
            "                    if bh >= 0:",
            "                        dx[n, c, bh, bw] += g[n, c, oh, ow]",
        ]
    else:
        div = f"{float(kh * kw)!r}"
        cnt = "" if include_pad else [
            "                    cnt = 0",
            f"                    for i in range({kh}):",
            f"                        for j in range({kw}):",
            "                            h = h0 + i",
            "                            w = w0 + j",
            "                            if h >= 0 and h < H and w >= 0 and w < W:",
            "                                cnt += 1",
        ]
        body = (cnt or []) + [
            f"                    d = {div if include_pad else 'cnt'}",
            "                    gv = g[n, c, oh, ow] / d if d > 0 else 0.0",
            f"                    for i in range({kh}):",
            "                        h = h0 + i",
            "                        if h < 0 or h >= H:",
            "                            continue",
            f"                        for j in range({kw}):",
            "                            w = w0 + j",
            "                            if w >= 0 and w < W:",
            "                                dx[n, c, h, w] += gv",
        ]
    return "\n".join(head + body) + "\n"
