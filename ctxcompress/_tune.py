"""``ctxcompress tune``: the least kept fraction per pipeline stage that keeps answer-in-context recall.

G-Search's greedy rule (shallow stage to deep stage, under the assumption that what is essential does
not grow along the stages): for each stage in order, holding the earlier stages at their chosen
budgets, evaluate the pipeline up to that stage at every kept fraction of ``grid`` not above the
previous stage's choice, and keep the least one whose answer-in-context recall on the dev set is at
least the uncompressed context's recall minus ``tolerance``. The choice is written as the stage's
own budget (:class:`~ctxcompress.Pipeline` ``budgets``, a fraction of the pipeline's input tokens).

Every stage that takes an ``embedder`` gets one :class:`~ctxcompress.CachedEmbedder` (per distinct
embedder) for the whole search, so no sentence or question is embedded twice; the result says how
many vectors were computed and reused, and how long the search took.
"""

from __future__ import annotations

import gzip
import json
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._backends.cache import CachedEmbedder
from ._core.answers import answer_in_context
from ._core.compressor import Compressor
from ._core.errors import ConfigError, InputError
from ._core.pipeline import Pipeline, config_to_compressor, load_config
from ._core.protocols import TokenCounter, embedder_identity
from ._core.result import join_text
from ._core.types import Chunk

__all__ = ["DEFAULT_GRID", "DevQuestion", "TunePoint", "TuneResult", "read_dev_set", "tune", "write_pipeline"]

