"""Module aliases so that MXNet's import paths work: ``import graphcc.gluon.nn``,
``from graphcc.gluon import nn, rnn``, ``graphcc.init``, ``graphcc.ndarray``..."""
import importlib
import pkgutil
import sys


def install():
    root = sys.modules["graphcc"]
    pairs = {"graphcc.gluon": "graphcc.frontend.gluon", "graphcc.nd": "graphcc.frontend.nd",
             "graphcc.ndarray": "graphcc.frontend.nd", "graphcc.sym": "graphcc.frontend.sym",
             "graphcc.symbol": "graphcc.frontend.sym", "graphcc.autograd":
             "graphcc.frontend.autograd", "graphcc.init": "graphcc.initializer"}
    for alias, real in pairs.items():
        sys.modules[alias] = importlib.import_module(real)
    gluon = importlib.import_module("graphcc.frontend.gluon")
    for info in pkgutil.walk_packages(gluon.__path__, "graphcc.frontend.gluon."):
        mod = importlib.import_module(info.name)
        sys.modules["graphcc.gluon." + info.name[len("graphcc.frontend.gluon."):]] = mod
    _ = root
