"""What a knowledge graph for :class:`~ctxcompress.KGSchemaPruner` must hold, its check, and how edges are added.

A graph is any networkx graph (``MultiDiGraph`` preferred) whose nodes carry ``name`` and ``type``
and whose edges carry ``predicate`` and a provenance attribute (``provenance``, ``source_db`` or
``source``). Optional node attributes: ``aliases`` (other names, used by entity linking),
``identifier`` and ``identifier_source`` (verbalised as an identity sentence, as KG-RAG does),
``merge_key`` (what :func:`~ctxcompress._kg.merge.merge_graphs` joins on). Optional edge attributes:
``relation`` (a relation code such as Hetionet's ``DaG``, usable in ``relation_types``) and any
properties (p-values, scores) that ``edge_properties`` may verbalise. networkx is imported lazily
(``pip install 'ctxcompress[kg]'``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .._core.deps import require
from .._core.errors import ConfigError

__all__ = ["PROVENANCE_KEYS", "add_edge", "add_edges", "check_graph", "edge_provenance", "is_graph", "new_graph"]

PROVENANCE_KEYS = ("provenance", "source_db", "source")
"""Edge attributes read as provenance, in this order."""


def networkx() -> Any:
    """The networkx module, or :class:`MissingDependencyError` naming the ``kg`` extra."""
    return require("networkx", extra="kg", purpose="knowledge-graph context (KGSchemaPruner)")


def edge_provenance(data: Mapping[str, Any]) -> Any:
    """The first non-empty :data:`PROVENANCE_KEYS` attribute of an edge, else ``None``."""
    for key in PROVENANCE_KEYS:
        if data.get(key) not in (None, ""):
            return data[key]
    return None


_GRAPH_HELP = (
    "every node needs 'name' and 'type' attributes and every edge 'predicate' and a provenance "
    "attribute ('provenance', 'source_db' or 'source'), e.g. "
    "G.add_node('DOID:2377', name='multiple sclerosis', type='Disease'); "
    "G.add_edge('DOID:2377', 'Gene:7132', predicate='associates', provenance='DISEASES')"
)


def is_graph(obj: Any) -> bool:
    """True for a networkx graph (checked without importing networkx when it is not loaded)."""
    mod = type(obj).__module__ or ""
    if not mod.startswith("networkx"):
        return False
    return callable(getattr(obj, "is_directed", None)) and hasattr(obj, "nodes") and hasattr(obj, "edges")


def check_graph(graph: Any) -> None:
    """Raise :class:`ConfigError` naming what is missing when ``graph`` is not usable."""
    if not is_graph(graph):
        raise ConfigError(
            f"graph must be a networkx graph (MultiDiGraph, DiGraph, ...) or path(s) to load, "
            f"got {type(graph).__name__}"
        )
    bad_nodes: list[str] = []
    n_bad_nodes = 0
    for n, attrs in graph.nodes(data=True):
        missing = [a for a in ("name", "type") if attrs.get(a) in (None, "")]
        if missing:
            n_bad_nodes += 1
            if len(bad_nodes) < 3:
                bad_nodes.append(f"{n!r} (no {' or '.join(repr(m) for m in missing)})")
    if n_bad_nodes:
        raise ConfigError(
            f"{n_bad_nodes} of {graph.number_of_nodes()} graph nodes lack required attributes, "
            f"e.g. {', '.join(bad_nodes)}: {_GRAPH_HELP}"
        )
    bad_edges: list[str] = []
    n_bad_edges = 0
    for u, v, d in graph.edges(data=True):
        missing = []
        if d.get("predicate") in (None, ""):
            missing.append("'predicate'")
        if edge_provenance(d) is None:
            missing.append("a provenance ('provenance', 'source_db' or 'source')")
        if missing:
            n_bad_edges += 1
            if len(bad_edges) < 3:
                bad_edges.append(f"{u!r} -> {v!r} (no {' or '.join(missing)})")
    if n_bad_edges:
        raise ConfigError(
            f"{n_bad_edges} of {graph.number_of_edges()} graph edges lack required attributes, "
            f"e.g. {', '.join(bad_edges)}: {_GRAPH_HELP}"
        )


def new_graph() -> Any:
    """An empty ``MultiDiGraph`` (the loaders' graph type)."""
    return networkx().MultiDiGraph()


def add_edge(graph: Any, u: str, v: str, key: str, attrs: dict[str, Any]) -> None:
    """Add one edge; a key already used between the same nodes gets a ``#2``, ``#3`` suffix."""
    k, i = key, 1
    while graph.has_edge(u, v, k):
        i += 1
        k = f"{key}#{i}"
    graph.add_edge(u, v, key=k, **attrs)


def add_edges(graph: Any, edges: Iterable[tuple[Any, Any, str, dict[str, Any]]]) -> None:
    """Add many edges at once; a key already used between the same nodes gets a ``#2``, ``#3`` suffix."""
    batch = []
    used: set[tuple[Any, Any, str]] = set()
    fresh = graph.number_of_edges() == 0
    for u, v, key, attrs in edges:
        k, i = key, 1
        while (u, v, k) in used or (not fresh and graph.has_edge(u, v, k)):
            i += 1
            k = f"{key}#{i}"
        used.add((u, v, k))
        batch.append((u, v, k, attrs))
    graph.add_edges_from(batch)