DEFAULT_GRID: tuple[float, ...] = (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
"""Kept fractions tried per stage (those above the previous stage's choice are skipped)."""

_LABELS = frozenset({"yes", "no", "maybe"})


@dataclass(frozen=True)
class DevQuestion:
    """One dev-set question: its gold answers and the passages to compress (one chunk each)."""

    question: str
    answers: tuple[str, ...]
    contexts: tuple[Chunk, ...]
    id: str = ""
    label_answer: bool = False

    @property
    def scored(self) -> bool:
        """Whether recall counts it: a span answer (not a yes/no/maybe label)."""
        if self.label_answer or not self.answers:
            return False
        return not all(a.strip().lower() in _LABELS for a in self.answers)


def _iter_lines(path: Path) -> Iterator[tuple[int, str]]:
    opener: Any = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                yield n, line


def read_dev_set(path: str | os.PathLike[str], limit: int | None = None) -> list[DevQuestion]:
    """Read a dev set in the eval harness's JSON-lines format (``.jsonl`` or ``.jsonl.gz``).

    One question per line: ``{"id"?: str, "question": str, "answers": [str, ...] | str, "contexts":
    [{"title"?: str, "text": str, ...} | str, ...], "label_answer"?: bool}``. A context becomes a chunk
    with id ``"<question id>:<position>"`` and its other keys (``title``...) as metadata.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"dev set {p} does not exist")
    out: list[DevQuestion] = []
    for n, line in _iter_lines(p):
        if limit is not None and len(out) >= limit:
            break
        try:
            r = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{p}:{n}: not JSON ({exc.msg})") from None
        if not isinstance(r, Mapping):
            raise InputError(f"{p}:{n}: a record is a JSON object")
        for key in ("question", "answers", "contexts"):
            if key not in r:
                raise InputError(f"{p}:{n}: record has no {key!r} (keys: {sorted(r)})")
        answers = [r["answers"]] if isinstance(r["answers"], str) else r["answers"]
        if not isinstance(answers, list) or not isinstance(r["contexts"], list):
            raise InputError(f"{p}:{n}: 'answers' and 'contexts' are lists")
        qid = str(r.get("id", n))
        chunks = []
        for i, c in enumerate(r["contexts"]):
            c = {"text": c} if isinstance(c, str) else c
            if not isinstance(c, Mapping) or not isinstance(c.get("text"), str):
                raise InputError(f"{p}:{n}: context {i} needs a 'text' string")
            meta = {str(k): v for k, v in c.items() if k not in ("text", "id")}
            chunks.append(Chunk(c["text"], id=f"{qid}:{i}", metadata=meta))
        out.append(
            DevQuestion(
                question=str(r["question"]),
                answers=tuple(str(a) for a in answers),
                contexts=tuple(chunks),
                id=qid,
                label_answer=bool(r.get("label_answer", False)),
            )
        )
    return out


@dataclass(frozen=True)
class TunePoint:
    """One evaluation: stage ``stage`` at kept fraction ``budget`` (earlier stages at their choices)."""

    stage: str
    budget: float
    kept: float
    recall: float
    seconds: float


@dataclass(frozen=True)
class TuneResult:
    """The tuned pipeline, the choice per stage and every point evaluated."""

    pipeline: Pipeline
    budgets: dict[str, float]
    baseline_recall: float
    target_recall: float
    tolerance: float
    recall: float
    kept: float
    untuned_recall: float
    untuned_kept: float
    n_questions: int
    points: tuple[TunePoint, ...]
    seconds: float
    vectors_computed: int
    vectors_reused: int
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return {
            "pipeline": self.pipeline.to_dict(),
            "budgets": dict(self.budgets),
            "baseline_recall": self.baseline_recall,
            "target_recall": self.target_recall,
            "tolerance": self.tolerance,
            "recall": self.recall,
            "kept": self.kept,
            "untuned_recall": self.untuned_recall,
            "untuned_kept": self.untuned_kept,
            "n_questions": self.n_questions,
            "points": [p.__dict__ for p in self.points],
            "seconds": self.seconds,
            "vectors_computed": self.vectors_computed,
            "vectors_reused": self.vectors_reused,
            "notes": list(self.notes),
        }

    def to_markdown(self) -> str:
        """The report: the choice per stage, before/after, and the recall-vs-kept table per stage."""
        lines = [
            "# ctxcompress tune",
            "",
            f"{self.n_questions} questions with span answers; uncompressed recall {self.baseline_recall:.3f}, "
            f"target {self.target_recall:.3f} (tolerance {self.tolerance:g}); "
            f"{self.seconds:.1f} s, {self.vectors_computed} vectors computed, {self.vectors_reused} reused.",
            "",
            "| pipeline | kept fraction | answer-in-context recall |",
            "|---|---|---|",
            f"| as given (no stage budgets) | {self.untuned_kept:.3f} | {self.untuned_recall:.3f} |",
            f"| tuned {json.dumps(self.budgets)} | {self.kept:.3f} | {self.recall:.3f} |",
        ]
        for stage in dict.fromkeys(p.stage for p in self.points):
            lines += ["", f"## stage `{stage}`", "", "| budget | kept | recall | within tolerance |"]
            lines.append("|---|---|---|---|")
            for p in sorted((p for p in self.points if p.stage == stage), key=lambda p: p.budget):
                ok = "yes" if p.recall >= self.target_recall - 1e-12 else "no"
                mark = " (chosen)" if self.budgets.get(stage) == p.budget else ""
                lines.append(f"| {p.budget:g}{mark} | {p.kept:.3f} | {p.recall:.3f} | {ok} |")
        if self.notes:
            lines += ["", *[f"- {n}" for n in self.notes]]
        return "\n".join(lines) + "\n"

    def plot(self, path: str | os.PathLike[str]) -> bool:
        """Recall vs kept fraction per stage as a PNG; ``False`` (nothing written) without matplotlib."""
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            return False
        fig, ax = plt.subplots(figsize=(6, 4))
        for stage in dict.fromkeys(p.stage for p in self.points):
            pts = sorted((p for p in self.points if p.stage == stage), key=lambda p: p.kept)
            ax.plot([p.kept for p in pts], [p.recall for p in pts], marker="o", label=stage)
        ax.axhline(self.target_recall, linestyle="--", color="grey", label="target")
        ax.set_xlabel("kept fraction")
        ax.set_ylabel("answer-in-context recall")
        ax.legend()
        fig.tight_layout()
        fig.savefig(os.fspath(path), dpi=120)
        plt.close(fig)
        return True


def _as_pipeline(spec: Compressor | str | os.PathLike[str] | Mapping[str, Any]) -> Pipeline:
    """A fresh pipeline (never the caller's object) from a pipeline, a compressor, a file or a mapping."""
    if isinstance(spec, (str, os.PathLike)):
        comp = load_config(Path(spec))
    elif isinstance(spec, Mapping):
        comp = config_to_compressor(spec)
    elif isinstance(spec, Compressor):
        comp = config_to_compressor(spec.to_dict())  # a copy: the search swaps embedders in
    else:
        raise ConfigError(f"pipeline must be a Pipeline, a compressor, a config file or a mapping, got {spec!r}")
    if not isinstance(comp, Pipeline):
        comp = Pipeline([comp])
    return comp


def _share_embedders(pipe: Pipeline) -> list[CachedEmbedder]:
    """Give every step that takes an ``embedder`` one cached embedder per distinct embedder."""
    caches: dict[str, CachedEmbedder] = {}  # by identity: equal vectors for equal texts
    for _, step in pipe.steps:
        if "embedder" not in step.get_params(deep=False):
            continue
        base = step._get_embedder()
        key = f"{type(base).__module__}.{type(base).__qualname__}:{embedder_identity(base)}"
        cached = caches.get(key)
        if cached is None:
            cached = base if isinstance(base, CachedEmbedder) else CachedEmbedder(base, max_entries=10_000_000)
            caches[key] = cached
        if cached is not base:
            step.set_params(embedder=cached)
    return list(caches.values())


def _evaluate(
    pipe: Compressor, questions: Sequence[DevQuestion], counter: TokenCounter | str | None
) -> tuple[float, float, float]:
    """(recall, kept fraction of all tokens, seconds) of ``pipe`` on the scored questions."""
    t0 = time.perf_counter()
    hits = tokens_in = tokens_out = 0
    for q in questions:
        res = pipe.compress(q.contexts, query=q.question, counter=counter)
        hits += answer_in_context(res.text, q.answers)
        tokens_in += res.report.tokens_in
        tokens_out += res.report.tokens_out
    n = max(1, len(questions))
    return hits / n, (tokens_out / tokens_in if tokens_in else 1.0), time.perf_counter() - t0


def tune(
    pipeline: Compressor | str | os.PathLike[str] | Mapping[str, Any],
    dev: str | os.PathLike[str] | Sequence[DevQuestion],
    *,
    tolerance: float = 0.02,
    grid: Sequence[float] = DEFAULT_GRID,
    stages: Sequence[str] | None = None,
    counter: TokenCounter | str | None = None,
    limit: int | None = None,
) -> TuneResult:
    """The least kept fraction per stage whose recall stays within ``tolerance`` of the uncompressed one.

    ``pipeline``: a :class:`~ctxcompress.Pipeline` (copied, never changed), a compressor, a YAML/JSON
    pipeline file or its mapping. ``dev``: a JSON-lines file (:func:`read_dev_set`) or questions.
    ``stages``: the step names to tune, in pipeline order (default: all). ``grid``: kept fractions in
    (0, 1]. Recall is answer-in-context recall (:func:`ctxcompress._core.answers.answer_in_context`)
    over the questions with span answers. Returns the tuned pipeline (``result.pipeline``, the given
    steps with ``budgets`` set, original embedders) and the report.
    """
    t0 = time.perf_counter()
    if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)) or not 0 <= tolerance < 1:
        raise ConfigError(f"tolerance must be a number in [0, 1), got {tolerance!r}")
    fractions = sorted({float(g) for g in grid})
    if not fractions or any(not 0 < g <= 1 for g in fractions):
        raise ConfigError(f"grid must hold kept fractions in (0, 1], got {list(grid)!r}")
    original = _as_pipeline(pipeline)
    names = [n for n, _ in original.steps]
    wanted = names if stages is None else list(stages)
    unknown = [s for s in wanted if s not in names]
    if unknown:
        raise ConfigError(f"no step named {unknown}; steps: {', '.join(names)}")
    questions = read_dev_set(dev, limit) if isinstance(dev, (str, os.PathLike)) else list(dev)[:limit]
    scored = [q for q in questions if q.scored]
    if not scored:
        raise InputError("the dev set has no question with a span answer to measure recall on")

    search = _as_pipeline(original)
    caches = _share_embedders(search)
    baseline = sum(answer_in_context(join_text(q.contexts), q.answers) for q in scored) / len(scored)
    target = baseline - tolerance
    untuned_recall, untuned_kept, _ = _evaluate(search, scored, counter)

    chosen: dict[str, float] = {}
    points: list[TunePoint] = []
    notes: list[str] = []
    if tolerance < 1 / len(scored):
        notes.append(
            f"the tolerance {tolerance:g} is below one question of {len(scored)} ({1 / len(scored):.3f}): "
            "no question may lose its answer"
        )
    upper = 1.0
    for name in names:
        if name not in wanted:
            continue
        idx = names.index(name)
        best: float | None = None
        for f in (g for g in fractions if g <= upper + 1e-12):
            prefix = Pipeline(search.steps[: idx + 1], budgets={**chosen, name: f})
            recall, kept, secs = _evaluate(prefix, scored, counter)
            points.append(TunePoint(name, f, kept, recall, secs))
            if best is None and recall >= target - 1e-12:
                best = f
                break  # the least fraction that holds: larger ones are not needed
        if best is None:
            notes.append(f"stage {name!r}: no fraction up to {upper:g} holds the target; left at {upper:g}")
            best = upper
        if best < upper - 1e-12:
            chosen[name] = best
        else:
            notes.append(f"stage {name!r}: no budget below {upper:g} holds the target; none set")
        upper = best

    search_tuned = Pipeline(search.steps, on_error=search.on_error, budgets=chosen)
    recall, kept, _ = _evaluate(search_tuned, scored, counter)
    tuned = Pipeline(original.steps, on_error=original.on_error, budgets={**original.budgets, **chosen})
    computed = sum(c.cache_info().misses for c in caches)
    reused = sum(c.cache_info().hits for c in caches)
    return TuneResult(
        pipeline=tuned,
        budgets=chosen,
        baseline_recall=baseline,
        target_recall=target,
        tolerance=float(tolerance),
        recall=recall,
        kept=kept,
        untuned_recall=untuned_recall,
        untuned_kept=untuned_kept,
        n_questions=len(scored),
        points=tuple(points),
        seconds=time.perf_counter() - t0,
        vectors_computed=computed,
        vectors_reused=reused,
        notes=tuple(notes),
    )


def write_pipeline(pipe: Compressor, path: str | os.PathLike[str]) -> None:
    """Write ``pipe.to_dict()`` to ``path``: YAML for ``.yaml``/``.yml`` (needs PyYAML), else JSON."""
    p = Path(path)
    data = pipe.to_dict()
    if p.suffix.lower() in (".yaml", ".yml"):
        import yaml  # a dependency of ctxcompress (configuration files)

        p.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    else:
        p.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
