"""Shared test setup: offline mode for every model library, tiers by folder, shared real models."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# never reach for a model hub: resolve local files only (see ../shared/MODELS.md)
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parent.parent

# Property tests draw the same examples on every run (CI must not fail on an example that another run
# never draws); CTXCOMPRESS_HYPOTHESIS_RANDOM=1 draws fresh random examples to hunt for new failures.
try:
    from hypothesis import settings as _hypothesis_settings

    _hypothesis_settings.register_profile("ctxcompress-derandomized", derandomize=True, database=None)
    if os.environ.get("CTXCOMPRESS_HYPOTHESIS_RANDOM", "") != "1":
        _hypothesis_settings.load_profile("ctxcompress-derandomized")
except ImportError:  # hypothesis is a dev dependency; without it the property tests don't run
    pass


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests under tests/unit are ``unit`` and under tests/integration ``integration`` unless marked."""
    for item in items:
        parts = Path(str(item.fspath)).parts
        if "integration" in parts and not item.get_closest_marker("integration"):
            item.add_marker(pytest.mark.integration)
        elif "unit" in parts and not item.get_closest_marker("unit"):
            item.add_marker(pytest.mark.unit)


@pytest.fixture(scope="session")
def real_embedder():  # type: ignore[no-untyped-def]
    """The default local embedder (ONNX MiniLM when available), loaded once per session."""
    from ctxcompress import default_embedder

    emb = default_embedder()
    emb.encode(["warm up"])
    return emb
