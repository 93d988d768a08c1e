"""``gluon.contrib``: MXNet 1.x's contributed blocks (``contrib.nn``)."""
from . import nn  # noqa: F401
