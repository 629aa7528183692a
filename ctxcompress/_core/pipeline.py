"""A pipeline of named compressors, itself a compressor."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .compressor import Compressor, OnError
from .context import CallContext
from .errors import ConfigError
from .protocols import Embedder
from .report import StageReport
from .result import join_text
from .text import fit_to_budget
from .types import Budget, Chunk
from .validate import validate_choice

__all__ = ["Pipeline", "config_to_compressor", "load_config"]

StepSpec = tuple[str, Compressor] | Compressor


class Pipeline(Compressor):
    """Runs compressors in order; the budget is enforced (as a hard cap) after the last step.

    ``Pipeline([("fuse", RedundancyFusion()), ("filter", RelevanceFilter())])``; unnamed steps get
    their lower-cased class name. ``a | b`` builds the same thing. Every step receives the
    pipeline's budget resolved against the *pipeline's* input tokens, so a kept fraction means a
    fraction of what the retriever returned.

    ``budgets`` (optional) gives some steps a budget of their own, by step name: a kept fraction
    (a float in (0, 1]) or a number of tokens (an int), resolved like the pipeline's budget against
    the *pipeline's* input tokens. Such a step gets the smaller of its own cap and the pipeline's,
    and its output is held to it (cut at a boundary if the step overshoots); ``ctxcompress tune``
    writes them. ``{"filter": 0.3}``: the step ``filter`` keeps at most 30% of the input tokens.
    """

    def __init__(
        self,
        steps: Sequence[StepSpec],
        *,
        on_error: OnError = "raise",
        budgets: Mapping[str, float | int | None] | None = None,
    ) -> None:
        self.on_error = validate_choice("on_error", on_error, ("raise", "passthrough"))
        named: list[tuple[str, Compressor]] = []
        for i, step in enumerate(steps):
            if isinstance(step, Compressor):
                name, comp = type(step).__name__.lower(), step
            elif isinstance(step, (tuple, list)) and len(step) == 2 and isinstance(step[1], Compressor):
                name, comp = str(step[0]), step[1]
            else:
                raise ConfigError(f"step {i} must be a compressor or a (name, compressor) pair, got {step!r}")
            if not name or "__" in name:
                raise ConfigError(f"invalid step name {name!r}: names are non-empty and contain no '__'")
            named.append((name, comp))
        # make automatic names unique: filter, filter_2, ...
        seen: dict[str, int] = {}
        unique: list[tuple[str, Compressor]] = []
        for name, comp in named:
            seen[name] = seen.get(name, 0) + 1
            unique.append((name if seen[name] == 1 else f"{name}_{seen[name]}", comp))
        if len({n for n, _ in unique}) != len(unique):
            raise ConfigError("step names must be unique")
        self.steps: list[tuple[str, Compressor]] = unique
        self.budgets: dict[str, float | int] = _check_budgets(budgets, [n for n, _ in unique])

    @property
    def named_steps(self) -> dict[str, Compressor]:
        return dict(self.steps)

    @property
    def abstractive(self) -> bool:
        """True when one of the steps writes new text (see :attr:`Compressor.abstractive`)."""
        return any(step.abstractive for _, step in self.steps)

    def __getitem__(self, key: str | int) -> Compressor:
        if isinstance(key, int):
            return self.steps[key][1]
        return self.named_steps[key]

    def __len__(self) -> int:
        return len(self.steps)

    def __or__(self, other: Compressor) -> Compressor:
        if not isinstance(other, Compressor):
            return NotImplemented
        extra = other.steps if isinstance(other, Pipeline) else [other]
        return Pipeline([*self.steps, *extra], on_error=self.on_error)

    def __ror__(self, other: Compressor) -> Compressor:
        if not isinstance(other, Compressor):
            return NotImplemented
        return Pipeline([other, *self.steps], on_error=self.on_error)

    def warm_up(self) -> None:
        for _, step in self.steps:
            step.warm_up()

    def embedding_texts(self, chunks: Sequence[Chunk]) -> list[tuple[Embedder, list[str]]]:
        """Every step's :meth:`~ctxcompress.Compressor.embedding_texts` for ``chunks`` (later steps see
        parts of the same sentences, so the input's sentences stand for theirs)."""
        out: list[tuple[Embedder, list[str]]] = []
        for _, step in self.steps:
            out.extend(step.embedding_texts(chunks))
        return out

    # ---------------------------------------------------------------- running
    def _compress(self, chunks: list[Chunk], *, query: str, cap: int | None, ctx: CallContext) -> list[Chunk]:
        out, _ = self._run(chunks, query=query, cap=cap, ctx=ctx, name="")
        return out

    def _default_name(self) -> str:
        return ""  # the top-level pipeline: its stages keep their own names

    def _run(
        self, chunks: list[Chunk], *, query: str, cap: int | None, ctx: CallContext, name: str
    ) -> tuple[list[Chunk], list[StageReport]]:
        stages: list[StageReport] = []
        current = chunks
        prefix = f"{name}/" if name else ""
        tokens_in = ctx.count(join_text(chunks)) if self.budgets else 0
        for step_name, step in self.steps:
            saved = ctx.passthrough
            ctx.passthrough = saved or self.on_error == "passthrough"
            step_cap = cap
            own = self.budgets.get(step_name)
            if own is not None:
                mine = Budget.coerce(own).resolve(tokens_in)
                step_cap = mine if cap is None or (mine is not None and mine < cap) else cap
            try:
                current, st = step._run(current, query=query, cap=step_cap, ctx=ctx, name=prefix + step_name)
            finally:
                ctx.passthrough = saved
            if own is not None:
                current, cut = fit_to_budget(current, step_cap, ctx.count, render=step._render)
                if cut:
                    ctx.warnings.append(f"{prefix + step_name}: output cut to hold its budget of {step_cap} tokens")
            stages.extend(st)
        if name:  # a nested pipeline holds its own cap
            current, cut = fit_to_budget(current, cap, ctx.count, render=self._render)
            if cut:
                ctx.warnings.append(f"{name}: output cut to hold the budget of {cap} tokens")
        return current, stages

    def _render(self, chunks: Sequence[Chunk]) -> str:
        return self.steps[-1][1]._render(chunks) if self.steps else join_text(chunks)

    # ---------------------------------------------------------------- parameters
    def get_params(self, deep: bool = True) -> dict[str, Any]:
        params: dict[str, Any] = {"steps": list(self.steps), "on_error": self.on_error, "budgets": dict(self.budgets)}
        if deep:
            for name, step in self.steps:
                params[name] = step
                for key, value in step.get_params(deep=True).items():
                    params[f"{name}__{key}"] = value
        return params

    def set_params(self, **params: Any) -> Pipeline:
        """``set_params(filter__top_k=5)`` changes a step's parameter; ``set_params(filter=other)`` a step."""
        own: dict[str, Any] = {}
        per_step: dict[str, dict[str, Any]] = {}
        names = self.named_steps
        for key, value in params.items():
            if "__" in key:
                step, _, sub = key.partition("__")
                if step not in names:
                    raise ConfigError(f"no step named {step!r}; steps: {', '.join(names)}")
                per_step.setdefault(step, {})[sub] = value
            elif key in names:
                if not isinstance(value, Compressor):
                    raise ConfigError(f"step {key!r} must be replaced by a compressor")
                self.steps = [(n, value if n == key else s) for n, s in self.steps]
            elif key in ("steps", "on_error", "budgets"):
                own[key] = value
            else:
                raise ConfigError(f"Pipeline has no parameter or step {key!r}; steps: {', '.join(names)}")
        for step_name, step_params in per_step.items():
            self.named_steps[step_name].set_params(**step_params)
        if own:
            fresh = Pipeline(
                own.get("steps", self.steps),
                on_error=own.get("on_error", self.on_error),
                budgets=own.get("budgets", self.budgets),
            )
            self.__dict__.update(fresh.__dict__)
        return self

    def to_dict(self) -> dict[str, Any]:
        params: dict[str, Any] = {
            "steps": [{"name": n, **s.to_dict()} for n, s in self.steps],
            "on_error": self.on_error,
        }
        if self.budgets:
            params["budgets"] = dict(self.budgets)
        return {"type": "ctxcompress.Pipeline", "init_parameters": params}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Pipeline:
        """Build a pipeline from ``to_dict`` data (or ``{"steps": [...]}``); each step's ``type`` must be a
        registered name (see :func:`ctxcompress.register_type`), resolved before anything is called."""
        from .registry import canonical_name, check_shape

        if not isinstance(data, Mapping):
            raise ConfigError(f"a pipeline configuration is a mapping, got {type(data).__name__}")
        check_shape(data)
        params = data.get("init_parameters", data)
        if not isinstance(params, Mapping):
            raise ConfigError("'init_parameters' must be a mapping")
        raw_steps = params.get("steps")
        if not isinstance(raw_steps, list) or not raw_steps:
            raise ConfigError("a pipeline configuration needs a non-empty 'steps' list")
        steps: list[tuple[str, Compressor]] = []
        for i, raw in enumerate(raw_steps):
            if not isinstance(raw, Mapping) or "type" not in raw:
                raise ConfigError(f"step {i} needs a 'type' (e.g. 'ctxcompress.RelevanceFilter')")
            type_name = raw["type"]
            if not isinstance(type_name, str) or not type_name:
                raise ConfigError(f"step {i}: 'type' must be a non-empty string, got {type_name!r}")
            extra = sorted(str(k) for k in raw if k not in ("name", "type", "init_parameters"))
            if extra:
                raise ConfigError(f"step {i} ({type_name}) has unexpected keys {extra}")
            step = Compressor.from_dict({"type": type_name, "init_parameters": raw.get("init_parameters") or {}})
            step_name = raw.get("name") or canonical_name(type_name).rsplit(".", 1)[-1].lower()
            steps.append((str(step_name), step))
        return cls(steps, on_error=params.get("on_error", "raise"), budgets=params.get("budgets"))

    def __repr__(self) -> str:
        inner = ", ".join(f"({n!r}, {s!r})" for n, s in self.steps)
        return f"Pipeline([{inner}])"


