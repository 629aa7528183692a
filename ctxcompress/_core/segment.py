"""Text segmentation with exact offsets: Markdown-aware sentences, and words.

Every :class:`Segment` knows where it came from: ``source[seg.start:seg.end] == seg.text``, always.
That is what lets extractive compressors build verbatim :class:`~ctxcompress.Span` provenance.

:func:`split_sentences` works in two passes, both linear in the length of the text:

1. **Blocks.** The text is cut into lines (on ``"\\n"``). A fenced code block (```` ``` ```` or
   ``~~~``, closed by a fence of the same character at least as long, or the end of the text) is one
   ``"code"`` segment; consecutive lines starting with ``|`` are one ``"table"`` segment; an ATX
   heading (``# ...``) is one ``"heading"`` segment; each list item (``- ``, ``* ``, ``+ ``, ``• ``,
   ``1. ``, ``1) ``, with up to three digits), together with its continuation lines, is one
   ``"list_item"`` segment. Everything else is prose, split into paragraphs at blank lines and at
   the start of such blocks. Like CommonMark, only ``1.`` / ``1)`` starts a numbered list in the
   middle of a paragraph.
2. **Sentences.** Each paragraph is split at terminal punctuation (``. ! ? …`` and the CJK, Hindi,
   Arabic, Armenian, Ethiopic and Burmese full stops), with closing quotes, brackets and ``[12]``
   citation marks kept on the sentence they close. A period followed by a lowercase word, a known
   abbreviation (``Mr.``, ``e.g.``, ``U.S.``, ``Inc.``, ``Jan.``, ``a.m.``, ...), an initial
   (``J. R. R. Tolkien``) or a number inside a token (``3.14``, URLs, e-mail addresses) is not a
   boundary. After an abbreviation that can end a sentence (``Inc.``, ``U.S.``, ``etc.``) the next
   word decides: a common sentence opener (``The``, ``He``, ``In``, ...) or two or more spaces
   (HotpotQA joins sentences that way) make a boundary. CJK full stops end a sentence even without
   a following space. A single newline inside a paragraph ends a sentence when the next line starts
   with a capital (or an uncased letter) and the line before does not end with ``, ; : - (`` and
   the like; so hard-wrapped prose stays joined and title lines stand alone.

Segments never include surrounding whitespace, never overlap, come in order, and together hold every
non-whitespace character of the input. HTML is treated as plain text.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

from .errors import ConfigError, InputError

__all__ = ["Segment", "sentence_spans", "split_sentences", "split_words"]

SENTENCE = "sentence"
TABLE = "table"
LIST_ITEM = "list_item"
CODE = "code"
HEADING = "heading"
WORD = "word"


@dataclass(frozen=True, slots=True)
class Segment:
    """A piece of a source string: ``source[start:end] == text``.

    ``kind`` is one of ``"sentence"``, ``"table"``, ``"list_item"``, ``"code"``, ``"heading"``
    (from :func:`split_sentences`) or ``"word"`` (from :func:`split_words`).
    """

    text: str
    start: int
    end: int
    kind: str


# --------------------------------------------------------------------------------------------------
# character sets

_LATIN_TERMINATORS = ".!?‽…‼⁇⁈⁉"
# Full stops that end a sentence even when no space follows.
_HARD_TERMINATORS = "。！？｡．।॥؟۔։።။"
_CLOSERS = "\"'”’»›)]}」』）】〕〉》〗〙〛＂＇］｝*"
_OPENERS = "\"'“‘«‹([{¿¡「『（【〔〈《＂＇［｛*"
# A line ending with one of these continues on the next line (no sentence break at the newline).
_CONTINUATION_END = frozenset(",;:-‐‑–—([{/&+=<\\")
# A sentence does not start with one of these: they belong to what precedes them.
_NO_START = frozenset(".,;:!?)]}…%‽")

# Han (with 々〆〇 and Hangzhou numerals), Hiragana, Katakana (with halfwidth forms), Hangul.
_CJK_RANGES = (
    "\u3005-\u3007\u3021-\u3029\u3031-\u3035\u303b\u303c"
    "\u3041-\u3096\u309d-\u309f\u30a1-\u30fa\u30fc-\u30ff\u31f0-\u31ff"
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003ffff"
    "\u1100-\u11ff\u3131-\u318e\ua960-\ua97f\uac00-\ud7af\ud7b0-\ud7ff\uff66-\uff9f"
)


def _wordset(words: str) -> frozenset[str]:
    return frozenset(words.split())


def _cls(chars: str) -> str:
    return "[" + "".join(re.escape(c) for c in chars) + "]"


_T = _cls(_LATIN_TERMINATORS + _HARD_TERMINATORS)
_T_OR_NL = "[" + _T[1:-1] + "\\n]"

# A newline; or a run of terminal punctuation followed by closers, citation marks ("[12]") and
# closing HTML tags. The pattern starts with a character set, so ``re`` scans for it quickly; and a
# run is always matched whole from its first character, so the time is linear.
_CANDIDATE_RE = re.compile(
    rf"{_T_OR_NL}(?:(?<=\n)|{_T}*"
    rf"(?P<c>(?:{_cls(_CLOSERS)}|\[\d{{1,3}}\]|</[A-Za-z][A-Za-z0-9]{{0,15}}>)*))"
)
_HARD_RE = re.compile(_cls(_HARD_TERMINATORS))
_OPENERS_RE = re.compile(rf"(?:{_cls(_OPENERS)}|<[A-Za-z][^<>\n]{{0,200}}>)*")  # with HTML tags
_TAG_RE = re.compile(r"</?[A-Za-z][^<>\n]{0,200}>")
_NONWS_RE = re.compile(r"\S")
_CJK_CHAR_RE = re.compile(f"[{_CJK_RANGES}]")
_NEXT_WORD_RE = re.compile(r"[^\W_]+")
# Dotted acronyms and abbreviations: U.S, Ph.D, a.m, U.S.A, D.C (the final period is not in the token).
_ACRONYM_RE = re.compile(r"(?:[^\W\d_]{1,3}\.)+[^\W\d_]{1,3}")

# Abbreviations that (almost) never end a sentence: titles before names, Latin abbreviations.
_ALWAYS_ABBR = _wordset(
    """mr mrs ms mx dr prof rev hon gen col capt cpt lt sgt cmdr adm maj gov sen rep pres supt
    mt ft messrs mmes mme mlle msgr fr vs e.g i.e cf viz ca"""
)
# Abbreviations that are abbreviations only before a number ("No. 5", "Fig. 3", "p. 12").
_NUMERIC_ABBR = _wordset("no nos nr fig figs p pp vol vols ch chap sec sect eq eqs art para op pt")
# Abbreviations that can end a sentence: the next word decides.
_FINAL_ABBR = _wordset(
    """st jr sr etc inc ltd co corp bros llc plc al ave blvd rd univ assn dept est approx esp incl
    resp"""
)
_MONTHS = _wordset("jan feb mar apr jun jul aug sep sept oct nov dec")
# Words that commonly open a sentence (so "... in the U.S. The ..." splits, "U.S. Army" does not).
_STARTERS = _wordset(
    """A An The This That These Those It Its He She They We I You His Her Their Our My Your There
    Here In On At By For From With As After Before During Since Until While When Where What Who
    Whom Whose Which Why How If But And Or Nor So Yet However Although Though Because Then Thus
    Therefore Also Moreover Furthermore Meanwhile Later Today Yesterday Tomorrow Some Many Most
    All Each Every No Not One Both Other Another Such To Of Is Was Are Were Do Does Did Can Could
    Will Would Should May Might Must Has Have Had Let Please Yes Despite Instead Still Now Once
    Over Under Among Between Following According Unlike Like Overall Finally First Second Third
    Next Last Indeed Nevertheless Nonetheless Hence Accordingly Additionally Similarly
    Consequently Otherwise Even Only Just Perhaps Several Few Any Neither Either Upon Within
    Without Through Throughout Although Whether Unless"""
)

# Markdown blocks. The start of a block is always the first non-blank character of its line.
_FENCE_OPEN_RE = re.compile(r"`{3,}|~{3,}")
_FENCE_CLOSE_RE = re.compile(r"^[^\S\n]*(`{3,}|~{3,})[^\S\n]*$", re.MULTILINE)
_HEADING_RE = re.compile(r"#{1,6}(?=\s|\Z)")
_LIST_RE = re.compile(r"(?:[-*+•]|\d{1,3}[.)])(?=[^\S\n])")
_TABLE_ROW_RE = re.compile(r"[^\S\n]*\|")
_BLOCK_STARTS = r"`{3,}|~{3,}|\||#{1,6}(?:\s|\Z)"
# The newline that ends a paragraph (a blank line or a block follows) or a list item.
_PARA_END_RE = re.compile(rf"\n(?=[^\S\n]*(?:\n|\Z|{_BLOCK_STARTS}|(?:[-*+•]|1[.)])[^\S\n]))")
_ITEM_END_RE = re.compile(rf"\n(?=[^\S\n]*(?:\n|\Z|{_BLOCK_STARTS}|(?:[-*+•]|\d{{1,3}}[.)])[^\S\n]))")

_TOKEN_LOOKBACK = 48


# --------------------------------------------------------------------------------------------------
# sentences


def split_sentences(text: str, *, language: str | None = None) -> list[Segment]:
    """Split ``text`` into sentences and Markdown blocks, with exact offsets.

    Returns segments in order, non-overlapping, without surrounding whitespace, that together hold
    every non-whitespace character of ``text`` (``text[s.start:s.end] == s.text``). ``kind`` is
    ``"sentence"``, ``"code"`` (a fenced block, whole), ``"table"`` (consecutive ``|`` lines,
    whole), ``"list_item"`` (one item with its continuation lines, whole) or ``"heading"``.
    Empty or whitespace-only text gives ``[]``.

    ``language`` is a hint (for example ``"en"``, ``"zh"``); the rules are the same for every
    language at present, and the CJK, Hindi and Arabic full stops are always recognised.
    Runs in linear time in the length of the text (timings on large inputs: ``eval/RESULTS_scale.md``).
    """
    if not isinstance(text, str):
        raise InputError(f"split_sentences() takes a str, got {type(text).__name__}")
    if language is not None and not isinstance(language, str):
        raise ConfigError(f"language must be a str such as 'en' or None, got {language!r}")
    out: list[Segment] = []
    n = len(text)
    pos = 0
    while True:
        m = _NONWS_RE.search(text, pos)
        if m is None:
            break
        s = m.start()
        ch = text[s]
        end: int
        if ch in "`~" and (fence := _FENCE_OPEN_RE.match(text, s)) is not None and _is_fence(text, fence):
            end = _fence_end(text, fence)
            _emit(text, s, end, CODE, out)
        elif ch == "|":
            end = _line_end(text, s)
            while end < n and _TABLE_ROW_RE.match(text, end + 1):
                end = _line_end(text, end + 1)
            _emit(text, s, end, TABLE, out)
        elif ch == "#" and _HEADING_RE.match(text, s):
            end = _line_end(text, s)
            _emit(text, s, end, HEADING, out)
        elif _LIST_RE.match(text, s):
            e = _ITEM_END_RE.search(text, s)
            end = n if e is None else e.start()
            _emit(text, s, end, LIST_ITEM, out)
        else:
            e = _PARA_END_RE.search(text, s)
            end = n if e is None else e.start()
            _split_paragraph(text, s, end, out)
        pos = end
    return out


def sentence_spans(text: str, *, language: str | None = None) -> list[tuple[int, int]]:
    """``(start, end)`` of each segment of :func:`split_sentences`."""
    return [(seg.start, seg.end) for seg in split_sentences(text, language=language)]


def _line_end(text: str, pos: int) -> int:
    i = text.find("\n", pos)
    return len(text) if i < 0 else i


def _is_fence(text: str, fence: re.Match[str]) -> bool:
    # CommonMark: the info string of a backtick fence has no backtick ("```x```" is inline code).
    return fence.group()[0] != "`" or "`" not in text[fence.end() : _line_end(text, fence.end())]


def _fence_end(text: str, fence: re.Match[str]) -> int:
    marker = fence.group()
    for close in _FENCE_CLOSE_RE.finditer(text, _line_end(text, fence.end())):
        run = close.group(1)
        if run[0] == marker[0] and len(run) >= len(marker):
            return close.end()
    return len(text)


def _emit(text: str, start: int, end: int, kind: str, out: list[Segment]) -> None:
    """Append ``text[start:end]`` without surrounding whitespace (nothing if it is all whitespace)."""
    m = _NONWS_RE.search(text, start, end)
    if m is None:
        return
    start = m.start()
    while text[end - 1].isspace():
        end -= 1
    out.append(Segment(text[start:end], start, end, kind))


def _split_paragraph(text: str, lo: int, hi: int, out: list[Segment]) -> None:
    """Split the paragraph ``text[lo:hi]`` (no blank line inside) into sentences."""
    prev = lo
    last_term_end = -1
    for m in _CANDIDATE_RE.finditer(text, lo, hi):
        cut = -1
        if m.start("c") >= 0:  # terminal punctuation
            last_term_end = te = m.end()
            if te >= hi:
                break  # the end of the paragraph ends the sentence anyway
            nc = text[te]
            if (
                not nc.isspace()
                and nc != "<"
                and nc < "\u1100"  # below every CJK range
                and _HARD_RE.search(text, m.start(), m.start("c")) is None
            ):
                continue  # fast path: "3.14", "a.b", "?x" are no boundary
            if _is_boundary(text, m, lo, hi):
                cut = te
        else:  # a newline: find the last non-whitespace character before it
            j = m.start()
            while j > lo and text[j - 1].isspace():
                j -= 1
            if j > lo and j != last_term_end and _newline_breaks(text, j - 1, m.end(), hi):
                cut = m.end()
        if cut > prev:
            _emit(text, prev, cut, SENTENCE, out)
            prev = cut
    _emit(text, prev, hi, SENTENCE, out)


def _next_start(text: str, pos: int, hi: int) -> tuple[int, int] | None:
    """Position of the next non-whitespace character, and of the first one after opening quotes."""
    q = _NONWS_RE.search(text, pos, hi)
    if q is None:
        return None
    r = _OPENERS_RE.match(text, q.start(), hi)
    assert r is not None  # the pattern matches the empty string
    return q.start(), r.end()


def _newline_breaks(text: str, last: int, pos: int, hi: int) -> bool:
    """Whether a newline ends a sentence; ``last`` is the last non-blank character before it."""
    if text[last] in _CONTINUATION_END:
        return False
    nxt = _next_start(text, pos, hi)
    if nxt is None:
        return False
    q, r = nxt
    if text[q] in _NO_START:
        return False
    if r >= hi:
        return True
    c = text[r]
    return not (c.islower() or c.isdigit())


def _is_boundary(text: str, m: re.Match[str], lo: int, hi: int) -> bool:
    """Whether the terminal punctuation matched by ``m`` ends a sentence."""
    te = m.end()
    if te >= hi:
        return False  # the end of the paragraph ends the sentence anyway
    ts = m.start()
    terms = text[ts : m.start("c")]
    nxt_char = text[te]
    if _HARD_RE.search(terms) is not None:
        # not a fullwidth decimal point ("３．１４")
        return not (
            terms == "．" and m.end() == m.start("c") and ts > 0 and text[ts - 1].isdigit() and nxt_char.isdigit()
        )
    if not nxt_char.isspace():
        # "好!我": Latin punctuation inside CJK text needs no space; "one.</p><p>Two" neither
        if _CJK_CHAR_RE.match(text, te) is not None:
            return True
        if nxt_char != "<" or _TAG_RE.match(text, te) is None:
            return False
    nxt = _next_start(text, te, hi)
    if nxt is None:
        return False
    q, r = nxt
    if text[q] in _NO_START:
        return False  # ". . .", "end. )"
    if r >= hi:
        return True
    c = text[r]
    if c.islower():
        return False
    if terms != ".":
        return True  # "?", "!", "...", "…", "?!"
    tok = _token_before(text, ts, lo)
    if not tok:
        return True
    low = tok.lower()
    if low in _ALWAYS_ABBR or tok == "v":  # "Roe v. Wade" (but "Henry V. The ...")
        return False
    if low in _NUMERIC_ABBR and (c.isdigit() or c == "#"):
        return False
    is_initial = len(tok) == 1 and tok.isupper()
    if not (
        is_initial
        or low in _FINAL_ABBR
        or (low in _MONTHS and tok[0].isupper())
        or _ACRONYM_RE.fullmatch(tok) is not None
    ):
        return True  # an ordinary word, number, URL or e-mail address
    if c.isdigit():
        return False  # "Jan. 5", "U.S. 30"
    if te + 2 <= q and text.find("\n", te, q) < 0:
        return True  # two or more spaces after an abbreviation: a sentence break (HotpotQA)
    word = _NEXT_WORD_RE.match(text, r, hi)
    if word is None or word.group() not in _STARTERS:
        return False  # "U.S. Army", "George W. Bush"
    # "J. A. Smith": the next word is itself an initial
    return not (len(word.group()) == 1 and text.startswith(".", word.end()))


def _token_before(text: str, pos: int, lo: int) -> str:
    """The whitespace-delimited token ending at ``pos``, without opening quotes or brackets."""
    j = pos
    lim = max(lo, pos - _TOKEN_LOOKBACK)
    while j > lim and not text[j - 1].isspace():
        j -= 1
    return text[j:pos].lstrip(_OPENERS)


# --------------------------------------------------------------------------------------------------
# words

# Ranges of code points to scan for combining marks (category M*), which belong to the word they
# follow (Devanagari vowel signs, Arabic harakat, accents in NFD text, ...).
_MARK_SCAN = (
    (0x0300, 0x1FFF),
    (0x20D0, 0x20FF),
    (0x2CEF, 0x2DFF),
    (0x302A, 0x302F),
    (0x3099, 0x309A),
    (0xA66F, 0xABFF),
    (0xFB1E, 0xFB1E),
    (0xFE00, 0xFE2F),
    (0x101FD, 0x11FFF),
    (0x16AF0, 0x16FFF),
    (0x1D165, 0x1D244),
    (0x1E000, 0x1E94F),
    (0xE0100, 0xE01EF),
)


@functools.cache
def _word_re() -> re.Pattern[str]:
    ranges: list[tuple[int, int]] = [(0x200C, 0x200D)]  # ZWNJ / ZWJ inside Indic and Persian words
    for lo, hi in _MARK_SCAN:
        for cp in range(lo, hi + 1):
            if unicodedata.category(chr(cp))[0] == "M":
                if ranges and ranges[-1][1] == cp - 1:
                    ranges[-1] = (ranges[-1][0], cp)
                else:
                    ranges.append((cp, cp))
    marks = "".join(chr(a) if a == b else f"{chr(a)}-{chr(b)}" for a, b in ranges)
    head = rf"[^\W_{_CJK_RANGES}]"  # a letter or digit that is not CJK
    tail = rf"(?:{head}|[{marks}])*"
    joiner = r"(?:['’\-‐‑_.]|(?<=\d),(?=\d))"
    return re.compile(rf"[{_CJK_RANGES}][{marks}]*|{head}{tail}(?:{joiner}{head}{tail})*")


def split_words(text: str) -> list[Segment]:
    """Split ``text`` into words (``kind="word"``) with exact offsets, for word-level removal.

    A word is a run of letters and digits (with the combining marks that follow them), in which
    single inner apostrophes, hyphens, underscores and periods are kept (``don't``,
    ``state-of-the-art``, ``3.14``, ``U.S``, ``example.com``, ``max_tokens``) and commas between
    digits too (``1,000``). Punctuation, symbols and emoji are not words: they are not removable
    units, and callers keep them. In CJK text (Han, Hiragana, Katakana, Hangul) each character is
    its own word; Latin words and numbers inside CJK text stay whole. Scripts written without
    spaces other than these (Thai, Lao, ...) come out as one word per run.
    """
    if not isinstance(text, str):
        raise InputError(f"split_words() takes a str, got {type(text).__name__}")
    return [Segment(m.group(), m.start(), m.end(), WORD) for m in _word_re().finditer(text)]
