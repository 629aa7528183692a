"""KG-RAG knowledge-graph pruning: the pruner, entity linking, the graph model and its loaders."""
