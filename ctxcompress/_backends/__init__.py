"""Backends: token counters, embedders, scorers."""
