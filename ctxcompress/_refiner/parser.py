"""A tolerant parser of Refiner-formatted text (:func:`parse_refiner_output`).

It accepts the variants real LLMs write: ``*`` bullets, missing ``##`` or numbers, bold markers,
inline ``Title: quote``, multi-line and quoted quotes, preamble and trailing chatter. What it parses
is not trusted: ``verify.py`` maps every quote back to its source.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .._core.errors import InputError

__all__ = ["RefinerQuote", "parse_refiner_output", "title_keys"]


@dataclass(frozen=True, slots=True)
class RefinerQuote:
    """One quote parsed from Refiner-formatted text.

    ``section`` is the first number of its label (``1`` of ``1.2.``), ``subsection`` the second;
    either is ``None`` where the text had none (``*`` bullets, a bare ``## Title``). ``line`` is the
    0-based line of its header in the parsed text.
    """

    section: int | None
    subsection: int | None
    title: str
    text: str
    line: int = 0

    @property
    def label(self) -> str:
        """``"1.2"``, ``"1"`` or ``"*"`` (no number)."""
        if self.section is None:
            return "*"
        return f"{self.section}.{self.subsection}" if self.subsection is not None else str(self.section)


_BOLD = re.compile(r"^(?:\*\*|__)\s*|\s*(?:\*\*|__)$")
_MARKER = re.compile(
    r"^(?:(?P<num>\d{1,3}(?:\.\d{1,3})+\.?|\d{1,3}\.)(?=[\s#*_]|$)|(?P<bullet>[*\-•+])(?=\s))\s*(?:\*\*|__)?\s*"
)
_HASHES = re.compile(r"^#{1,6}(?=\s|[^#])\s*")
_FENCE = re.compile(r"^\s*(?:```|~~~)")
_RULE = re.compile(r"^\s*(?:-{3,}|\*{3,}|_{3,}|={3,})\s*$")
_QUOTE_PAIRS = {'"': '"', "“": "”", "'": "'", "‘": "’", "«": "»", "„": "“"}


@dataclass
class _Header:
    section: int | None
    subsection: int | None
    title: str
    inline: str
    strong: bool


def _strip_bold(text: str) -> str:
    prev = None
    while prev != text:
        prev = text
        text = _BOLD.sub("", text).strip()
    return text


def _parse_header(line: str) -> _Header | None:
    """A section header line, or None. ``strong`` headers have ``##`` or a two-level number."""
    s = line.strip()
    if not s:
        return None
    s = _strip_bold(s) if s.startswith(("**", "__")) else s
    hashes_first = _HASHES.match(s)
    if hashes_first:
        s = s[hashes_first.end() :]
    m = _MARKER.match(s)
    num: str | None = None
    bullet = False
    if m:
        num = m.group("num")
        bullet = m.group("bullet") is not None
        s = s[m.end() :]
    hashes = _HASHES.match(s)
    if hashes:
        s = s[hashes.end() :]
    has_hashes = bool(hashes_first or hashes)
    if not (num or bullet or has_hashes):
        return None
    parts = [int(p) for p in (num or "").strip(".").split(".") if p]
    section = parts[0] if parts else None
    subsection = parts[1] if len(parts) > 1 else None
    rest = _strip_bold(s.strip())
    if not rest:
        return None
    inline = ""
    title = rest
    # "Title: quote" on one line (the reference parser's ": " form); titles may hold ": " too, so a
    # known title decides later (see parse_refiner_output); here split at the first ": "
    if ": " in rest:
        title, inline = rest.split(": ", 1)
    strong = has_hashes or (len(parts) > 1 and (num or "").endswith("."))
    return _Header(section, subsection, _clean_title(title), inline.strip(), strong)


def _clean_title(title: str) -> str:
    t = _strip_bold(title.strip())
    t = t.strip().rstrip(":").strip()
    if len(t) >= 2 and t[0] in _QUOTE_PAIRS and t[-1] == _QUOTE_PAIRS[t[0]]:
        t = t[1:-1].strip()
    if t.lower().startswith("title:"):
        t = t[6:].strip()
    return " ".join(t.split())


def _clean_quote(lines: Sequence[str]) -> str:
    kept = [ln[1:].lstrip() if ln.lstrip().startswith(">") else ln for ln in lines]
    kept = [ln.lstrip()[1:] if ln.lstrip().startswith(">") else ln for ln in kept]
    text = "\n".join(ln.rstrip() for ln in kept).strip()
    text = _strip_bold(text)
    if len(text) >= 2 and text[0] in _QUOTE_PAIRS and text[-1] == _QUOTE_PAIRS[text[0]]:
        inner = text[1:-1]
        if text[0] not in inner:  # one quoted quote, not '"a" and "b"'
            text = inner.strip()
    return text


def title_keys(title: str) -> tuple[str, str]:
    """Normalised forms of a title for matching: exact-ish, and without a trailing parenthesis."""
    t = unicodedata.normalize("NFKC", title).casefold()
    t = re.sub(r"[\s_*#\"'“”‘’`]+", " ", t).strip(" .:")
    short = re.sub(r"\s*\([^)]*\)\s*$", "", t).strip()
    return t, short


def parse_refiner_output(text: str, *, titles: Sequence[str] | None = None) -> list[RefinerQuote]:
    """Parse Refiner-formatted text into quotes, in order.

    Tolerant of what LLMs write: numbered (``1.1.``, ``1.1``, ``1.``), bulleted (``*``, ``-``) and
    bare (``## Title``) headers, with or without ``##``, bold markers, quoted titles, a quote on the
    header line after ``Title:``, multi-line quotes, ``>`` block quotes, surrounding quotation
    marks, code fences, ``---`` rules, and text before the first header (ignored). A *strong*
    header has ``##`` or a two-level number ending in a dot (``1.2.``); a *weak* one (a bullet, ``1.``,
    ``1.2``) needs a quote of its own, else its line is text of the quote before it. Headers without
    a quote are skipped.

    With ``titles`` (the known source titles), a weak header (a bullet or one-level number without
    ``##``) whose title is not a known title is read as part of the quote before it (a numbered list
    inside a quote), and an inline ``Title: quote`` split is moved to the end of a known title that
    itself contains ``": "``.
    """
    if not isinstance(text, str):
        raise InputError(f"parse_refiner_output takes a str, got {type(text).__name__}")
    known: dict[str, str] = {}
    for t in titles or ():
        full, short = title_keys(t)
        known.setdefault(full, t)
        known.setdefault(short, t)
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    headers: list[tuple[int, _Header]] = []
    for i, line in enumerate(lines):
        if _FENCE.match(line) or _RULE.match(line):
            continue
        h = _parse_header(line)
        if h is None:
            continue
        if known:
            h = _fit_known_title(h, known)
            if h is None:
                continue
        headers.append((i, h))
    # a weak header needs a quote (inline, or text before the next header); one without is text of
    # the quote before it. Decided from the last header up, so "the next header" is settled.
    accepted: list[tuple[int, _Header]] = []
    next_line = len(lines)
    for i, h in reversed(headers):
        has_body = any(ln.strip() and not (_FENCE.match(ln) or _RULE.match(ln)) for ln in lines[i + 1 : next_line])
        if h.strong or h.inline or has_body:
            accepted.append((i, h))
            next_line = i
    accepted.reverse()
    # a weak header right under a header that has no quote yet is that quote's first line
    kept: list[tuple[int, _Header]] = []
    for i, h in accepted:
        if kept and not h.strong and not kept[-1][1].inline:
            j = kept[-1][0]
            if not any(ln.strip() and not (_FENCE.match(ln) or _RULE.match(ln)) for ln in lines[j + 1 : i]):
                continue
        kept.append((i, h))
    accepted = kept
    out: list[RefinerQuote] = []
    for k, (i, h) in enumerate(accepted):
        end = accepted[k + 1][0] if k + 1 < len(accepted) else len(lines)
        body = [ln for ln in lines[i + 1 : end] if not (_FENCE.match(ln) or _RULE.match(ln))]
        parts = [h.inline] if h.inline else []
        body_text = _clean_quote(body)
        if body_text:
            parts.append(body_text)
        quote = _clean_quote(["\n".join(parts)]) if parts else ""
        if quote:
            out.append(RefinerQuote(h.section, h.subsection, h.title, quote, i))
    return out


def _fit_known_title(h: _Header, known: Mapping[str, str]) -> _Header | None:
    """Check a header against the known titles; None when a weak header names no source."""
    if h.inline:
        full = f"{h.title}: {h.inline}"
        keys = title_keys(full)
        if keys[0] in known or keys[1] in known:  # the whole line is a title that holds ": "
            return _Header(h.section, h.subsection, _clean_title(full), "", h.strong)
        for title in sorted(set(known.values()), key=len, reverse=True):
            if len(title) > len(h.title) and full.casefold().startswith(title.casefold() + ": "):
                return _Header(h.section, h.subsection, title, full[len(title) + 2 :].strip(), h.strong)
    if h.strong:
        return h
    keys = title_keys(h.title)
    return h if keys[0] in known or keys[1] in known else None
