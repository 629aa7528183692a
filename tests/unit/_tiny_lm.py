"""A tiny random-weight Llama with a BPE tokenizer trained on the spot, for the LM-signal unit tests."""

from __future__ import annotations

from pathlib import Path

import torch
import transformers

from ctxcompress.testing import SAMPLE_CHUNKS, SAMPLE_QUERY


def make_tiny_lm(folder: Path, *, layers: int, seed: int, max_positions: int = 1024) -> Path:
    """A random-weight Llama (hidden 32, grouped-query attention) with a byte-level BPE tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    corpus = [c.text for c in SAMPLE_CHUNKS] + [SAMPLE_QUERY, "The quick brown fox jumps over the lazy dog. 0123456789"]
    tk = Tokenizer(models.BPE())
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tk.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<s>", "</s>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tk.train_from_iterator(corpus, trainer)
    tok = transformers.PreTrainedTokenizerFast(tokenizer_object=tk, bos_token="<s>", eos_token="</s>")
    torch.manual_seed(seed)
    cfg = transformers.LlamaConfig(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=max_positions,
        bos_token_id=0,
        eos_token_id=1,
    )
    transformers.LlamaForCausalLM(cfg).save_pretrained(str(folder))
    tok.save_pretrained(str(folder))
    return folder
