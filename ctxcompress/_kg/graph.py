"""Knowledge graphs for :class:`~ctxcompress.KGSchemaPruner`: loaders, checks and edge verbalisation.

A graph is any networkx graph (``MultiDiGraph`` preferred) whose nodes carry ``name`` and ``type``
and whose edges carry ``predicate`` and a provenance attribute (``provenance``, ``source_db`` or
``source``). Optional node attributes: ``aliases`` (other names, used by entity linking),
``identifier`` and ``identifier_source`` (verbalised as an identity sentence, as KG-RAG does),
``merge_key`` (what :func:`merge_graphs` joins on). Optional edge attributes: ``relation`` (a relation
code such as Hetionet's ``DaG``, usable in ``relation_types``) and any properties (p-values, scores)
that ``edge_properties`` may verbalise.

Loaders read edge lists (CSV / TSV / JSON lines, gzipped or not) and the two real graphs documented
in ``../shared/data``: Hetionet v1.0 (``load_hetionet``) and JensenLab DISEASES (``load_jensenlab``),
merged on the Disease Ontology id by :func:`load_graph` / :func:`merge_graphs`. networkx is imported
lazily (``pip install 'ctxcompress[kg]'``).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from .._core.deps import require
from .._core.errors import ConfigError, InputError

__all__ = [
    "PROVENANCE_KEYS",
    "Fact",
    "check_graph",
    "identity_fact",
    "load_edge_list",
    "load_graph",
    "load_hetionet",
    "load_jensenlab",
    "merge_graphs",
    "neighbourhood",
    "verbalise_edge",
    "verbalise_triple",
]

PROVENANCE_KEYS = ("provenance", "source_db", "source")
"""Edge attributes read as provenance, in this order."""

# Hetionet metaedges: abbreviation -> (predicate verb, source kind, target kind)
HETIONET_METAEDGES: Mapping[str, str] = MappingProxyType(
    {
        "DaG": "associates",
        "DdG": "downregulates",
        "DuG": "upregulates",
        "CtD": "treats",
        "CpD": "palliates",
        "DlA": "localizes",
        "DpS": "presents",
        "DrD": "resembles",
        "CbG": "binds",
        "PCiC": "includes",
        "CcSE": "causes",
    }
)

_IDENTIFIER_SOURCES: Mapping[str, str] = MappingProxyType(
    {
        "Disease": "Disease Ontology",
        "Gene": "Entrez Gene",
        "Compound": "DrugBank",
        "Anatomy": "Uberon",
        "Symptom": "MeSH",
        "Side Effect": "UMLS",
        "Pharmacologic Class": "NDF-RT",
    }
)


def _nx() -> Any:
    return require("networkx", extra="kg", purpose="knowledge-graph context (KGSchemaPruner)")


# --------------------------------------------------------------------------- facts
@dataclass(frozen=True)
class Fact:
    """One verbalised statement: an edge (or a node's identity) as a sentence, with its provenance."""

    text: str
    source: str | None = None
    target: str | None = None
    key: Any = None
    predicate: str = ""
    provenance: str = ""
    properties: Mapping[str, Any] = field(default_factory=dict)

    def meta(self) -> dict[str, Any]:
        """Provenance of the sentence as plain data (node ids, edge key, source database, properties)."""
        data: dict[str, Any] = {
            "source": self.source,
            "target": self.target,
            "key": _plain(self.key),
            "predicate": self.predicate,
            "provenance": self.provenance,
        }
        if self.properties:
            data["properties"] = {k: _plain(v) for k, v in self.properties.items()}
        return data


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    return str(value)


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


def edge_provenance(data: Mapping[str, Any]) -> Any:
    for key in PROVENANCE_KEYS:
        if data.get(key) not in (None, ""):
            return data[key]
    return None


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
            {k: _plain(v) for k, v in properties.items()}, sort_keys=True, ensure_ascii=False
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
    text = verbalise_triple(
        str(nu.get("type", "")),
        str(nu.get("name", u)),
        predicate,
        str(nv.get("type", "")),
        str(nv.get("name", v)),
        provenance,
        props,
    )
    return Fact(
        text=text,
        source=str(u),
        target=str(v),
        key=key,
        predicate=predicate,
        provenance=provenance,
        properties=MappingProxyType(props),
    )


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


# --------------------------------------------------------------------------- checks
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


# --------------------------------------------------------------------------- file helpers
def _find(directory: Path, name: str) -> Path | None:
    for candidate in (directory / f"{name}.gz", directory / name):
        if candidate.is_file():
            return candidate
    return None


def _open_text(path: Path) -> io.TextIOBase:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return io.TextIOWrapper(open(path, "rb"), encoding="utf-8", newline="")


def _rows(path: Path, delimiter: str, header: bool = True) -> Iterator[list[str]]:
    """Rows of a delimited file (the header first when ``header``); blank rows are skipped.

    Tab-separated files are split plainly (no quoting, as Hetionet and DISEASES write them).
    """
    with _open_text(path) as f:
        if delimiter == "\t":
            first = True
            for line in f:
                line = line.rstrip("\r\n")
                if first and header:
                    first = False
                    yield line.split("\t")
                    continue
                first = False
                if line.strip():
                    yield line.split("\t")
            return
        reader = csv.reader(f, delimiter=delimiter)
        first = True
        for row in reader:
            if first and header:
                first = False
                yield row
                continue
            first = False
            if row and any(c.strip() for c in row):
                yield row


def _new_graph() -> Any:
    return _nx().MultiDiGraph()


def _add_edge(graph: Any, u: str, v: str, key: str, attrs: dict[str, Any]) -> None:
    k, i = key, 1
    while graph.has_edge(u, v, k):
        i += 1
        k = f"{key}#{i}"
    graph.add_edge(u, v, key=k, **attrs)


def _add_edges(graph: Any, edges: Iterable[tuple[Any, Any, str, dict[str, Any]]]) -> None:
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


# --------------------------------------------------------------------------- Hetionet
def load_hetionet(directory: str | os.PathLike[str], *, side_effects: bool = True) -> Any:
    """Hetionet v1.0 as documented in ``hetionet_v1/SOURCE.md``: every node and the edge files there.

    Nodes: ``id`` (``Disease::DOID:2377``), ``name``, ``type`` (the Hetionet kind), ``identifier``,
    ``identifier_source`` and ``merge_key`` (the DOID for diseases, ``gene:<SYMBOL>`` for genes).
    Edges (in the SIF orientation): ``predicate`` (``associates``, ``treats``, ...), ``relation`` (the
    metaedge, ``DaG``), ``provenance`` (source databases joined by ``", "``), ``license``, ``dataset``
    and the properties of the ``extra`` column (``p_fisher``, ``affinity_nM``, ...). Edge keys are
    ``"<metaedge>:<provenance>"``. ``side_effects=False`` skips the non-commercial SIDER file
    (``edges_compound_side_effect.tsv.gz``), which is read in place, never copied.
    """
    folder = Path(directory).expanduser()
    nodes_file = _find(folder, "nodes.tsv")
    if nodes_file is None:
        raise ConfigError(f"{folder} has no nodes.tsv(.gz): not a Hetionet folder (see hetionet_v1/SOURCE.md)")
    g = _new_graph()
    rows = _rows(nodes_file, "\t")
    header = next(rows)
    if header[:3] != ["id", "name", "kind"]:
        raise InputError(f"{nodes_file}: expected columns id, name, kind; got {header}")
    nodes: list[tuple[str, dict[str, Any]]] = []
    for row in rows:
        nid, name, kind = row[0], row[1], row[2]
        ident = nid.split("::", 1)[1] if "::" in nid else nid
        if kind == "Disease":
            merge_key = ident
        elif kind == "Gene":
            merge_key = f"gene:{name.upper()}"
        else:
            merge_key = nid
        attrs: dict[str, Any] = {"name": name, "type": kind, "identifier": ident, "merge_key": merge_key}
        src = _IDENTIFIER_SOURCES.get(kind)
        if src:
            attrs["identifier_source"] = src
        nodes.append((nid, attrs))
    g.add_nodes_from(nodes)
    names = ["edges_disease.tsv", "edges_compound_gene_class.tsv"]
    if side_effects:
        names.append("edges_compound_side_effect.tsv")
    found = [p for p in (_find(folder, n) for n in names) if p is not None]
    if not found:
        raise ConfigError(f"{folder} has no Hetionet edge files (edges_disease.tsv.gz, ...)")
    for path in found:
        _read_hetionet_edges(g, path)
    g.graph["name"] = "hetionet_v1"
    return g


def _read_hetionet_edges(g: Any, path: Path) -> None:
    rows = _rows(path, "\t")
    header = next(rows)
    col = {name: i for i, name in enumerate(header)}
    need = ("source", "metaedge", "target", "provenance")
    if any(n not in col for n in need):
        raise InputError(f"{path}: expected columns {', '.join(need)}; got {header}")
    edges = []
    parsed: dict[str, dict[str, Any]] = {}
    provs: dict[str, str] = {}
    for row in rows:
        u, v, metaedge = row[col["source"]], row[col["target"]], row[col["metaedge"]]
        raw_prov = row[col["provenance"]]
        prov = provs.get(raw_prov)
        if prov is None:
            prov = provs[raw_prov] = provenance_text(raw_prov)
        attrs: dict[str, Any] = {
            "predicate": HETIONET_METAEDGES.get(metaedge, metaedge),
            "relation": metaedge,
            "provenance": prov,
            "dataset": "hetionet_v1",
        }
        if "license" in col and row[col["license"]]:
            attrs["license"] = row[col["license"]]
        raw = row[col["extra"]].strip() if "extra" in col else ""
        if raw:
            extra = parsed.get(raw)
            if extra is None:
                try:
                    value = json.loads(raw)
                except json.JSONDecodeError as exc:
                    raise InputError(f"{path}: bad JSON in the extra column: {exc}") from exc
                extra = value if isinstance(value, dict) else {}
                if len(parsed) < 10_000:
                    parsed[raw] = extra
            for k, val in extra.items():
                attrs.setdefault(k, val)
        for node in (u, v):
            if node not in g:
                name_col = "source_name" if node == u else "target_name"
                name = row[col[name_col]] if name_col in col else node
                kind = node.split("::", 1)[0] if "::" in node else "Entity"
                g.add_node(node, name=name, type=kind, merge_key=node)
        edges.append((u, v, f"{metaedge}:{prov}", attrs))
    _add_edges(g, edges)


# --------------------------------------------------------------------------- JensenLab DISEASES
_JENSEN_FILES = {
    "knowledge": "human_disease_knowledge_filtered.tsv",
    "experiments": "human_disease_experiments_filtered.tsv",
}


def load_jensenlab(directory: str | os.PathLike[str], *, channels: Sequence[str] = ("knowledge", "experiments")) -> Any:
    """JensenLab DISEASES filtered files (``jensenlab_diseases/SOURCE.md``) as Disease–associates–Gene.

    Disease nodes ``Disease::DOID:…`` (or ``Disease::AmyCo:…``) with the DO name, gene nodes
    ``Gene::<SYMBOL>``; ``merge_key`` is the DOID / ``gene:<SYMBOL>`` so :func:`merge_graphs` joins
    them with Hetionet. Edges: ``predicate="associates"``, ``relation="DaG"``, ``provenance`` =
    ``source_db`` (MedlinePlus, UniProtKB-KW, AmyCo, TIGA), ``evidence``, ``confidence``, ``channel``.
    """
    folder = Path(directory).expanduser()
    unknown = [c for c in channels if c not in _JENSEN_FILES]
    if unknown:
        raise ConfigError(f"unknown DISEASES channel(s) {unknown}: use {sorted(_JENSEN_FILES)}")
    g = _new_graph()
    read = 0
    for channel in channels:
        path = _find(folder, _JENSEN_FILES[channel])
        if path is None:
            continue
        read += 1
        for n, row in enumerate(_rows(path, "\t", header=False), 1):
            if len(row) < 7:
                raise InputError(f"{path}:{n}: expected 7 tab-separated columns, got {len(row)}")
            gene_id, symbol, dis_id, dis_name, source_db, evidence, confidence = row[:7]
            dnode, gnode = f"Disease::{dis_id}", f"Gene::{symbol}"
            if dnode not in g:
                src = "Disease Ontology" if dis_id.startswith("DOID:") else dis_id.split(":", 1)[0]
                g.add_node(
                    dnode, name=dis_name, type="Disease", identifier=dis_id, identifier_source=src, merge_key=dis_id
                )
            if gnode not in g:
                g.add_node(gnode, name=symbol, type="Gene", merge_key=f"gene:{symbol.upper()}")
                if gene_id != symbol:
                    g.nodes[gnode]["protein_id"] = gene_id
            try:
                conf: Any = float(confidence)
            except ValueError:
                conf = confidence
            attrs = {
                "predicate": "associates",
                "relation": "DaG",
                "provenance": source_db,
                "evidence": evidence,
                "confidence": conf,
                "dataset": f"jensenlab_diseases/{channel}",
            }
            if not g.has_edge(dnode, gnode, f"DaG:{source_db}"):
                g.add_edge(dnode, gnode, key=f"DaG:{source_db}", **attrs)
    if not read:
        raise ConfigError(f"{folder} has none of {', '.join(_JENSEN_FILES.values())}(.gz): not a DISEASES folder")
    g.graph["name"] = "jensenlab_diseases"
    return g


# --------------------------------------------------------------------------- generic edge lists
_EDGE_FIELDS = (
    "source",
    "target",
    "predicate",
    "provenance",
    "source_name",
    "target_name",
    "source_type",
    "target_type",
    "relation",
    "key",
)


def load_edge_list(
    path: str | os.PathLike[str],
    *,
    columns: Mapping[str, str] | None = None,
    default_type: str | None = None,
    delimiter: str | None = None,
) -> Any:
    """An edge list (CSV, TSV or JSON lines; ``.gz`` allowed) as a ``MultiDiGraph``.

    Fields (``columns`` maps a field to another column name): ``source``, ``target``, ``predicate``
    and ``provenance`` (or ``source_db``) are required; ``source_name``/``target_name`` (default: the
    id), ``source_type``/``target_type`` (default: ``default_type``; without either a
    :class:`ConfigError`), ``relation`` and ``key`` are optional. Every other column becomes an
    edge property. The format comes from the suffix (``.csv``, ``.tsv``/``.tab``, ``.jsonl``/
    ``.ndjson``/``.json``) unless ``delimiter`` is given.
    """
    p = Path(path).expanduser()
    if not p.is_file():
        raise ConfigError(f"edge list not found: {str(p)!r}")
    mapping = {f: f for f in _EDGE_FIELDS}
    if columns:
        unknown = [k for k in columns if k not in mapping]
        if unknown:
            raise ConfigError(f"unknown edge-list field(s) {unknown}: use {', '.join(_EDGE_FIELDS)}")
        mapping.update(columns)
    suffixes = [s.lower() for s in p.suffixes if s.lower() != ".gz"]
    ext = suffixes[-1] if suffixes else ""
    records: Iterable[Mapping[str, Any]]
    if delimiter is None and ext in (".jsonl", ".ndjson", ".json"):
        records = _json_records(p)
    else:
        delim = delimiter or ("\t" if ext in (".tsv", ".tab", ".txt") else ",")
        records = _csv_records(p, delim)
    g = _new_graph()
    for n, rec in enumerate(records, 1):
        _add_record(g, rec, mapping, default_type, f"{p}:{n}")
    g.graph["name"] = p.name
    return g


def _json_records(path: Path) -> Iterator[Mapping[str, Any]]:
    with _open_text(path) as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"{path}:{n}: not a JSON object: {exc}") from exc
            if not isinstance(rec, dict):
                raise InputError(f"{path}:{n}: expected a JSON object per line")
            yield rec


