"""The fact model of :class:`~ctxcompress.KGSchemaPruner`: one verbalised edge (or node identity), with provenance."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Fact", "plain"]


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
    source_name: str = ""
    source_type: str = ""
    target_name: str = ""
    target_type: str = ""
    """Display names and types of the two ends (what the compact rendering groups by); empty when unknown."""

    def meta(self) -> dict[str, Any]:
        """Provenance of the sentence as plain data (node ids, edge key, source database, properties)."""
        data: dict[str, Any] = {
            "source": self.source,
            "target": self.target,
            "key": plain(self.key),
            "predicate": self.predicate,
            "provenance": self.provenance,
        }
        if self.properties:
            data["properties"] = {k: plain(v) for k, v in self.properties.items()}
        return data


def plain(value: Any) -> Any:
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    return str(value)
