"""Knowledge-graph edges and nodes as KG-RAG's sentences (:class:`~ctxcompress._kg.facts.Fact`)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from .._core.errors import InputError
from .facts import Fact, plain
from .graph import edge_provenance

__all__ = [
    "identity_fact",
    "predicate_text",
    "provenance_text",
    "triple_fact",
    "triple_field",
    "verbalise_edge",
    "verbalise_triple",
]


def predicate_text(predicate: Any) -> str:
    """The verb used in a sentence: SPOKE-style ``ASSOCIATES_DaG`` → ``associates``; else as given."""
    text = str(predicate).strip()
    head, sep, _ = text.partition("_")
    if sep and head.isupper():
        return head.lower()
    return text


def provenance_text(value: Any) -> str:
    """A provenance value as text: ``|``-separated or list values are joined with ``, ``."""
    if value is None:
        return ""
    if isinstance(value, (list, tuple, set, frozenset)):
        parts = [str(v).strip() for v in value]
    else:
        parts = [p.strip() for p in str(value).split("|")]
    return ", ".join(p for p in parts if p)


def verbalise_triple(
    source_type: str,
    source_name: str,
    predicate: str,
    target_type: str,
    target_name: str,
    provenance: str,
    properties: Mapping[str, Any] | None = None,
) -> str:
    """KG-RAG's sentence for one association.

    ``"{SourceType} {source} {predicate} {TargetType} {target} and Provenance of this association is
    {provenance}."``, plus ``" and attributes of this association are {json}"`` before the full stop
    when ``properties`` are given (KG-RAG appends the edge evidence as JSON the same way).
    """
    parts = [source_type, source_name, predicate, target_type, target_name]
    text = " ".join(" ".join(str(p).split()) for p in parts if str(p).strip())
    if provenance:
        text += f" and Provenance of this association is {provenance}"
    if properties:
        text += " and attributes of this association are " + json.dumps(
            {k: plain(v) for k, v in properties.items()}, sort_keys=True, ensure_ascii=False
        )
    return text + "."


def verbalise_edge(
    graph: Any,
    u: Any,
    v: Any,
    key: Any,
    data: Mapping[str, Any],
    *,
    edge_properties: Sequence[str] = (),
) -> Fact:
    """The :class:`Fact` of edge ``(u, v, key)`` with attributes ``data`` of ``graph``."""
    nu, nv = graph.nodes[u], graph.nodes[v]
    props = {p: data[p] for p in edge_properties if p in data and data[p] is not None}
    predicate = predicate_text(data.get("predicate", ""))
    provenance = provenance_text(edge_provenance(data))
    names = (str(nu.get("type", "")), str(nu.get("name", u)), str(nv.get("type", "")), str(nv.get("name", v)))
    text = verbalise_triple(names[0], names[1], predicate, names[2], names[3], provenance, props)
    return Fact(
        text=text,
        source=str(u),
        target=str(v),
        key=key,
        predicate=predicate,
        provenance=provenance,
        properties=MappingProxyType(props),
        source_type=_clean(names[0]),
        source_name=_clean(names[1]),
        target_type=_clean(names[2]),
        target_name=_clean(names[3]),
    )


def _clean(text: str) -> str:
    return " ".join(text.split())


def identity_fact(graph: Any, node: Any) -> Fact | None:
    """``"Disease psoriasis has a Disease Ontology identifier of DOID:8893 and Provenance of this is
    from Disease Ontology."`` (KG-RAG's node sentence) when the node has ``identifier`` and
    ``identifier_source``; else ``None``."""
    attrs = graph.nodes[node]
    ident, src = attrs.get("identifier"), attrs.get("identifier_source")
    if not ident or not src:
        return None
    text = (
        f"{attrs.get('type', '')} {attrs.get('name', node)} has a {src} identifier of {ident} "
        f"and Provenance of this is from {src}."
    )
    return Fact(text=" ".join(text.split()), source=str(node), predicate="identifier", provenance=str(src))


def triple_field(item: Any, *names: str) -> Any:
    """The first non-empty of ``names`` in a mapping triple (``None`` for a sequence triple)."""
    if isinstance(item, Mapping):
        for n in names:
            if item.get(n) not in (None, ""):
                return item[n]
    return None


def triple_fact(item: Any, edge_properties: Sequence[str], *, where: str) -> Fact:
    """A fact from one triple in ``metadata["triples"]``: a mapping or a (source, predicate, target[,
    provenance]) sequence; a mapping's ``text`` is used as the sentence when given."""
    if isinstance(item, Mapping):
        s = triple_field(item, "source", "subject", "head")
        p = triple_field(item, "predicate", "relation")
        o = triple_field(item, "target", "object", "tail")
        if s is None or p is None or o is None:
            raise InputError(f"{where}: a triple needs source, predicate and target (got keys {sorted(item)})")
        prov = provenance_text(triple_field(item, "provenance", "source_db"))
        props = {k: item[k] for k in edge_properties if k in item and item[k] is not None}
        pred = predicate_text(p)
        names = (
            str(triple_field(item, "source_type", "subject_type") or ""),
            str(triple_field(item, "source_name", "subject_name") or s),
            str(triple_field(item, "target_type", "object_type") or ""),
            str(triple_field(item, "target_name", "object_name") or o),
        )
        text = triple_field(item, "text")
        if not isinstance(text, str):
            text = verbalise_triple(names[0], names[1], pred, names[2], names[3], prov, props)
        return Fact(
            text=text,
            source=str(s),
            target=str(o),
            key=triple_field(item, "key", "edge_id", "id"),
            predicate=pred,
            provenance=prov,
            properties=props,
            source_type=_clean(names[0]),
            source_name=_clean(names[1]),
            target_type=_clean(names[2]),
            target_name=_clean(names[3]),
        )
    if isinstance(item, Sequence) and not isinstance(item, (str, bytes)) and len(item) in (3, 4):
        s, p, o = (str(x) for x in item[:3])
        prov = provenance_text(item[3]) if len(item) == 4 else ""
        pred = predicate_text(p)
        return Fact(
            text=verbalise_triple("", s, pred, "", o, prov),
            source=s,
            target=o,
            predicate=pred,
            provenance=prov,
            source_name=_clean(s),
            target_name=_clean(o),
        )
    raise InputError(f"{where}: a triple must be a mapping or a (source, predicate, target[, provenance]) list")