def _csv_records(path: Path, delimiter: str) -> Iterator[Mapping[str, Any]]:
    rows = _rows(path, delimiter)
    try:
        header = next(rows)
    except StopIteration:
        return
    for row in rows:
        yield dict(zip(header, row, strict=False))


def _add_record(
    g: Any, rec: Mapping[str, Any], mapping: Mapping[str, str], default_type: str | None, where: str
) -> None:
    def get(field_name: str) -> Any:
        value = rec.get(mapping[field_name])
        return None if value in (None, "") else value

    u, v, pred = get("source"), get("target"), get("predicate")
    prov = get("provenance")
    if prov is None and mapping["provenance"] == "provenance":
        prov = rec.get("source_db") or None
    missing = [n for n, x in (("source", u), ("target", v), ("predicate", pred), ("provenance", prov)) if x is None]
    if missing:
        raise InputError(
            f"{where}: missing {', '.join(mapping[m] for m in missing)}; an edge list needs source, target, "
            "predicate and provenance columns (rename with columns={...})"
        )
    for node, side in ((str(u), "source"), (str(v), "target")):
        kind = get(f"{side}_type") or default_type
        if kind is None:
            raise ConfigError(
                f"{where}: no {mapping[f'{side}_type']!r} column: node types are needed for the sentences; "
                "add the column or pass default_type='Entity'"
            )
        name = get(f"{side}_name") or node
        if node not in g:
            g.add_node(node, name=str(name), type=str(kind), merge_key=node)
    used = {mapping[f] for f in _EDGE_FIELDS} | {"source_db"}
    attrs: dict[str, Any] = {k: val for k, val in rec.items() if k not in used and val not in (None, "")}
    attrs.update(predicate=str(pred), provenance=provenance_text(prov))
    rel = get("relation")
    if rel is not None:
        attrs["relation"] = str(rel)
    key = get("key")
    _add_edge(g, str(u), str(v), str(key) if key is not None else f"{rel or pred}:{attrs['provenance']}", attrs)


