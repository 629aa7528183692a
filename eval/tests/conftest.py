"""Shared test setup: offline model libraries, the fixture data folder, a fake embedding context."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

FIXTURES = Path(__file__).resolve().parent / "fixtures"
DATA = FIXTURES / "data"


@pytest.fixture
def data_dir() -> Path:
    return DATA


@pytest.fixture
def fake_ctx():  # type: ignore[no-untyped-def]
    """A method context with the whitespace counter and the fake embedder (no models, instant)."""
    from ctxcompress.testing import FakeEmbedder, WhitespaceCounter

    from ctxcompress_eval import MethodContext

    return MethodContext(counter=WhitespaceCounter(), embedder=FakeEmbedder(), seed=0)
