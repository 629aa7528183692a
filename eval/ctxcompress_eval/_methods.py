"""The method registry: one small adapter class per compression method, with one interface.

``Method.compress(question, contexts, budget_fraction) -> MethodOutput(text, kept, meta)``:
``text`` is the compressed, prompt-ready context; ``kept`` the ids of the passages that kept some
text, where the method can tell (``None`` otherwise); ``meta`` anything worth recording (warnings,
the budget a peer actually used, ...).

Budgets are a kept fraction of the tokens of the uncompressed context (:func:`~ctxcompress_eval.render`
of all passages), counted with the harness's token counter; the cap is ``floor(fraction * tokens_in)``
as in :class:`ctxcompress.Budget`.

Built-in names (``ctxcompress-eval methods`` lists them):

- ``none``: no compression; ``random``: seeded random sentence drop, greedy to the budget;
- ``ctxcompress``: ``ctxcompress.default_pipeline()``; ``ctxcompress:<ClassName>``: any top-level
  ctxcompress compressor with default parameters; ``config:<path>``: a pipeline file read with
  ``ctxcompress.load_config``; ``sentence-ranking``: MiniLM cosine sentence ranking, greedy to budget;
- peers (``ctxcompress_eval._peers``): ``langchain-embeddings-filter:docs``,
  ``langchain-embeddings-filter:chunks`` (``langchain-embeddings-filter`` = both),
  ``llamaindex-sentence-optimizer``, ``longllmlingua``.

Every method that takes an embedder gets the harness's one embedder (:class:`MethodContext`), so the
comparison is between methods, not models. Add your own with :func:`register_method`.
"""

from __future__ import annotations

import math
import random
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from ._data import SEPARATOR, Passage, render, stable_seed

__all__ = [
    "CompressorMethod",
    "Method",
    "MethodContext",
    "MethodOutput",
    "build_methods",
    "expand_method_names",
    "list_methods",
    "register_method",
]


class MethodOutput(NamedTuple):
    """What a method returns: the compressed context, the kept passage ids (or None), extra data."""

    text: str
    kept: tuple[str, ...] | None = None
    meta: dict[str, Any] = {}  # noqa: RUF012 - NamedTuple default, never mutated


@dataclass
class MethodContext:
    """What every method shares: the token counter, the embedder, the seed and peer settings."""

    counter: Any
    embedder: Any
    seed: int = 0
    options: dict[str, Any] = field(default_factory=dict)

    def count(self, text: str) -> int:
        return int(self.counter.count(text)) if text else 0

    def cap(self, contexts: Sequence[Passage], fraction: float) -> int:
        """The token cap for ``fraction`` of the rendered ``contexts`` (as ``ctxcompress.Budget``)."""
        return math.floor(fraction * self.count(render(contexts)) + 1e-9)


class Method(ABC):
    """Base class of the adapters. Subclasses set ``name`` and implement :meth:`compress`."""

    name: str = ""
    #: True when the output is text copied from the sources (verbatim rate is then expected to be 1)
    extractive: bool = True
    #: False when one instance must not run two questions at once (the runner then serialises it)
    thread_safe: bool = True
    #: a note printed under the report's tables (e.g. how a peer was patched)
    notes: str = ""

    def __init__(self, ctx: MethodContext) -> None:
        self.ctx = ctx

    def warm_up(self) -> None:  # noqa: B027 - optional hook, a no-op for model-free methods
        """Load models now (the runner also runs one untimed call before timing)."""

    @abstractmethod
    def compress(self, question: str, contexts: Sequence[Passage], budget: float) -> MethodOutput:
        """Compress ``contexts`` for ``question`` to ``budget`` (kept fraction of the rendered tokens)."""

    def describe(self) -> dict[str, Any]:
        """The settings that make results comparable (stored with the cached records)."""
        return {"name": self.name, "class": type(self).__name__}


# --------------------------------------------------------------------------- simple methods
class NoCompression(Method):
    name = "none"

    def compress(self, question: str, contexts: Sequence[Passage], budget: float) -> MethodOutput:
        return MethodOutput(render(contexts), tuple(p.id for p in contexts), {})


class RandomDrop(Method):
    """Sentences in a seeded random order, added while they fit; original order kept in the output."""

    name = "random"

    def compress(self, question: str, contexts: Sequence[Passage], budget: float) -> MethodOutput:
        cap = self.ctx.cap(contexts, budget)
        text, kept = random_sentence_drop(contexts, cap, self.ctx.count, random_seed(self.ctx.seed, question))
        return MethodOutput(text, kept, {})

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "seed": self.ctx.seed}


def random_seed(seed: int, question: str) -> int:
    """The seed of the random baseline for ``question``: a fixed hash of the run seed and the question text."""
    return stable_seed(seed, "random", question)


