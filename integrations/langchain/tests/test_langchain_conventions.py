"""``CtxCompressor`` follows the partner-package conventions: typos fail, typed fields with a JSON schema,
LangChain serialisation (``dumpd`` / ``dumps`` -> ``loads``) with the compressor as ctxcompress data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from langchain_core.load import dumpd, dumps, loads
from langchain_ctxcompress import CtxCompressor
from lc_support import fake_pipeline
from pydantic import ValidationError

from ctxcompress import Budget, ConfigError, Pipeline

pytestmark = [
    pytest.mark.unit,
    pytest.mark.filterwarnings("ignore::langchain_core._api.beta_decorator.LangChainBetaWarning"),
]


def _load(text: str) -> CtxCompressor:
    loaded = loads(text, allowed_objects=[CtxCompressor], valid_namespaces=["langchain_ctxcompress"])
    assert isinstance(loaded, CtxCompressor)
    return loaded


def test_misspelt_keyword_fails_naming_the_close_field() -> None:
    with pytest.raises(ValidationError, match=r"'budgett' \(did you mean 'budget'\?\)"):
        CtxCompressor(compressor=fake_pipeline(), budgett=0.3)  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="unknown field"):
        CtxCompressor(compressor=fake_pipeline(), frobnicate=1)  # type: ignore[call-arg]


def test_fields_are_typed_with_a_json_schema() -> None:
    schema = CtxCompressor.model_json_schema()
    props = schema["properties"]
    assert props["compressor"]["type"] == "object"
    assert set(props["budget"]["properties"]) == {"max_tokens", "fraction"}
    assert schema["additionalProperties"] is False
    for name in ("compressor", "budget", "counter"):
        assert CtxCompressor.model_fields[name].annotation is not object


def test_lc_serialisation_round_trip() -> None:
    comp = CtxCompressor(compressor=fake_pipeline(top_k=3), budget=Budget(max_tokens=40), counter="o200k_base")
    assert CtxCompressor.is_lc_serializable()
    data = dumpd(comp)
    assert data["type"] == "constructor"
    assert data["id"] == ["langchain_ctxcompress", "CtxCompressor"]
    assert data["kwargs"]["compressor"] == comp.compressor.to_dict()
    assert data["kwargs"]["budget"] == {"max_tokens": 40, "fraction": None}
    back = _load(dumps(comp))
    assert isinstance(back.compressor, Pipeline)
    assert back.compressor == comp.compressor
    assert back.budget == comp.budget and back.counter == "o200k_base"
    assert back.score_key == comp.score_key and back.metadata_key == comp.metadata_key


def test_loads_builds_registered_types_only(tmp_path: Path) -> None:
    target = tmp_path / "PWNED"
    data = dumpd(CtxCompressor(compressor=fake_pipeline()))
    data["kwargs"]["compressor"] = {"type": "os.system", "init_parameters": {"command": f"touch {target}"}}
    with pytest.raises((ValidationError, ConfigError), match=r"os\.system"):
        _load(json.dumps(data))
    assert not target.exists()


def test_model_dump_json_of_a_pipeline() -> None:
    comp = CtxCompressor(compressor=fake_pipeline(), budget=0.3)
    dumped = json.loads(comp.model_dump_json())
    assert dumped["compressor"] == comp.compressor.to_dict()
    assert dumped["budget"] == {"max_tokens": None, "fraction": 0.3}
    back = CtxCompressor.model_validate(dumped)
    assert back.compressor == comp.compressor and back.budget == comp.budget


def test_warm_up_reaches_the_compressor() -> None:
    calls: list[str] = []
    pipeline = fake_pipeline()
    pipeline.warm_up = lambda: calls.append("warm")  # type: ignore[method-assign]
    CtxCompressor(compressor=pipeline).warm_up()
    assert calls == ["warm"]


def test_store_serialises_as_its_path(tmp_path: Path) -> None:
    from ctxcompress import VectorStore

    path = str(tmp_path / "vectors.db")
    c = CtxCompressor(compressor=fake_pipeline(), store=path)
    assert json.loads(c.model_dump_json())["store"] == path
    back = loads(dumps(c), allowed_objects=[CtxCompressor], valid_namespaces=["langchain_ctxcompress"])
    assert isinstance(back.store, VectorStore) and back.store.path == path
