"""LLM entity extraction for :class:`~ctxcompress.KGSchemaPruner` (KG-RAG's GPT step): the prompt and
the parser of the JSON the LLM answers with."""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["ENTITY_PROMPT", "parse_entities"]

ENTITY_PROMPT = (
    "You are an expert {kinds} entity extractor from a sentence and report it as JSON in the following "
    'format: {{"{key}": <list of extracted entities>}}. Please report only {kinds}. Do not report any '
    "other entities.\n\nSentence: {question}\nJSON:"
)
"""The extraction prompt, after KG-RAG's ``DISEASE_ENTITY_EXTRACTION`` system prompt."""


def parse_entities(text: str) -> list[str] | None:
    """Entity strings from an LLM's JSON answer, or ``None`` when it holds no usable JSON.

    Accepts ``{"Diseases": [...]}`` (KG-RAG's format; any key, every list value is read), a JSON list
    of strings, or objects with a ``name``/``entity`` field, anywhere in the text (code fences and
    chatter around it are ignored).
    """
    if not isinstance(text, str):
        return None
    decoder = json.JSONDecoder()
    for m in re.finditer(r"[\[{]", text):
        try:
            value, _ = decoder.raw_decode(text, m.start())
        except json.JSONDecodeError:
            continue
        found = _strings(value)
        if found is not None:
            return list(dict.fromkeys(s.strip() for s in found if s.strip()))
    return None


_ENTITY_KEY = re.compile(r"entit|disease|gene|compound|drug|symptom|anatomy|name", re.IGNORECASE)


def _strings(value: Any) -> list[str] | None:
    if isinstance(value, list):
        out: list[str] = []
        for item in value:
            if isinstance(item, str):
                out.append(item)
            elif isinstance(item, dict):
                name = item.get("name") or item.get("entity") or item.get("text")
                if isinstance(name, str):
                    out.append(name)
        return out if out or not value else None
    if isinstance(value, dict):
        lists = [v for v in value.values() if isinstance(v, list)]
        strs = [v for k, v in value.items() if isinstance(v, str) and _ENTITY_KEY.search(str(k))]
        if not lists and not strs:
            return None
        out = []
        for v in lists:
            out.extend(_strings(v) or [])
        out.extend(strs if not lists else [])
        return out
    return None
