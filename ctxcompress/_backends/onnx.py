"""ONNX Runtime models: finding a model's files, and running its session in length-sorted, padded batches.

:class:`OnnxModel` and the :class:`OnnxBackend` base (model check, batch settings, a session loaded
once, thread-safe) are shared by :class:`~ctxcompress.OnnxEmbedder` and :class:`~ctxcompress.OnnxCrossEncoder`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .._core.deps import PicklableLazy, require
from .._core.errors import BackendError, ConfigError
from .._core.log import timed
from .checks import _check_positive, _wrap_backend_error

__all__ = ["OnnxBackend", "OnnxModel"]


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
    presets: Mapping[str, Callable[[], tuple[Path, Path]]],
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
        with timed(f"loaded ONNX model {onnx_file}"):
            self.session: Any = ort.InferenceSession(
                str(onnx_file), sess_options=opts, providers=["CPUExecutionProvider"]
            )
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


class OnnxBackend(PicklableLazy):
    """Base of the ONNX backends: the model's files, the batch settings, and a session loaded once.

    A subclass sets ``_kind`` (for messages), ``_outputs`` (the graph outputs to read, first found
    wins) and ``_presets()`` (preset name -> a function finding its files); its ``__init__`` calls
    :meth:`_set_model` and :meth:`_set_batching`. The session is built on first use under
    ``self._lock`` and left out of pickles.
    """

    _transient = ("_onnx",)
    _kind = "model"
    _outputs: tuple[str, ...] = ()
    model: str
    onnx_path: str | Path | None
    tokenizer_path: str | Path | None
    max_length: int
    threads: int | None
    batch_size: int
    max_batch_tokens: int | None

    @classmethod
    def _presets(cls) -> Mapping[str, Callable[[], tuple[Path, Path]]]:
        return {}

    @property
    def name(self) -> str:
        raise NotImplementedError

    def _set_model(
        self, model: str, onnx_path: str | Path | None, tokenizer_path: str | Path | None, hint: str
    ) -> None:
        if not isinstance(model, str) or not model.strip():
            raise ConfigError(f"model must be a non-empty preset name or folder, got {model!r}")
        if onnx_path is None and model not in self._presets() and not Path(model).expanduser().exists():
            raise ConfigError(
                f"unknown ONNX {self._kind} {model!r}: use {hint}, a folder with "
                "model.onnx and tokenizer.json, or onnx_path=/tokenizer_path="
            )
        self.model = model
        self.onnx_path = onnx_path
        self.tokenizer_path = tokenizer_path

    def _set_batching(
        self, batch_size: int, max_batch_tokens: int | None, max_length: int, threads: int | None
    ) -> None:
        self.batch_size = _check_positive("batch_size", batch_size)
        self.max_batch_tokens = (
            None if max_batch_tokens is None else _check_positive("max_batch_tokens", max_batch_tokens)
        )
        self.max_length = _check_positive("max_length", max_length)
        self.threads = None if threads is None else _check_positive("threads", threads)
        self._lock = threading.Lock()
        self._onnx: OnnxModel | None = None

    def warm_up(self) -> None:
        """Load the ONNX session and tokenizer now instead of on first use."""
        self._load()

    def _loaded(self, onnx: OnnxModel) -> None:
        """Called once with the new session, before it is kept."""

    def _load(self) -> OnnxModel:
        if self._onnx is not None:
            return self._onnx
        with self._lock:
            if self._onnx is None:
                onnx_file, tok_file = _locate_onnx(self.model, self.onnx_path, self.tokenizer_path, self._presets())
                try:
                    onnx = OnnxModel(
                        onnx_file, tok_file, max_length=self.max_length, threads=self.threads, outputs=self._outputs
                    )
                except Exception as exc:
                    raise _wrap_backend_error(self.name, f"loading {onnx_file}", exc) from exc
                self._loaded(onnx)
                self._onnx = onnx
        return self._onnx