# --------------------------------------------------------------------------- merge
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
    return _merge(graphs, key, copy)


def _merge(graphs: Sequence[Any], key: str | Callable[[Any, Mapping[str, Any]], Any], copy: bool) -> Any:
    nx = _nx()
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
        _add_edges(
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


# --------------------------------------------------------------------------- load by path
_LOAD_LOCK = threading.Lock()
_LOADED: dict[tuple[tuple[str, int], ...], Any] = {}
_MAX_LOADED = 4


def _kind_of(path: Path) -> str:
    if path.is_dir():
        if _find(path, "nodes.tsv") is not None:
            return "hetionet"
        if any(_find(path, n) is not None for n in _JENSEN_FILES.values()):
            return "jensenlab"
        raise ConfigError(
            f"{path} is neither a Hetionet folder (nodes.tsv.gz + edges_*.tsv.gz) nor a JensenLab DISEASES "
            "folder (human_disease_*_filtered.tsv.gz)"
        )
    if path.is_file():
        return "edges"
    raise ConfigError(f"graph path not found: {str(path)!r}")


def _stamp(path: Path) -> int:
    if path.is_dir():
        return max((p.stat().st_mtime_ns for p in path.iterdir()), default=path.stat().st_mtime_ns)
    return path.stat().st_mtime_ns


def load_graph(paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]], *, cache: bool = True) -> Any:
    """Load one graph from path(s): Hetionet / DISEASES folders and edge-list files, merged in order.

    Several paths are merged with :func:`merge_graphs` (diseases on the Disease Ontology id, genes on
    the symbol). With ``cache=True`` the result is kept in memory per (paths, modification times),
    so pruners configured with the same paths share one graph object (and its node index).
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    resolved = [Path(p).expanduser().resolve() for p in paths]
    if not resolved:
        raise ConfigError("load_graph needs at least one path")
    kinds = [_kind_of(p) for p in resolved]
    stamp = tuple((str(p), _stamp(p)) for p in resolved)
    if cache:
        with _LOAD_LOCK:
            hit = _LOADED.get(stamp)
        if hit is not None:
            return hit
    graphs = []
    for p, kind in zip(resolved, kinds, strict=True):
        if kind == "hetionet":
            graphs.append(load_hetionet(p))
        elif kind == "jensenlab":
            graphs.append(load_jensenlab(p))
        else:
            graphs.append(load_edge_list(p))
    graph = graphs[0] if len(graphs) == 1 else _merge(graphs, "merge_key", copy=False)
    if cache:
        with _LOAD_LOCK:
            if len(_LOADED) >= _MAX_LOADED:
                _LOADED.pop(next(iter(_LOADED)))
            _LOADED[stamp] = graph
    return graph
