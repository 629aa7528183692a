"""Extract-and-restructure (Refiner, Li et al., EMNLP Findings 2024): verbatim quotes in numbered sections.

Refiner keeps only the query-relevant content of the retrieved documents, verbatim and with the
context needed to understand it, and restructures it into numbered sections that show how the
pieces relate, so the reader is not lost in the middle::

    1.1. ## Kiss and Tell (1945 film)
    Kiss and Tell is a 1945 American comedy film starring then 17-year-old Shirley Temple as Corliss Archer.

    1.2. ## Shirley Temple
    As an adult, she was named United States ambassador to Ghana and to Czechoslovakia and also served as
    Chief of Protocol of the United States.

Quotes that state consistent or connected facts share the first number; the second enumerates the
quotes of that section; a new first number starts a different (or contradicting) line of
information. :class:`ExtractRestructure` produces this with one of two engines:

- ``engine="embedding"`` (default, CPU, no generation): sentence scoring, adaptive selection,
  context completion, merging and grouping by interconnectedness (see ``_refiner_embed``);
- ``engine="llm"``: any LLM callable (or a LangChain chat model / local Hugging Face model through
  ``ctxcompress._lm.llm`` when installed) prompted in Refiner's input format; its output is parsed
  tolerantly and every quote is verified against its source (:func:`verify_quotes`), so invented
  text and text written on the instruction of a document never reach the output.

Both return one chunk per quote with verbatim spans into the sources, and render the sectioned text
(:meth:`ExtractRestructure._render`), so the budget counts the headers too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np

from .._compressors.relevance_filter import RelevanceFilter, check_scorer, check_title_key, chunk_title
from .._core.compressor import Compressor, OnError
from .._core.context import CallContext
from .._core.errors import BackendError, ConfigError, CtxCompressError
from .._core.protocols import Embedder, Scorer
from .._core.result import join_text
from .._core.select import make_units
from .._core.text import extract, fewest_drops, fit_to_budget
from .._core.types import Chunk
from .._core.validate import validate_choice, validate_number
from .._lm.llm import HFLocalLLM, check_llm_spec, message_text
from .embedding_engine import QuoteItem, group_quotes, pick_units, runs_of
from .parser import RefinerQuote, parse_refiner_output
from .prompt import SECTION_KEY, SOURCE_KEY, build_prompt, render_sections, source_title
from .verify import VerifiedQuote, verify_quotes

__all__ = ["ExtractRestructure"]

Engine = Literal["embedding", "llm"]
ScorerSpec = Literal["hybrid", "embedding", "bm25"]
QUOTE_SEPARATOR = " … "
"""Between the pieces of one quote that an LLM joined with an ellipsis."""


class ExtractRestructure(Compressor):
    """Query-relevant verbatim quotes, with their context, grouped into numbered sections (Refiner).

    Parameters (keyword-only):

    - ``engine``: ``"embedding"`` (default; model-free with ``scorer="bm25"``) or ``"llm"``.
    - ``llm``: for ``engine="llm"``: a callable ``prompt -> text``, a LangChain chat model (anything
      with ``invoke``), an :class:`~ctxcompress._lm.llm.HFLocalLLM`, ``"smollm2"`` or a local Hugging Face
      model folder.
    - ``prompt``: the LLM prompt template with ``{question}`` and ``{documents}`` (default
      :data:`REFINER_PROMPT`; use your model's own format, e.g. the fine-tuned Refiner-7B's
      ``"[INST]<<SYS>>[MONITOR]{documents}<</SYS>>{question}[/INST] "``).
    - ``scorer`` / ``embedder``: the sentence scorer of the embedding engine (as in
      :class:`~ctxcompress.RelevanceFilter`: ``"hybrid"``, ``"embedding"``, ``"bm25"`` or any
      :class:`~ctxcompress.Scorer` such as :class:`~ctxcompress.OnnxCrossEncoder`).
    - ``min_relevance``: a sentence is picked when its score is at least this far (0..1) from the
      median score to the best one; ``max_sentences``: at most this many picks (before context);
      ``threshold``: an absolute floor on the scorer's own scale (e.g. a cross-encoder logit of 0):
      no sentence below it is picked, so the output is empty when nothing clears it.
    - ``complete_context``: add the sentence before a quote that starts with a pronoun/connective.
    - ``follow_bridges``: a pick naming another source's title entity pulls in that source's best sentence.
    - ``link_threshold``: embedding similarity at which two quotes share a section (besides shared
      entities and bridges); ``None`` (or a scorer without an embedder) groups by entities and bridges only.
    - ``title_key``: the metadata key holding a chunk's title (chunks without one use their id).
    - ``min_quote_chars`` / ``min_piece_words`` / ``min_untitled_words`` (LLM engine): the verifier's
      minimums: a quote needs that many letters or digits; a piece of a quote verified on its own
      (split at ``...``, a line break or a sentence) that many words, and more for a quote without
      a title, which is searched in every source (see :func:`~ctxcompress._refiner.verify.verify_quotes`).
    - ``on_error``: ``"passthrough"`` returns the input unchanged (with a warning) when a model fails.

    The report's stage details hold what happened: for the LLM engine the counts of quotes kept
    ``verbatim``, ``repaired`` (whitespace/punctuation/case differences, or unverifiable pieces
    left out) and ``dropped`` (with ``dropped_reasons``), and ``duplicates`` removed. An empty
    output (nothing relevant) is allowed and reported as a warning.
    """

    def __init__(
        self,
        *,
        engine: Engine = "embedding",
        llm: Any = None,
        prompt: str | None = None,
        scorer: ScorerSpec | Scorer = "hybrid",
        embedder: Embedder | str | None = None,
        min_relevance: float = 0.3,
        max_sentences: int | None = 6,
        threshold: float | None = None,
        complete_context: bool = True,
        follow_bridges: bool = True,
        link_threshold: float | None = 0.6,
        title_key: str = "title",
        min_quote_chars: int = 3,
        min_piece_words: int = 3,
        min_untitled_words: int = 5,
        on_error: OnError = "raise",
    ) -> None:
        self.engine: Engine = validate_choice("engine", engine, ("embedding", "llm"))
        if engine == "llm" and llm is None:
            raise ConfigError(
                "engine='llm' needs llm=: a callable prompt -> text, a LangChain chat model, 'smollm2' "
                "or a local Hugging Face model folder"
            )
        check_llm_spec(llm)
        self.llm = llm
        if prompt is not None and (
            not isinstance(prompt, str) or "{question}" not in prompt or "{documents}" not in prompt
        ):
            raise ConfigError("prompt must be a str holding both '{question}' and '{documents}'")
        self.prompt = prompt
        self.scorer = check_scorer(scorer)
        self.embedder = embedder
        self.min_relevance = validate_number("min_relevance", min_relevance, low=0.0, high=1.0, allow_none=False)
        self.max_sentences = validate_number("max_sentences", max_sentences, low=1, integer=True)
        self.threshold = validate_number("threshold", threshold)
        self.complete_context = validate_choice("complete_context", complete_context, (True, False))
        self.follow_bridges = validate_choice("follow_bridges", follow_bridges, (True, False))
        self.link_threshold = validate_number("link_threshold", link_threshold, low=-1.0, high=1.0)
        self.title_key = check_title_key(title_key)
        self.min_quote_chars = validate_number(
            "min_quote_chars", min_quote_chars, low=1, integer=True, allow_none=False
        )
        self.min_piece_words = validate_number(
            "min_piece_words", min_piece_words, low=1, integer=True, allow_none=False
        )
        self.min_untitled_words = validate_number(
            "min_untitled_words", min_untitled_words, low=1, integer=True, allow_none=False
        )
        self.on_error = validate_choice("on_error", on_error, ("raise", "passthrough"))
        self._filter = RelevanceFilter(scorer=scorer, embedder=embedder, title_key=title_key)
        self._llm_fn: Callable[[str], Any] | None = None

    # ---------------------------------------------------------------- models
    def _get_llm(self) -> Callable[[str], Any]:
        """The LLM as a plain callable. Not :func:`ctxcompress._lm.llm.as_llm`'s guard: an empty answer
        is a valid Refiner output here (nothing relevant), and faults are wrapped at the call."""
        if self._llm_fn is None:
            obj = self.llm
            if isinstance(obj, str):
                obj = HFLocalLLM.from_spec(obj)
            invoke = getattr(obj, "invoke", None)
            self._llm_fn = invoke if callable(invoke) else obj
        assert self._llm_fn is not None
        return self._llm_fn

    def _uses_embedder(self) -> bool:
        return self.engine == "embedding" and self.scorer in ("hybrid", "embedding")

    def warm_up(self) -> None:
        if self.engine == "llm":
            fn = self._get_llm()
            warm = getattr(fn, "warm_up", None)
            if callable(warm):
                warm()
        elif self._uses_embedder():
            self._filter.warm_up()
        else:
            warm = getattr(self.scorer, "warm_up", None)
            if callable(warm):
                warm()

    # ---------------------------------------------------------------- rendering
    def _render(self, chunks: Sequence[Chunk]) -> str:
        """The sectioned text: ``{n}.{m}. ## {title}\\n{quote}`` blocks, numbered contiguously."""
        return render_chunks(chunks, self.title_key)

    # ---------------------------------------------------------------- the call
    def _compress(self, chunks: list[Chunk], *, query: str, cap: int | None, ctx: CallContext) -> list[Chunk]:
        tokens_in = ctx.count(join_text(chunks))
        limit = tokens_in if cap is None else min(cap, tokens_in)
        ctx.details["engine"] = self.engine
        if self.engine == "llm":
            items = self._llm_engine(chunks, query, ctx)
        else:
            items = self._embedding_engine(chunks, query, limit, ctx)
        found = len(items)
        out = build_chunks(chunks, items)
        # exact check on the rendered text: drop the weakest quote until it fits (the weakest first,
        # the later of equals first; O(log k) full counts)
        if out and ctx.count(self._render(out)) > limit:
            weakest = sorted(range(len(items)), key=lambda i: (items[i].score, -i))

            def without(k: int) -> list[QuoteItem]:
                drop = set(weakest[:k])
                rest = [it for i, it in enumerate(items) if i not in drop]
                _relabel(rest)
                return rest

            def fits(k: int) -> bool:
                rendered = build_chunks(chunks, without(k))
                return not rendered or ctx.count(self._render(rendered)) <= limit

            items = without(fewest_drops(fits, len(items)))
            out = build_chunks(chunks, items)
        out, _cut = fit_to_budget(out, limit, ctx.count, render=self._render)
        ctx.details["quotes"] = len(out)
        ctx.details["sections"] = len({str(c.metadata.get(SECTION_KEY, "")).split(".")[0] for c in out})
        if not out and found:
            ctx.warnings.append(f"the budget of {limit} tokens left no room for any of the {found} quotes found")
        elif not out:
            ctx.warnings.append("nothing relevant to the query was found: the output is empty")
        return out

    # ---------------------------------------------------------------- engines
    def _embedding_engine(self, chunks: list[Chunk], query: str, limit: int, ctx: CallContext) -> list[QuoteItem]:
        units = make_units(chunks, "sentence")
        ctx.details["sentences"] = len(units)
        if not units or not query.strip() or limit <= 0:
            return []
        scores = np.asarray(self._filter.score_units(chunks, units, query, ctx), dtype=np.float64)
        has_title = [bool(chunk_title(c, self.title_key)) for c in chunks]
        titles = [source_title(c, self.title_key) for c in chunks]
        chosen, stats = pick_units(
            chunks,
            units,
            scores,
            titles=titles,
            has_title=has_title,
            limit=limit,
            count=ctx.count,
            min_relevance=self.min_relevance,
            max_sentences=self.max_sentences,
            threshold=self.threshold,
            complete_context=self.complete_context,
            follow_bridges=self.follow_bridges,
        )
        ctx.details.update(stats)
        for ci, ch in enumerate(chunks):
            unit_scores = [float(scores[i]) for i, u in enumerate(units) if u.chunk == ci]
            if unit_scores and ch.id is not None:
                ctx.scores[ch.id] = max(unit_scores)
        runs = runs_of(chosen, units)
        if not runs:
            return []
        texts = [chunks[units[r[0]].chunk].text[units[r[0]].start : units[r[-1]].end] for r in runs]
        chunk_of = [units[r[0]].chunk for r in runs]
        run_scores = [max(float(scores[i]) for i in r) for r in runs]
        similarity = None
        if self.link_threshold is not None and self._uses_embedder() and len(runs) > 1:
            # a quote's vector: the mean of its sentences' vectors, as the scorer embedded them (a
            # cache hit in this call, no new model call)
            raw_titles = [chunk_title(c, self.title_key) for c in chunks]
            texts_of = [f"{raw_titles[u.chunk]}: {u.text}" if raw_titles[u.chunk] else u.text for u in units]
            vecs = ctx.embed(self._filter._get_embedder(), [texts_of[i] for r in runs for i in r])
            means = []
            pos = 0
            for r in runs:
                m = vecs[pos : pos + len(r)].mean(axis=0)
                means.append(m / (np.linalg.norm(m) or 1.0))
                pos += len(r)
            qv = np.stack(means)
            similarity = qv @ qv.T
        sections = group_quotes(
            texts,
            chunk_of,
            run_scores,
            [units[r[0]].start for r in runs],
            titles=titles,
            has_title=has_title,
            similarity=similarity,
            link_threshold=self.link_threshold if self.link_threshold is not None else 2.0,
        )
        items: list[QuoteItem] = []
        for g, members in enumerate(sections):
            for m in members:
                r = runs[m]
                items.append(QuoteItem(chunk_of[m], [(units[r[0]].start, units[r[-1]].end)], "", run_scores[m], g))
        _relabel(items)
        return items

    def _llm_engine(self, chunks: list[Chunk], query: str, ctx: CallContext) -> list[QuoteItem]:
        if not query.strip():
            return []
        prompt = build_prompt(query, chunks, title_key=self.title_key, template=self.prompt)
        fn = self._get_llm()
        try:
            raw = fn(prompt)
        except CtxCompressError:
            raise
        except Exception as exc:  # a model fault: the error policy decides
            raise BackendError(f"llm failed: {type(exc).__name__}: {exc}") from exc
        text = message_text(raw)
        if text is None:
            raise BackendError(f"llm returned a {type(raw).__name__}, expected text")
        if text.startswith(prompt):  # a generator that echoes its prompt
            text = text[len(prompt) :]
        titles = [source_title(c, self.title_key) for c in chunks]
        parsed = parse_refiner_output(text, titles=titles)
        unformatted = bool(text.strip()) and not parsed
        if unformatted:
            # no section header at all (small models often answer so): the text is one untitled
            # quote, searched in every source; only what is verbatim there survives
            parsed = [RefinerQuote(1, None, "", text.strip())]
            ctx.warnings.append("the LLM output held no Refiner-formatted quote: its text was searched in every source")
        ver = verify_quotes(
            parsed,
            chunks,
            title_key=self.title_key,
            min_quote_chars=self.min_quote_chars,
            min_piece_words=self.min_piece_words,
            min_untitled_words=self.min_untitled_words,
        )
        ctx.details.update(
            {
                "llm_output_chars": len(text),
                "parsed": 0 if unformatted else len(parsed),
                "unformatted": unformatted,
                **ver.counts(),
                "dropped_reasons": dict(ver.reasons),
            }
        )
        if ver.dropped:
            ctx.warnings.append(
                f"{ver.dropped} of {len(parsed)} quotes from the LLM were not found in their source and were dropped"
            )
        n = len(ver.quotes)
        items = [_item_of(vq, rank, n) for rank, vq in enumerate(ver.quotes)]
        return items


