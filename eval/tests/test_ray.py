"""``--engine ray``: questions run on a local Ray cluster (ray.init() on this machine)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from ctxcompress_eval import RunConfig, run

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="pip install 'ctxcompress-eval[ray]'"),
]


def test_ray_engine_matches_local(data_dir: Path, tmp_path: Path) -> None:
    common = {
        "datasets": ["hotpotqa"],
        "methods": ["random", "none"],
        "budgets": [0.4],
        "data_dir": str(data_dir),
        "limit": 3,
        "embedder": "fake",
        "progress": False,
        "memory": "off",
    }
    local = run(RunConfig(out=tmp_path / "local", **common), log=lambda s: None)  # type: ignore[arg-type]
    remote = run(RunConfig(out=tmp_path / "ray", engine="ray", workers=1, **common), log=lambda s: None)  # type: ignore[arg-type]
    key = ("dataset", "method", "budget", "n", "tokens_out", "answer_recall", "support_recall", "kept_fraction")
    assert [{k: r[k] for k in key} for r in local["results"]] == [{k: r[k] for k in key} for r in remote["results"]]
    assert remote["harness"]["config"]["engine"] == "ray"
