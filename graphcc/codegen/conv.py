"""2-d convolutions (NCHW, one group) as generated im2col / col2im loops around one BLAS
product each, writing into the planned slot:

- ``Convolution``: cols (C*KH*KW, N*OH*OW) = im2col(x); (F, N*O) = W (F, C*K) @ cols; then one
  pass writes it transposed to (N, F, O), adding the bias;
- ``_conv_weight_grad``: dW (F, C*K) = g as (F, N*O) @ cols^T;
- ``Deconvolution`` (the data gradient): cols (Cout*K, N*Hin*Win) = W^T @ x as (Cin, N*HW),
  then col2im adds each column into its output position.

One GEMM per op instead of one per sample: measured 2x on LeNet's second layer. The kernel
geometry is part of the generated source, sizes come from the arrays. Grouped convolutions,
1-d and 3-d ones, other layouts and a Deconvolution with a bias run their reference
implementation. The im2col workspace is allocated per call, outside the memory plan.
"""
from __future__ import annotations

import numpy as np

from ..ops.conv import _conv_geom, _deconv_geom
from .render import FLOAT_DTYPES, NotRenderable

_HEAD = "@njit(cache=_CACHE, error_model='numpy')"
OPS = ("Convolution", "_conv_weight_grad", "Deconvolution")


def _check(node, x_shape):
    a = node.attrs_dict
    if len(x_shape) != 4 or a.get("num_group", 1) != 1 or a.get("layout") not in (None, "NCHW"):
        raise NotRenderable("convolution other than 2-d NCHW with one group")
    if node.dtype not in FLOAT_DTYPES:
        raise NotRenderable(f"convolution of {node.dtype}")
    return a


def im2col_source(k, s, d, p) -> str:
    """kernel(x, cols): cols[(c, i, j), (n, oh, ow)] = x[n, c, oh*s + i*d - p, ...] or 0."""
    (kh, kw), (sh, sw), (dh, dw), (ph, pw) = k, s, d, p
    return "\n".join([
        _HEAD,
        "def kernel(x, cols, OH, OW):",
        "    N, C, H, W = x.shape",
        "    for c in range(C):",
        f"        for i in range({kh}):",
        f"            for j in range({kw}):",
        f"                row = (c * {kh} + i) * {kw} + j",
        "                for n in range(N):",
        "                    for oh in range(OH):",
        f"                        h = oh * {sh} + i * {dh} - {ph}",
        "                        base = (n * OH + oh) * OW",
        "                        if h < 0 or h >= H:",
        "                            for ow in range(OW):",
        "                                cols[row, base + ow] = 0",
        "                            continue",
        "                        for ow in range(OW):",
        f"                            w = ow * {sw} + j * {dw} - {pw}",
        "                            cols[row, base + ow] = x[n, c, h, w] if 0 <= w < W else 0",
    ]) + "\n"


def col2im_source(k, s, d, p) -> str:
    """kernel(cols, out, IH, IW): out[n, c, ih*s + i*d - p, ...] += cols[(c, i, j), (n, ih, iw)]
    (positions outside ``out`` dropped); ``out`` is zeroed first."""
    (kh, kw), (sh, sw), (dh, dw), (ph, pw) = k, s, d, p
    return "\n".join([
        _HEAD,
        "def kernel(cols, out, IH, IW):",
        "    N, C, H, W = out.shape",
        "    for n in range(N):",
        "        for c in range(C):",
        "            for h in range(H):",
        "                for w in range(W):",
        "                    out[n, c, h, w] = 0",
        "    for c in range(C):",
        f"        for i in range({kh}):",
        f"            for j in range({kw}):",
        f"                row = (c * {kh} + i) * {kw} + j",
        "                for n in range(N):",
        "                    for ih in range(IH):",
        f"                        h = ih * {sh} + i * {dh} - {ph}",
        "                        if h < 0 or h >= H:",
        "                            continue",
        "                        base = (n * IH + ih) * IW",
        "                        for iw in range(IW):",
        f"                            w = iw * {sw} + j * {dw} - {pw}",
        "                            if 0 <= w < W:",
        "                                out[n, c, h, w] += cols[row, base + iw]",
    ]) + "\n"


def lower(node, in_shapes, make_kernel):
    """A function writing ``node``'s value into a buffer (``out, *inputs``), or raise
    NotRenderable. ``make_kernel(source)`` compiles a generated source."""
    if node.op == "Convolution":
        a = _check(node, in_shapes[0])
        k, s, d, p = _conv_geom(a)
        im2col = make_kernel(im2col_source(k, s, d, p))
        n, c = in_shapes[0][:2]
        f, (oh, ow) = a["num_filter"], node.shape[2:]
        ck, no = c * k[0] * k[1], n * oh * ow

        def conv(out, x, w, b=None):
            cols = np.empty((ck, no), x.dtype)
            im2col([x, cols, oh, ow])
            prod = np.matmul(w.reshape(f, ck), cols)                       # (F, N*O)
            src = prod.reshape(f, n, oh * ow).transpose(1, 0, 2)
            dst = out.reshape(n, f, oh * ow)
            if b is None:
                np.copyto(dst, src)
            else:
                np.add(src, b.reshape(1, f, 1), out=dst)
        return conv
    if node.op == "_conv_weight_grad":
        a = _check(node, in_shapes[1])
        k, s, d, p = _conv_geom(a)
        im2col = make_kernel(im2col_source(k, s, d, p))
        n, c = in_shapes[1][:2]
        f, (oh, ow) = a["num_filter"], in_shapes[0][2:]
        ck, no = c * k[0] * k[1], n * oh * ow

        def weight_grad(out, g, x):
            cols = np.empty((ck, no), x.dtype)
            im2col([x, cols, oh, ow])
            gt = np.ascontiguousarray(g.reshape(n, f, oh * ow).transpose(1, 0, 2))
            np.matmul(gt.reshape(f, no), cols.T, out=out.reshape(f, ck))
        return weight_grad
    if node.op == "Deconvolution":
        a = _check(node, in_shapes[0])
        if len(in_shapes) > 2:
            raise NotRenderable("Deconvolution with a bias")
        ih, iw = in_shapes[0][2:]
        k, s, d, p, _ = _deconv_geom(a, (ih, iw))
        col2im = make_kernel(col2im_source(k, s, d, p))
        n, cin = in_shapes[0][:2]
        cout = a["num_filter"]
        ck, ni = cout * k[0] * k[1], n * ih * iw

        def deconv(out, x, w):
            xt = np.ascontiguousarray(x.reshape(n, cin, ih * iw).transpose(1, 0, 2))
            cols = np.matmul(w.reshape(cin, ck).T, xt.reshape(cin, ni))    # (Cout*K, N*HW)
            col2im([cols, out, ih, iw])
        return deconv
    raise NotRenderable(node.op)
