"""Random sampling ops. Rows are marked ``random=True``: passes never fold, merge or move them
across each other, and the value a node draws is the value the backward pass sees."""
from __future__ import annotations


from ..errors import OpAttrError
from ..ir.types import TensorType
from .registry import Attr, OpDef, register
from .rng import generator


def rand_source(name, impl, extra, aliases=(), doc="", valid=None):
    """A sampling op; ``valid``: (attrs -> bool, what the attributes must satisfy)."""
    attrs = dict(extra)
    attrs.update({"shape": Attr("ints", ()), "dtype": Attr("dtype", "float32")})

    def infer(in_types, a):
        if valid is not None and not valid[0](a):
            given = ", ".join(f"{k}={a[k]}" for k in extra)
            raise OpAttrError(f"{valid[1]} (got {given})")
        return TensorType(tuple(a["shape"]), a["dtype"])
    return register(OpDef(name=name, inputs=(), infer=infer, impl=impl, attrs=attrs,
                          grad=lambda c: (), kind="source", random=True, aliases=aliases,
                          doc=doc))


rand_source("_random_uniform",
            lambda low, high, shape, dtype: generator().uniform(low, high, shape).astype(dtype),
            {"low": Attr("float", 0.0), "high": Attr("float", 1.0)},
            aliases=("random_uniform", "uniform"), doc="uniform samples in [low, high)",
            valid=(lambda a: a["low"] <= a["high"], "low must be at most high"))
rand_source("_random_normal",
            lambda loc, scale, shape, dtype: generator().normal(loc, scale, shape).astype(dtype),
            {"loc": Attr("float", 0.0), "scale": Attr("float", 1.0)},
            aliases=("random_normal", "normal"), doc="normal samples",
            valid=(lambda a: a["scale"] >= 0, "scale must not be negative"))
rand_source("_random_randint",
            lambda low, high, shape, dtype: generator().integers(low, high, shape).astype(dtype),
            {"low": Attr("int"), "high": Attr("int")},
            aliases=("random_randint",), doc="integers in [low, high)",
            valid=(lambda a: a["low"] < a["high"], "low must be less than high"))
rand_source("_random_exponential",
            lambda lam, shape, dtype: generator().exponential(1.0 / lam, shape).astype(dtype),
            {"lam": Attr("float", 1.0)}, aliases=("random_exponential",),
            doc="exponential samples with rate lam",
            valid=(lambda a: a["lam"] > 0, "the rate lam (1 / scale) must be positive"))
rand_source("_random_gamma",
            lambda alpha, beta, shape, dtype: generator().gamma(alpha, beta, shape).astype(dtype),
            {"alpha": Attr("float", 1.0), "beta": Attr("float", 1.0)},
            aliases=("random_gamma",), doc="gamma samples",
            valid=(lambda a: a["alpha"] > 0 and a["beta"] > 0,
                   "alpha and beta must be positive"))
rand_source("_random_poisson",
            lambda lam, shape, dtype: generator().poisson(lam, shape).astype(dtype),
            {"lam": Attr("float", 1.0)}, aliases=("random_poisson",), doc="Poisson samples",
            valid=(lambda a: a["lam"] >= 0, "lam must not be negative"))
rand_source("_random_bernoulli",
            lambda p, shape, dtype: (generator().random(shape) < p).astype(dtype),
            {"p": Attr("float", 0.5)}, doc="1 with probability p, else 0")


def _shuffle_np(x):
    idx = generator().permutation(x.shape[0]) if x.ndim else None
    return x[idx] if x.ndim else x.copy()


register(OpDef(name="_shuffle", inputs=("data",), infer=lambda ts, a: ts[0], impl=_shuffle_np,
               grad=None, kind="opaque", random=True, aliases=("shuffle",),
               doc="rows in a random order"))
