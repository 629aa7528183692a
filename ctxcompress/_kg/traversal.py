"""Walking a knowledge graph: the edges of a node, relation filters, a node's one-hop facts."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from .facts import Fact
from .verbalise import identity_fact, predicate_text, verbalise_edge

__all__ = ["iter_incident_edges", "neighbourhood", "relation_matches"]


def relation_matches(data: Mapping[str, Any], wanted: frozenset[str] | None) -> bool:
    """Whether an edge's ``predicate`` or ``relation`` (case-insensitive) is in ``wanted`` (None: all)."""
    if wanted is None:
        return True
    pred = str(data.get("predicate", "")).lower()
    if pred in wanted or predicate_text(pred).lower() in wanted:
        return True
    rel = data.get("relation")
    return rel is not None and str(rel).lower() in wanted


def iter_incident_edges(graph: Any, node: Any) -> Iterator[tuple[Any, Any, Any, Mapping[str, Any]]]:
    """Every edge touching ``node`` once, as ``(u, v, key, data)`` in the edge's own direction."""
    multi = graph.is_multigraph()
    seen: set[tuple[Any, Any, Any]] = set()
    views: tuple[Any, ...]
    if graph.is_directed():
        views = (graph.out_edges(node, keys=True, data=True), graph.in_edges(node, keys=True, data=True))
        if not multi:
            views = (graph.out_edges(node, data=True), graph.in_edges(node, data=True))
    else:
        views = (graph.edges(node, keys=True, data=True) if multi else graph.edges(node, data=True),)
    for view in views:
        for item in view:
            if multi:
                u, v, k, d = item
            else:
                (u, v, d), k = item, None
            ident = (u, v, k)
            if ident in seen:
                continue
            seen.add(ident)
            yield u, v, k, d


def neighbourhood(
    graph: Any,
    node: Any,
    *,
    relation_types: frozenset[str] | None = None,
    edge_properties: Sequence[str] = (),
    identity: bool = True,
) -> list[Fact]:
    """The one-hop context of ``node``: its identity sentence, then one sentence per incident edge."""
    facts: list[Fact] = []
    if identity:
        ident = identity_fact(graph, node)
        if ident is not None:
            facts.append(ident)
    for u, v, k, d in iter_incident_edges(graph, node):
        if relation_matches(d, relation_types):
            facts.append(verbalise_edge(graph, u, v, k, d, edge_properties=edge_properties))
    return facts
