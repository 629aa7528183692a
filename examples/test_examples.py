"""Docs that run: every example is executed as a subprocess and must print a report with tokens saved."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
SAVED = re.compile(r"(\d+) saved")


def run(*command: str) -> str:
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        # the `ctxcompress` command of this interpreter's environment first on the PATH
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
    }
    proc = subprocess.run(command, cwd=HERE.parent, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"{' '.join(command)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def assert_tokens_saved(output: str) -> None:
    saved = [int(n) for n in SAVED.findall(output)]
    assert saved, f"no savings report in the output:\n{output}"
    assert max(saved) > 0, f"no tokens saved:\n{output}"


def need(*modules: str) -> None:
    for module in modules:
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed")


@pytest.mark.integration
def test_plain_faiss() -> None:
    need("faiss")
    out = run(sys.executable, "examples/plain_faiss.py")
    assert_tokens_saved(out)
    assert "| stage |" in out and "[" in out  # the Markdown report and the spans


@pytest.mark.integration
def test_langchain_chain() -> None:
    need("langchain_ctxcompress")
    out = run(sys.executable, "examples/langchain_chain.py")
    assert_tokens_saved(out)
    assert "Savings report (from the callback)" in out and "compressor.last_report" in out


@pytest.mark.integration
def test_llamaindex_query_engine() -> None:
    need("llama_index.core", "llama_index.postprocessor.ctxcompress")
    out = run(sys.executable, "examples/llamaindex_query_engine.py")
    assert_tokens_saved(out)
    assert "Context information is below." in out  # MockLLM echoed the compressed prompt


@pytest.mark.integration
def test_cli_with_yaml_config() -> None:
    out = run("bash", "examples/cli_config.sh")
    assert_tokens_saved(out)
    assert "| reorder | LongContextReorder |" in out


@pytest.mark.integration
def test_kg_pruning() -> None:
    need("networkx")
    out = run(sys.executable, "examples/kg_pruning.py")
    assert_tokens_saved(out)
    assert "Provenance of this association is" in out and "facts kept" in out


@pytest.mark.integration
def test_store_faiss_frameworks() -> None:
    need(
        "faiss",
        "langchain_community",
        "langchain_ctxcompress",
        "llama_index.core",
        "llama_index.postprocessor.ctxcompress",
    )
    out = run(sys.executable, "examples/store_faiss_frameworks.py")
    assert_tokens_saved(out)
    # indexing: the second framework's indexer found every vector already stored
    assert re.search(r"LangChain: 80 documents into FAISS; store: (\d+) sentence texts, \1 embedded", out), out
    assert re.search(r"LlamaIndex: 80 nodes .* 0 embedded", out), out
    # serving, in a fresh process: 8 questions timed through both frameworks, every vector from the store
    assert len(re.findall(r"^\| \d \| [\d.]+ \| \d+ -> \d+ \| [\d.]+ \| \d+ -> \d+ \|", out, flags=re.M)) == 8, out
    assert "Vectors embedded at query time (store misses written back): 0" in out