def _check_budgets(budgets: Any, names: list[str]) -> dict[str, float | int]:
    if budgets is None:
        return {}
    if not isinstance(budgets, Mapping):
        raise ConfigError(f"budgets must be a mapping of step name to budget, got {type(budgets).__name__}")
    out: dict[str, float | int] = {}
    for key, value in budgets.items():
        if key not in names:
            raise ConfigError(f"budgets names no step {key!r}; steps: {', '.join(names)}")
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(
                f"budget of step {key!r} must be a fraction in (0, 1] or a number of tokens, got {value!r}"
            )
        Budget.coerce(value)  # ConfigError when out of range
        out[str(key)] = value
    return out


def load_config(path: str | Path) -> Compressor:
    """Build a compressor or pipeline from a YAML or JSON file (the ``to_dict`` envelope, or ``steps:``).

    The file is data: every ``type`` it names, at any depth, must be registered (ctxcompress's own
    types, or classes given to :func:`ctxcompress.register_type`) and is resolved before anything is
    imported or called; anything else is a :class:`ConfigError` naming the refused type. The file's
    size, nesting depth and YAML alias expansion are bounded.
    """
    from .registry import read_config

    data = read_config(path)
    return config_to_compressor(data, where=str(path))


def config_to_compressor(data: Any, *, where: str = "configuration") -> Compressor:
    """The compressor that parsed configuration ``data`` describes: a ``to_dict`` envelope, or
    ``{"steps": [...]}`` for a pipeline; only registered types (see :func:`load_config`)."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: expected a mapping at the top level")
    if "steps" in data and "type" not in data:
        return Pipeline.from_dict({"init_parameters": data})
    if "type" not in data:
        raise ConfigError(f"{where}: expected 'type' (a compressor) or 'steps' (a pipeline) at the top level")
    return Compressor.from_dict(data)