def random_sentence_drop(
    contexts: Sequence[Passage], cap: int, count: Callable[[str], int], seed: int
) -> tuple[str, tuple[str, ...]]:
    """The random baseline: ``(text, kept passage ids)`` of sentences drawn at random under ``cap`` tokens.

    The sentences of all passages are shuffled by ``random.Random(seed)`` and added in that order while
    ``count(sentence) + 1`` still fits; the output keeps source order (see :func:`_assemble`). Token counts
    are not additive, so while the assembled text counts more than ``cap`` the sentence added last is
    dropped. ``eval/bench_foundation.py`` calls this too, so the two report the same baseline.
    """
    from ctxcompress import split_sentences

    units = [(pi, s.start, s.end, s.text) for pi, p in enumerate(contexts) for s in split_sentences(p.text)]
    order = list(range(len(units)))
    random.Random(seed).shuffle(order)
    chosen: list[int] = []
    used = 0
    for i in order:
        cost = count(units[i][3]) + 1
        if used + cost <= cap:
            chosen.append(i)
            used += cost
    text, kept = _assemble(contexts, units, set(chosen))
    while chosen and count(text) > cap:  # token counts are not additive: hold the cap exactly
        chosen.pop()
        text, kept = _assemble(contexts, units, set(chosen))
    return text, kept


def _assemble(
    contexts: Sequence[Passage], units: Sequence[tuple[int, int, int, str]], chosen: set[int]
) -> tuple[str, tuple[str, ...]]:
    """Chosen sentences in source order; neighbours keep the text between them, others join by a space."""
    pieces: list[str] = []
    kept: list[str] = []
    for pi, p in enumerate(contexts):
        idx = [i for i, u in enumerate(units) if u[0] == pi and i in chosen]
        if not idx:
            continue
        parts: list[str] = []
        start, end, prev = units[idx[0]][1], units[idx[0]][2], idx[0]
        for i in idx[1:]:
            if i == prev + 1:
                end = units[i][2]
            else:
                parts.append(p.text[start:end])
                start, end = units[i][1], units[i][2]
            prev = i
        parts.append(p.text[start:end])
        pieces.append(" ".join(parts))
        kept.append(p.id)
    return SEPARATOR.join(pieces), tuple(kept)


class CompressorMethod(Method):
    """Any ``ctxcompress.Compressor`` (a pipeline, a single compressor, one read from a config file).

    Passages become ``Chunk(text, id, metadata={"title": ...})``; the budget is
    ``Budget(fraction=budget)`` counted with the harness's counter, so the compressor's own cap equals
    the harness's. Compressor parameters named ``embedder`` that are left at ``None`` get the harness's
    embedder (so every method embeds with the same model); explicit ones are kept.
    """

    def __init__(self, ctx: MethodContext, name: str, compressor: Any, *, source: str = "") -> None:
        super().__init__(ctx)
        self.name = name
        self.source = source
        self.compressor = _inject_embedder(compressor, ctx.embedder)
        self.extractive = _is_extractive(self.compressor)

    def warm_up(self) -> None:
        self.compressor.warm_up()

    def result(self, question: str, contexts: Sequence[Passage], budget: float) -> Any:
        """The ``ctxcompress.CompressionResult`` of one call (spans, sources, report: for the HTML view)."""
        from ctxcompress import Budget, Chunk

        chunks = [Chunk(text=p.text, id=p.id, metadata={"title": p.title}) for p in contexts]
        cap = Budget(fraction=budget)
        return self.compressor.compress(chunks, query=question, budget=cap, counter=self.ctx.counter)

    def compress(self, question: str, contexts: Sequence[Passage], budget: float) -> MethodOutput:
        res = self.result(question, contexts, budget)
        kept: dict[str, None] = {}
        for ch in res.chunks:
            if ch.spans:
                for sp in ch.spans:
                    kept[sp.source_id] = None
            elif ch.id is not None:
                kept[ch.id] = None
        warnings = list(res.report.warnings) + [f"{s.name}: {w}" for s in res.report.stages for w in s.warnings]
        return MethodOutput(res.text, tuple(kept), {"warnings": warnings} if warnings else {})

    def describe(self) -> dict[str, Any]:
        try:
            config: Any = self.compressor.to_dict()
        except Exception:  # a user compressor that cannot serialise: its repr identifies it
            config = repr(self.compressor)
        return {**super().describe(), "config": config, "source": self.source}


