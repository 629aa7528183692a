"""``CtxCompressPostprocessor`` follows the partner-package conventions: typos fail, typed fields with a
JSON schema, ``to_dict`` / ``from_dict`` / ``to_json`` / ``from_json`` round trips, ``warm_up``."""

from __future__ import annotations

import json

import pytest
from li_support import fake_pipeline
from llama_index.core.bridge.pydantic import ValidationError
from llama_index.postprocessor.ctxcompress import CtxCompressPostprocessor

from ctxcompress import Budget, Pipeline

pytestmark = pytest.mark.unit


def test_misspelt_keyword_fails_naming_the_close_field() -> None:
    with pytest.raises(ValidationError, match=r"'budgett' \(did you mean 'budget'\?\)"):
        CtxCompressPostprocessor(compressor=fake_pipeline(), budgett=0.3)  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="unknown field"):
        CtxCompressPostprocessor.from_dict({"compressor": fake_pipeline().to_dict(), "metadatakey": "x"})


def test_fields_are_typed_with_a_json_schema() -> None:
    schema = CtxCompressPostprocessor.model_json_schema()
    props = schema["properties"]
    assert props["compressor"]["type"] == "object"
    assert set(props["budget"]["properties"]) == {"max_tokens", "fraction"}
    assert props["class_name"]["default"] == "CtxCompressPostprocessor"


def test_round_trips() -> None:
    pp = CtxCompressPostprocessor(
        compressor=fake_pipeline(top_k=3), budget=Budget(max_tokens=40), counter="cl100k_base"
    )
    data = pp.to_dict()
    for back in (
        CtxCompressPostprocessor.from_dict(data),
        CtxCompressPostprocessor.from_json(pp.to_json()),
        CtxCompressPostprocessor(**data),  # the class_name tag is accepted
        CtxCompressPostprocessor.model_validate(json.loads(pp.model_dump_json())),
    ):
        assert isinstance(back.compressor, Pipeline) and back.compressor == pp.compressor
        assert back.budget == pp.budget and back.counter == "cl100k_base"


def test_warm_up_reaches_the_compressor() -> None:
    calls: list[str] = []
    pipeline = fake_pipeline()
    pipeline.warm_up = lambda: calls.append("warm")  # type: ignore[method-assign]
    CtxCompressPostprocessor(compressor=pipeline).warm_up()
    assert calls == ["warm"]
