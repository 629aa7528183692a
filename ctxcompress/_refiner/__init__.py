"""Refiner: extract-and-restructure (engine, embedding engine, prompt/parser/verifier)."""
