"""Merging knowledge graphs into one ``MultiDiGraph`` on a node merge key (:func:`merge_graphs`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from .._core.errors import ConfigError
from .graph import add_edges, check_graph, edge_provenance, networkx

__all__ = ["merge_graphs"]


def merge_graphs(
    graphs: Sequence[Any],
    *,
    key: str | Callable[[Any, Mapping[str, Any]], Any] = "merge_key",
    copy: bool = True,
) -> Any:
    """Merge graphs into one ``MultiDiGraph``, joining nodes with the same merge key.

    ``key`` is a node attribute (default ``"merge_key"``, set by the loaders: the Disease Ontology id
    for diseases, ``gene:<SYMBOL>`` for genes) or a function ``(node, attrs) -> key``; nodes without
    it join on their id. The first graph's node id, name and attributes win; other names become
    ``aliases``; missing attributes are filled from later graphs. Every edge is kept (parallel edges
    from different sources stay separate, so each keeps its provenance). With ``copy=False`` and a
    ``MultiDiGraph`` first, the others are merged into it in place (faster; it is modified).
    """
    if not graphs:
        raise ConfigError("merge_graphs needs at least one graph")
    for g in graphs:
        check_graph(g)
    return merge_unchecked(graphs, key, copy)


def merge_unchecked(graphs: Sequence[Any], key: str | Callable[[Any, Mapping[str, Any]], Any], copy: bool) -> Any:
    """:func:`merge_graphs` without the checks (for graphs the loaders built)."""
    nx = networkx()
    first = graphs[0]
    if copy or not (first.is_multigraph() and first.is_directed()):
        out = nx.MultiDiGraph()
        rest = list(graphs)
    else:
        out = first
        rest = list(graphs[1:])
    by_key: dict[Any, Any] = {}

    def key_of(node: Any, attrs: Mapping[str, Any]) -> Any:
        k = key(node, attrs) if callable(key) else attrs.get(key)
        return node if k in (None, "") else k

    if out is first:
        for node, attrs in out.nodes(data=True):
            by_key.setdefault(key_of(node, attrs), node)
    for g in rest:
        remap: dict[Any, Any] = {}
        for node, attrs in g.nodes(data=True):
            k = key_of(node, attrs)
            target = by_key.get(k)
            if target is None and node in out:
                target = node
            if target is None:
                out.add_node(node, **dict(attrs))
                by_key[k] = node
                remap[node] = node
                continue
            remap[node] = target
            _merge_node(out.nodes[target], attrs)
        if g.is_multigraph():
            edges: Iterable[tuple[Any, Any, Any, Mapping[str, Any]]] = g.edges(keys=True, data=True)
        else:
            edges = ((u, v, None, d) for u, v, d in g.edges(data=True))
        add_edges(
            out,
            (
                (
                    remap[u],
                    remap[v],
                    str(k if k is not None else f"{d.get('relation') or d.get('predicate')}:{edge_provenance(d)}"),
                    dict(d),
                )
                for u, v, k, d in edges
            ),
        )
    out.graph["name"] = "+".join(str(g.graph.get("name", "graph")) for g in graphs)
    return out


def _merge_node(merged: dict[str, Any], attrs: Mapping[str, Any]) -> None:
    for a, val in attrs.items():
        if a != "aliases" and (a not in merged or merged[a] in (None, "")):
            merged[a] = val
    names = [attrs.get("name"), *(attrs.get("aliases") or ())]
    aliases = list(merged.get("aliases") or ())
    known = {str(merged.get("name", "")).lower(), *(str(a).lower() for a in aliases)}
    for nm in names:
        if nm and str(nm).lower() not in known:
            aliases.append(str(nm))
            known.add(str(nm).lower())
    if aliases:
        merged["aliases"] = aliases