def _inject_embedder(compressor: Any, embedder: Any) -> Any:
    from ctxcompress import Pipeline

    if isinstance(compressor, Pipeline):
        for _, step in compressor.steps:
            _inject_embedder(step, embedder)
        return compressor
    try:
        params = compressor.get_params(deep=False)
    except Exception:
        return compressor
    if "embedder" in params and params["embedder"] is None and embedder is not None:
        compressor.set_params(embedder=embedder)
    return compressor


def _is_extractive(compressor: Any) -> bool:
    """False for a compressor that writes new text: ``Compressor.abstractive`` (a pipeline asks its steps)."""
    return not bool(getattr(compressor, "abstractive", False))


# --------------------------------------------------------------------------- registry
MethodFactory = Callable[[MethodContext], Method]
_REGISTRY: dict[str, tuple[MethodFactory, str]] = {}
_GROUPS: dict[str, tuple[str, ...]] = {}


def register_method(name: str, factory: MethodFactory, description: str = "") -> None:
    """Make ``--methods name`` build ``factory(ctx)``. Re-registering a name replaces it."""
    if not name or "," in name:
        raise ValueError(f"invalid method name {name!r}")
    _REGISTRY[name] = (factory, description)


def register_group(name: str, members: Sequence[str]) -> None:
    """An alias that expands to several methods (``langchain-embeddings-filter`` → docs, chunks)."""
    _GROUPS[name] = tuple(members)


def list_methods() -> dict[str, str]:
    """Registered names with a one-line description (plus the patterns ``ctxcompress:<Class>``, ``config:``)."""
    _ensure_peers()
    out = {name: desc for name, (_, desc) in sorted(_REGISTRY.items())}
    out.update({g: "group: " + ", ".join(m) for g, m in sorted(_GROUPS.items())})
    out["ctxcompress:<ClassName>"] = "any top-level ctxcompress compressor with its default parameters"
    out["config:<path>"] = "a pipeline from a YAML/JSON file (ctxcompress.load_config); also --config"
    return out


def expand_method_names(names: Sequence[str]) -> list[str]:
    _ensure_peers()
    out: list[str] = []
    for n in names:
        n = n.strip()
        if not n:
            continue
        for m in _GROUPS.get(n, (n,)):
            if m not in out:
                out.append(m)
    return out


def build_method(name: str, ctx: MethodContext) -> Method:
    """Build one method by name (see the module doc for the patterns)."""
    _ensure_peers()
    if name in _REGISTRY:
        method = _REGISTRY[name][0](ctx)
        method.name = name
        return method
    if name.startswith("config:"):
        import ctxcompress

        path = name.partition(":")[2]
        return CompressorMethod(ctx, name, ctxcompress.load_config(path), source=str(Path(path).resolve()))
    if name.startswith("ctxcompress:"):
        import ctxcompress

        cls_name = name.partition(":")[2]
        try:
            cls = getattr(ctxcompress, cls_name, None)
        except ImportError as exc:  # a lazily imported compressor whose optional dependency is missing
            raise ValueError(f"ctxcompress.{cls_name} cannot be loaded: {exc}") from exc
        if not isinstance(cls, type) or not issubclass(cls, ctxcompress.Compressor):
            raise ValueError(f"{cls_name!r} is not a top-level ctxcompress compressor (ctxcompress.{cls_name})")
        return CompressorMethod(ctx, name, cls())
    known = ", ".join(list_methods())
    raise ValueError(f"unknown method {name!r}; known: {known}")


def build_methods(names: Sequence[str], ctx: MethodContext) -> list[Method]:
    return [build_method(n, ctx) for n in expand_method_names(names)]


def _ctxcompress_default(ctx: MethodContext) -> Method:
    import ctxcompress

    return CompressorMethod(ctx, "ctxcompress", ctxcompress.default_pipeline(), source="ctxcompress.default_pipeline()")


def _sentence_ranking(ctx: MethodContext) -> Method:
    import ctxcompress

    pipe = ctxcompress.Pipeline(
        [("filter", ctxcompress.RelevanceFilter(granularity="sentence", scorer="embedding", title_key=""))]
    )
    return CompressorMethod(ctx, "sentence-ranking", pipe, source="RelevanceFilter(scorer='embedding')")


register_method("none", NoCompression, "no compression (the whole context)")
register_method("random", RandomDrop, "random sentence drop (seeded), greedy to the budget")
register_method("ctxcompress", _ctxcompress_default, "ctxcompress.default_pipeline(): fusion + hybrid relevance")
register_method("sentence-ranking", _sentence_ranking, "MiniLM cosine sentence ranking, greedy to the budget")

_PEERS_LOADED = False


def _ensure_peers() -> None:
    global _PEERS_LOADED
    if not _PEERS_LOADED:
        _PEERS_LOADED = True
        from . import _peers  # noqa: F401 - registers the peers (imports their libraries lazily)
