"""Compressors over retrieved chunks: relevance filter, redundancy fusion, reorder, semantic compression, summariser."""
