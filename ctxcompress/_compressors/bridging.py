"""Entity bridging from the evidence text, for the hybrid relevance score (multi-hop without titles).

The hybrid score raises a chunk whose *title* the best evidence names; without titles that bridge is
lost. Here the bridge comes from the evidence text itself: the capitalised names, quoted titles and
years of the best units that the query does not already name are looked up in the other chunks, and a
chunk that holds one is raised, fully when the name is in its first sentence (where an encyclopedic
passage names its subject), half elsewhere, and less when many chunks hold the name (weight divided by
the square root of the number of chunks holding it). With ``hops > 1`` the round repeats: the best
units of the chunks not yet used become the next evidence (retrieval iterated without an LLM, as in
IRCoT), each round's bridges weighted ``decay`` times the previous round's.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

__all__ = ["entities", "entity_bridge", "mentions", "multiword_names", "norm_title"]

_STOP_WORDS = (
    "A An The He She It They We I His Her Its Their This That These Those In On At As After Before During "
    "When While However Although There Some Many Most By For From With Of And But Or If Since Also Both "
    "Each Other Such Following According Between Under Over One Two Three First Second Then Thus Despite "
    "Unlike Like Though Because"
)
_STOP = frozenset(_STOP_WORDS.split())
_CONNECT = r"(?:of|the|de|la|le|von|van|der|du|di|da|and|&|y)"
_CAP = re.compile(rf"[A-Z][\w'’.-]*(?:\s+(?:{_CONNECT}\s+)*[A-Z0-9][\w'’.-]*)*")
_YEAR = re.compile(r"\b(?:1[0-9]{3}|20[0-9]{2})\b")
_QUOTE = re.compile(r"[\"“]([^\"”]{3,80})[\"”]")
_EDGE = " .,;:'’-"
_PAREN = re.compile(r"\s*\([^)]*\)\s*$")
_MULTIWORD = re.compile(r"\b[A-Z][\w'’.-]*(?:\s+(?:of|the|de|von|van|and|&|[A-Z][\w'’.-]*))*\s+[A-Z][\w'’-]*")
_LEADING_ARTICLE = re.compile(r"^(?:the|a|an)\s+", re.IGNORECASE)


def norm_title(title: str) -> str:
    """A title as it is looked for in text: lower-cased, without a trailing ``(disambiguation)``."""
    return _PAREN.sub("", title).strip().lower()


def mentions(text_lower: str, title_norm: str, *, min_len: int, whole_words: bool) -> bool:
    """Whether a lower-cased text names a :func:`norm_title` of at least ``min_len`` characters:
    anywhere (``whole_words=False``) or as whole words only."""
    if len(title_norm) < min_len:
        return False
    if not whole_words:
        return title_norm in text_lower
    i = text_lower.find(title_norm)
    while i >= 0:
        e = i + len(title_norm)
        if (i == 0 or not text_lower[i - 1].isalnum()) and (e >= len(text_lower) or not text_lower[e].isalnum()):
            return True
        i = text_lower.find(title_norm, i + 1)
    return False


def multiword_names(text: str) -> set[str]:
    """Multi-word capitalised names in ``text`` (lower-cased, leading article dropped)."""
    found = set()
    for m in _MULTIWORD.finditer(text):
        name = _LEADING_ARTICLE.sub("", m.group(0).strip()).lower()
        if " " in name:
            found.add(name)
    return found


def entities(text: str, *, year_strength: float = 0.3) -> dict[str, float]:
    """Bridge candidates in ``text`` with a strength: names and quoted titles 1, years ``year_strength``.

    A name is a run of capitalised words (joined by ``of``, ``the``, ``de``, ... inside), without
    leading function words (``The``, ``In``, ``He``, ...), at least four characters long.
    """
    out: dict[str, float] = {}
    for m in _CAP.finditer(text):
        words = m.group(0).strip(_EDGE).split()
        while words and words[0] in _STOP:
            words = words[1:]
        name = " ".join(words).strip(_EDGE)
        if len(name) >= 4:
            out[name] = 1.0
    for m in _QUOTE.finditer(text):
        out[m.group(1).strip()] = 1.0
    for m in _YEAR.finditer(text):
        out.setdefault(m.group(0), year_strength)
    return out


def entity_bridge(
    query: str,
    chunk_texts: Sequence[str],
    unit_texts: Sequence[str],
    unit_chunk: NDArray[np.int64],
    unit_index: Sequence[int],
    scores: NDArray[np.float64],
    *,
    hops: int,
    n_evidence: int = 3,
    weight: float = 0.5,
    decay: float = 0.7,
    year_strength: float = 0.3,
) -> NDArray[np.float64]:
    """The bridge bonus of each unit (add it to ``scores``, the units' relevance without it).

    ``unit_chunk[i]`` is the chunk of unit ``i`` and ``unit_index[i]`` its position in that chunk (0 =
    the chunk's first sentence). Each round takes the ``n_evidence`` best units (by ``scores`` plus the
    bonus so far) of chunks not used as evidence yet; a chunk keeps the largest bonus it earns.
    ``RelevanceFilter`` passes its :class:`HybridWeights` ``entity_*`` fields (the defaults here are
    theirs).
    """
    n_chunks = len(chunk_texts)
    low = [t.lower() for t in chunk_texts]
    heads = [""] * n_chunks
    for text, ci, idx in zip(unit_texts, unit_chunk, unit_index, strict=True):
        if idx == 0:
            heads[int(ci)] = text.lower()
    qlow = query.lower()
    used: set[int] = set()
    bridge = np.zeros(n_chunks)
    total = scores
    for hop in range(hops):
        evidence = [int(i) for i in np.argsort(-total, kind="stable") if int(unit_chunk[i]) not in used][:n_evidence]
        if not evidence:
            break
        used |= {int(unit_chunk[i]) for i in evidence}
        names: dict[str, float] = {}
        for i in evidence:
            for name, strength in entities(unit_texts[i], year_strength=year_strength).items():
                if name.lower() not in qlow:
                    names[name] = max(names.get(name, 0.0), strength)
        found = np.zeros(n_chunks)
        for name, strength in names.items():
            key = name.lower()
            holders = [ci for ci in range(n_chunks) if key in low[ci]]
            if not holders:
                continue
            w = strength / math.sqrt(len(holders))
            for ci in holders:
                if ci not in used:
                    found[ci] = max(found[ci], w * (1.0 if key in heads[ci] else 0.5))
        bridge = np.maximum(bridge, (decay**hop) * found)
        total = scores + weight * bridge[unit_chunk]
    bonus: NDArray[np.float64] = weight * bridge[unit_chunk]
    return bonus
