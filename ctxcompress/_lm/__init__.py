"""Language-model signals: causal LM loading, LLM backends, attention filter (GemFilter), token pruner."""