# --------------------------------------------------------------------------- helpers
def _item_of(vq: VerifiedQuote, rank: int, n: int) -> QuoteItem:
    major = int(vq.section.split(".")[0])
    return QuoteItem(vq.source, list(vq.ranges), vq.section, float(n - rank), major)


def _relabel(items: list[QuoteItem]) -> None:
    """Contiguous ``major.minor`` labels in list order (items of one group are consecutive)."""
    major = 0
    minor = 0
    last: int | None = None
    for it in items:
        if it.group != last:
            major += 1
            minor = 0
            last = it.group
        minor += 1
        it.section = f"{major}.{minor}"


def build_chunks(sources: Sequence[Chunk], items: Sequence[QuoteItem]) -> list[Chunk]:
    """One output chunk per quote: verbatim spans, the source's metadata, score and section label.

    The id is the source id, or ``"{source id}#q{n}"`` when one source yields several quotes
    (``n`` in text order); ``metadata["ctxcompress.source"]`` always holds the source id.
    """
    per_source: dict[int, list[int]] = {}
    for k, it in enumerate(items):
        per_source.setdefault(it.chunk, []).append(k)
    ids: dict[int, str] = {}
    for ci, ks in per_source.items():
        src_id = sources[ci].id or str(ci)
        if len(ks) == 1:
            ids[ks[0]] = src_id
        else:
            for n, k in enumerate(sorted(ks, key=lambda k: min(items[k].ranges)), start=1):
                ids[k] = f"{src_id}#q{n}"
    out: list[Chunk] = []
    for k, it in enumerate(items):
        src = sources[it.chunk]
        piece = extract(src, it.ranges, sep=QUOTE_SEPARATOR)
        if piece is None:
            continue
        spans = piece.spans
        if not spans and ids[k] != src.id:
            spans = tuple(src.trace(0, len(src.text), out_start=0))
        meta = {**src.metadata, SECTION_KEY: it.section, SOURCE_KEY: src.id}
        out.append(piece.replace(id=ids[k], metadata=meta, spans=spans))
    return out


def render_chunks(chunks: Sequence[Chunk], title_key: str = "title") -> str:
    """Refiner's sectioned text for output chunks (plain :data:`~ctxcompress._core.result.SEPARATOR` join when
    no chunk carries a section label, e.g. a passed-through input).

    Sections are renumbered contiguously from the chunks' labels: consecutive chunks with the same
    first number form one section; a chunk without a label is a section of its own.
    """
    if not any(SECTION_KEY in c.metadata for c in chunks):
        return join_text(chunks)
    rows: list[tuple[str, str, str]] = []
    major = 0
    minor = 0
    last: object = None
    for i, c in enumerate(chunks):
        label = c.metadata.get(SECTION_KEY)
        key: object = str(label).split(".")[0] if label else ("own", i)
        if key != last:
            major += 1
            minor = 0
            last = key
        minor += 1
        rows.append((f"{major}.{minor}", source_title(c, title_key), c.text))
    return render_sections(rows)
