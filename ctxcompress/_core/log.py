"""The library's logger, ``logging.getLogger("ctxcompress")``: silent unless the application configures logging.

INFO: models, encodings, graphs and node indexes loaded, with their timings. WARNING: every
passthrough, fallback and cut of a call, once each (the same lines as the report's warnings).
The library never prints and never configures handlers beyond the ``NullHandler`` added here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["logger", "timed"]

logger = logging.getLogger("ctxcompress")
logger.addHandler(logging.NullHandler())


@contextmanager
def timed(what: str) -> Iterator[None]:
    """Log ``"<what> in N.NN s"`` at INFO when the block finishes without an exception."""
    if not logger.isEnabledFor(logging.INFO):
        yield
        return
    t0 = time.perf_counter()
    yield
    logger.info("%s in %.2f s", what, time.perf_counter() - t0)
