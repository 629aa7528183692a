"""The public extension API (issue 13 §5): ``ctxcompress.extend``, ``Compressor.abstractive``, and the
README's custom compressor, which passes the conformance suite."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import ctxcompress
import ctxcompress.extend as extend
from ctxcompress import Compressor, ConfigError, Pipeline, RelevanceFilter, Summarizer
from ctxcompress._core.registry import _unregister
from ctxcompress.testing import FakeLLM

ROOT = Path(__file__).resolve().parents[2]
MODULE = "readme_custom_compressor"


def _readme_block() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = [b for b in re.findall(r"```python\n(.*?)```", readme, re.S) if "ctxcompress.extend" in b]
    assert len(blocks) == 1, "one README python block shows a custom compressor"
    return blocks[0]


def _run_readme_block() -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": MODULE}
    exec(compile(_readme_block(), "README.md", "exec"), namespace)
    return namespace


README = _run_readme_block()  # registers readme_custom_compressor.KeywordFilter; unregistered below


@pytest.fixture(scope="module", autouse=True)
def _unregister_readme_type() -> Iterator[None]:
    yield
    _unregister(f"{MODULE}.KeywordFilter")


# the README's conformance class, collected and run by pytest here
TestReadmeKeywordFilter = README["TestKeywordFilter"]


def test_readme_example_uses_only_the_public_api() -> None:
    tree = ast.parse(_readme_block())
    modules = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    modules |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    assert modules <= {"ctxcompress", "ctxcompress.extend", "ctxcompress.testing"}, modules
    assert len(_readme_block().strip().splitlines()) <= 45


def test_readme_compressor_is_registered_and_round_trips() -> None:
    cls = README["KeywordFilter"]
    comp = cls(min_len=5)
    data = comp.to_dict()
    assert data == {"type": f"{MODULE}.KeywordFilter", "init_parameters": {"min_len": 5}}
    assert Compressor.from_dict(data) == comp
    with pytest.raises(ConfigError):
        cls(min_len=0)
    res = comp.compress(["Paris is the capital of France. It rains a lot."], query="capital cities?")
    assert res.text == "Paris is the capital of France."
    assert res.report.stages[0].details == {"sentences": "1 of 2"}


def test_extend_exports() -> None:
    assert extend.__all__ == sorted(extend.__all__)
    for name in extend.__all__:
        assert getattr(extend, name) is not None, name
    assert extend.Compressor is ctxcompress.Compressor
    assert extend.register_type is ctxcompress.register_type
    assert {"CallContext", "extract", "join_text", "validate_choice", "validate_number"} <= set(extend.__all__)
    assert "CompressorConformance" not in extend.__all__  # it stays in ctxcompress.testing


def test_abstractive_attribute() -> None:
    assert RelevanceFilter().abstractive is False
    assert Summarizer().abstractive is False  # extractive fallback without an LLM: verbatim sentences
    assert Summarizer(mode="extractive").abstractive is False
    assert Summarizer(llm=FakeLLM(["s"])).abstractive is True
    assert Summarizer(mode="abstractive", llm=FakeLLM(["s"])).abstractive is True
    assert Pipeline([RelevanceFilter(), Summarizer(llm=FakeLLM(["s"]))]).abstractive is True
    assert Pipeline([RelevanceFilter(), Summarizer()]).abstractive is False


def test_a_class_attribute_marks_a_compressor_abstractive() -> None:
    class Rewriter(Compressor):
        abstractive = True

        def _compress(self, chunks: Any, *, query: str, cap: Any, ctx: Any) -> Any:
            return chunks

    assert Rewriter().abstractive is True
    assert (RelevanceFilter() | Rewriter()).abstractive is True
