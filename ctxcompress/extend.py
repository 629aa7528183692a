"""Everything a compressor written outside ctxcompress needs, in one public module.

Subclass :class:`Compressor`, take keyword-only constructor parameters stored under the same names
(check them with :func:`validate_number` / :func:`validate_choice`, which raise
:class:`~ctxcompress.ConfigError`), and implement ``_compress(chunks, *, query, cap, ctx)``:

- ``chunks`` are the (non-empty) input chunks, ``cap`` the token cap of the rendered output
  (``None`` without a budget); ``ctx`` (:class:`CallContext`) counts tokens with the call's counter
  (``ctx.count``), embeds and scores with checked calls (``ctx.embed``, ``ctx.score``), and collects
  ``ctx.warnings``, ``ctx.details`` (the stage's report) and ``ctx.scores`` (per source id).
- Return chunks cut from the input with :func:`extract` (verbatim, with spans into the sources), or
  choose units with the selection helpers: :func:`make_units` (sentences or whole chunks),
  :func:`fill_under_cap` (greedy, best first), :func:`drop_weakest` (the fewest weakest dropped until
  the rendered text fits: token counts are not additive) and :func:`build_chunks`.
- A compressor that writes new text (a summary) sets ``abstractive = True`` on the class (or a
  property, when a parameter decides); evaluations read it.

Register the class with :func:`~ctxcompress.register_type` so that ``to_dict`` / ``from_dict`` and
configuration files can name it, and test it with :class:`ctxcompress.testing.CompressorConformance`.
The README shows a complete example. Framework adapters use :func:`resolve_store` (a store object
or a file path, opened once per process) and :func:`unknown_fields_message` (misspelt keywords).
"""

from __future__ import annotations

from ._core.compressor import Compressor, OnError
from ._core.context import CallContext
from ._core.defaults import resolve_store
from ._core.registry import register_type
from ._core.result import SEPARATOR, join_text
from ._core.select import Unit, build_chunks, drop_weakest, fill_under_cap, make_units
from ._core.text import extract, fit_to_budget
from ._core.validate import unknown_fields_message, validate_choice, validate_number

__all__ = [  # noqa: RUF022 - plain sorted order, checked by a test
    "CallContext",
    "Compressor",
    "OnError",
    "SEPARATOR",
    "Unit",
    "build_chunks",
    "drop_weakest",
    "extract",
    "fill_under_cap",
    "fit_to_budget",
    "join_text",
    "make_units",
    "register_type",
    "resolve_store",
    "unknown_fields_message",
    "validate_choice",
    "validate_number",
]
