"""One timed ``compress`` call with a memory probe (:func:`execute`).

Memory (``memory=``):

- ``"rss"`` (default): the peak resident set size of the process during the call minus the RSS when
  the call started, sampled every 2 ms by a background thread (``/proc/self/statm``). It sees native
  allocations (torch, ONNX Runtime, numpy) but not memory the allocator reuses, so a warmed-up method
  often shows ~0: it is *new memory taken from the OS*.
- ``"tracemalloc"``: the peak of Python-traced allocations during the call (numpy included, torch's
  native tensors not); tracing slows the call, so latency figures are inflated in this mode.
- ``"off"``.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import tracemalloc
from collections.abc import Sequence
from typing import Any

from ._data import Question
from ._methods import Method

__all__ = ["execute"]


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):  # not Linux
        import resource

        scale = 1 if sys.platform == "darwin" else 1024
        return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * scale


class _RssPeak:
    """Samples the process RSS every ``interval`` seconds while active; ``delta`` = peak - start."""

    def __init__(self, interval: float = 0.002) -> None:
        self.interval = interval
        self.start = self.peak = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> _RssPeak:
        self.start = self.peak = _rss_bytes()
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, _rss_bytes())

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.peak = max(self.peak, _rss_bytes())

    @property
    def delta(self) -> int:
        return max(0, self.peak - self.start)


_TRACE_LOCK = threading.Lock()


def execute(method: Method, question: Question, budget: float, memory: str = "rss") -> dict[str, Any]:
    """Run one timed ``compress`` call; returns text, kept ids, meta, ms, memory bytes and any error.

    A method that raises gets an empty output (it kept nothing) and the error is recorded, so every
    method is scored on the same questions.
    """
    text: str = ""
    kept: Sequence[str] | None = None
    meta: dict[str, Any] = {}
    error: str | None = None
    mem: int | None = None
    t0 = 0.0
    ms = 0.0
    try:
        if memory == "tracemalloc":
            with _TRACE_LOCK:
                if not tracemalloc.is_tracing():
                    tracemalloc.start()
            base = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            t0 = time.perf_counter()
            text, kept, meta = method.compress(question.question, question.contexts, budget)
            ms = (time.perf_counter() - t0) * 1000
            mem = max(0, tracemalloc.get_traced_memory()[1] - base)
        elif memory == "rss":
            with _RssPeak() as probe:
                t0 = time.perf_counter()
                text, kept, meta = method.compress(question.question, question.contexts, budget)
                ms = (time.perf_counter() - t0) * 1000
            mem = probe.delta
        else:
            t0 = time.perf_counter()
            text, kept, meta = method.compress(question.question, question.contexts, budget)
            ms = (time.perf_counter() - t0) * 1000
    except Exception as exc:  # a peer failing on one question must not stop the run: recorded, scored as empty
        ms = (time.perf_counter() - t0) * 1000 if t0 else 0.0
        text, kept, meta, error = "", None, {}, f"{type(exc).__name__}: {exc}"
    return {
        "text": text,
        "kept": None if kept is None else list(kept),
        "meta": dict(meta),
        "ms": ms,
        "mem_bytes": mem,
        "error": error,
    }
