"""The run configuration (:class:`RunConfig`) and the method context built from its settings."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._methods import MethodContext
from ._protocol import SPLITS, TITLES

__all__ = ["BUDGET_FREE", "HARNESS_VERSION", "RunConfig", "make_context", "make_embedder", "set_threads"]

HARNESS_VERSION = "1"
BUDGET_FREE = frozenset({"none"})


@dataclass
class RunConfig:
    """Everything a run needs; the CLI builds one from its arguments."""

    datasets: list[str]
    methods: list[str]
    budgets: list[float]
    out: Path
    data_dir: str = "../shared/data"
    records: Path | None = None
    limit: int | None = None
    counter: str = "o200k_base"
    embedder: str = "onnx"
    seed: int = 0
    workers: int = 1
    engine: str = "local"
    retrieval_k: list[int] = field(default_factory=lambda: [10])
    reader: str | None = None
    memory: str = "rss"
    fresh: bool = False
    progress: bool = True
    lingua_model: str | None = None
    threads: int = 1
    embed_cache: bool = False
    rescore: bool = False
    sample: int | None = None
    titles: str = "metadata"
    split: str = "report"
    html_examples: int = 3
    command: str = ""

    def __post_init__(self) -> None:
        self.out = Path(self.out)
        if self.records is not None:
            self.records = Path(self.records)
        for b in self.budgets:
            if not 0.0 < b <= 1.0:
                raise ValueError(f"budgets are kept fractions in (0, 1]; got {b}")
        if self.engine not in ("local", "ray"):
            raise ValueError("engine must be 'local' or 'ray'")
        if self.memory not in ("rss", "tracemalloc", "off"):
            raise ValueError("memory must be 'rss', 'tracemalloc' or 'off'")
        if self.workers < 1:
            raise ValueError("workers must be >= 1")
        if self.threads < 1:
            raise ValueError("threads must be >= 1")
        if self.html_examples < 0:
            raise ValueError("html_examples must be >= 0")
        if self.titles not in TITLES:
            raise ValueError(f"titles must be one of {', '.join(TITLES)}; got {self.titles!r}")
        if self.split not in SPLITS:
            raise ValueError(f"split must be one of {', '.join(SPLITS)}; got {self.split!r}")

    @property
    def record_dir(self) -> Path:
        return self.records if self.records is not None else self.out / "records"

    def settings(self) -> dict[str, Any]:
        """What an actor needs to rebuild the methods (picklable)."""
        return {
            "counter": self.counter,
            "embedder": self.embedder,
            "seed": self.seed,
            "memory": self.memory,
            "threads": self.threads,
            "embed_cache": self.embed_cache,
            "options": {"lingua_model": self.lingua_model},
        }


def make_embedder(spec: str, *, threads: int | None = None, cache: bool = False) -> Any:
    """``fake`` → ``ctxcompress.testing.FakeEmbedder``; anything else → ``ctxcompress.get_embedder(spec)``.

    ``onnx`` gets an ONNX Runtime session with ``threads`` threads. ``cache=True`` wraps the embedder in
    ``ctxcompress.CachedEmbedder``, shared by every method and budget of the process: each distinct text
    is embedded once (quality figures are unchanged; latency then leaves out repeated embeddings).
    """
    import ctxcompress

    emb: Any
    if spec == "fake":
        from ctxcompress.testing import FakeEmbedder

        emb = FakeEmbedder()
    elif spec == "onnx":
        emb = ctxcompress.OnnxEmbedder(threads=threads)
    else:
        emb = ctxcompress.get_embedder(None if spec in ("", "default") else spec)
    return ctxcompress.CachedEmbedder(emb, max_entries=2_000_000) if cache else emb


def set_threads(threads: int) -> None:
    """Limit torch's intra-op threads (the embedders, SmolLM2) to ``threads``, when torch is installed.

    On a busy machine one thread per process wastes far less CPU in OpenMP spin-waits than two.
    """
    import importlib.util

    os.environ["OMP_NUM_THREADS"] = str(threads)
    if importlib.util.find_spec("torch") is not None:
        import torch

        torch.set_num_threads(threads)


def make_context(settings: dict[str, Any]) -> MethodContext:
    import ctxcompress

    threads = int(settings.get("threads") or 1)
    set_threads(threads)
    return MethodContext(
        counter=ctxcompress.get_counter(settings["counter"]),
        embedder=make_embedder(settings["embedder"], threads=threads, cache=bool(settings.get("embed_cache"))),
        seed=int(settings["seed"]),
        options=dict(settings.get("options") or {}),
    )
