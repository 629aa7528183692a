"""Knowledge-graph loaders: edge lists (CSV / TSV / JSON lines, gzipped or not) and the two real graphs.

The real graphs are documented in ``../shared/data``: Hetionet v1.0 (:func:`load_hetionet`) and
JensenLab DISEASES (:func:`load_jensenlab`), merged on the Disease Ontology id by :func:`load_graph`
(through :func:`~ctxcompress._kg.merge.merge_graphs`), which keeps what it loaded in a small cache.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any

from .._core.errors import ConfigError, InputError
from .._core.log import timed
from .graph import add_edge, add_edges, new_graph
from .merge import merge_unchecked
from .verbalise import provenance_text

__all__ = ["HETIONET_METAEDGES", "load_edge_list", "load_graph", "load_hetionet", "load_jensenlab"]

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
    g = new_graph()
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
    add_edges(g, edges)


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
    g = new_graph()
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
    g = new_graph()
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
    add_edge(g, str(u), str(v), str(key) if key is not None else f"{rel or pred}:{attrs['provenance']}", attrs)


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
    with timed(f"loaded the graph {', '.join(str(p) for p in resolved)}"):
        for p, kind in zip(resolved, kinds, strict=True):
            if kind == "hetionet":
                graphs.append(load_hetionet(p))
            elif kind == "jensenlab":
                graphs.append(load_jensenlab(p))
            else:
                graphs.append(load_edge_list(p))
        graph = graphs[0] if len(graphs) == 1 else merge_unchecked(graphs, "merge_key", copy=False)
    if cache:
        with _LOAD_LOCK:
            if len(_LOADED) >= _MAX_LOADED:
                _LOADED.pop(next(iter(_LOADED)))
            _LOADED[stamp] = graph
    return graph
