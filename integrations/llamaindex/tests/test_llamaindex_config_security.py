"""``CtxCompressPostprocessor`` rebuilt from data names only registered ctxcompress types.

Each payload would create a file if the adapter imported and called what a ``type`` names; each must
leave no file and fail with an error naming the refused type.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from li_support import fake_pipeline
from llama_index.core.bridge.pydantic import ValidationError
from llama_index.postprocessor.ctxcompress import CtxCompressPostprocessor

from ctxcompress import Budget, ConfigError

pytestmark = pytest.mark.unit


@pytest.fixture
def pwned(tmp_path: Path) -> Iterator[Path]:
    target = tmp_path / "PWNED"
    yield target
    assert not target.exists(), "a configuration ran code"


def _payloads(target: Path) -> list[tuple[str, dict[str, Any]]]:
    touch = ["sh", "-c", f"touch {target}"]
    return [
        ("subprocess.run", {"type": "subprocess.run", "init_parameters": {"args": touch}}),
        ("os.system", {"type": "os.system", "init_parameters": {"command": f"touch {target}"}}),
        (
            "subprocess.Popen",
            {
                "type": "ctxcompress.Pipeline",
                "init_parameters": {
                    "steps": [
                        {
                            "name": "filter",
                            "type": "RelevanceFilter",
                            "init_parameters": {
                                "scorer": "bm25",
                                "embedder": {"type": "subprocess.Popen", "init_parameters": {"args": touch}},
                            },
                        }
                    ]
                },
            },
        ),
        (
            "ctxcompress._core.deps.require",
            {"type": "ctxcompress._core.deps.require", "init_parameters": {"module": "os", "extra": "x"}},
        ),
    ]


def _data(compressor: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = CtxCompressPostprocessor(compressor=fake_pipeline(), budget=Budget(max_tokens=50)).to_dict()
    data["compressor"] = compressor
    return data


@pytest.mark.parametrize("index", range(4))
def test_from_dict_refuses_unregistered_types(index: int, pwned: Path) -> None:
    refused, payload = _payloads(pwned)[index]
    with pytest.raises(ConfigError, match=f"refused type {refused!r}"):
        CtxCompressPostprocessor.from_dict(_data(payload))


@pytest.mark.parametrize("index", range(4))
def test_from_json_refuses_unregistered_types(index: int, pwned: Path) -> None:
    refused, payload = _payloads(pwned)[index]
    with pytest.raises(ConfigError, match=f"refused type {refused!r}"):
        CtxCompressPostprocessor.from_json(json.dumps(_data(payload)))


@pytest.mark.parametrize("index", range(4))
def test_compressor_dict_refuses_unregistered_types(index: int, pwned: Path) -> None:
    refused, payload = _payloads(pwned)[index]
    with pytest.raises(ValidationError, match=f"refused type {refused!r}"):
        CtxCompressPostprocessor(compressor=payload)


def test_round_trip_still_works() -> None:
    pp = CtxCompressPostprocessor(compressor=fake_pipeline(), budget=Budget(max_tokens=50))
    back = CtxCompressPostprocessor.from_json(pp.to_json())
    assert back.compressor == pp.compressor and back.budget == pp.budget
    assert CtxCompressPostprocessor(compressor=pp.compressor.to_dict()).compressor == pp.compressor


def test_budget_data_with_unknown_keys_is_a_validation_error() -> None:
    with pytest.raises(ValidationError, match="budget"):
        CtxCompressPostprocessor(budget={"type": "subprocess.run", "init_parameters": {}})
