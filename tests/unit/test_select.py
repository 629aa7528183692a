"""The one selection core (``ctxcompress._core.select``) and the shared title matching (``_compressors.bridging``)."""

from __future__ import annotations

from ctxcompress import Chunk
from ctxcompress._compressors.bridging import mentions, norm_title
from ctxcompress._core.select import Unit, build_chunks, drop_weakest, fill_under_cap, fit_ranked, make_units
from ctxcompress.testing import WhitespaceCounter

TEXT = "Alpha one two. Beta three four five. Gamma six."


def _units() -> tuple[list[Chunk], list[Unit]]:
    chunks = [Chunk(TEXT, id="a"), Chunk("  Delta seven.  ", id="b")]
    return chunks, make_units(chunks, "sentence")


def test_make_units_sentences_and_documents() -> None:
    chunks, units = _units()
    assert [(u.chunk, u.index, u.text) for u in units] == [
        (0, 0, "Alpha one two."),
        (0, 1, "Beta three four five."),
        (0, 2, "Gamma six."),
        (1, 0, "Delta seven."),
    ]
    assert all(chunks[u.chunk].text[u.start : u.end] == u.text for u in units)
    docs = make_units([*chunks, Chunk("   ")], "document")
    assert [(u.text, u.kind) for u in docs] == [(TEXT, "document"), ("Delta seven.", "document")]


def test_fill_under_cap_takes_each_unit_that_still_fits_in_order() -> None:
    cost = {0: 3, 1: 5, 2: 2, 3: 1}
    assert fill_under_cap([1, 0, 2, 3], cost.__getitem__, 8) == ([1, 0], 8)
    assert fill_under_cap([1, 0, 2, 3], cost.__getitem__, 7) == ([1, 2], 7)
    assert fill_under_cap([3, 2], cost.__getitem__, None) == ([3, 2], 3)


def test_build_chunks_keeps_source_order_whatever_the_choice_order() -> None:
    chunks, units = _units()
    a = build_chunks(chunks, units, [3, 2, 0])
    b = build_chunks(chunks, units, [0, 2, 3])
    assert [c.text for c in a] == [c.text for c in b] == ["Alpha one two. Gamma six.", "Delta seven."]


def test_drop_weakest_drops_from_the_end_and_keeps_min_keep() -> None:
    chunks, units = _units()
    count = WhitespaceCounter().count
    strongest_first = [1, 0, 2, 3]  # 4 + 3 + 2 + 2 words
    assert drop_weakest(chunks, units, strongest_first, 7, count) == [1, 0]
    assert drop_weakest(chunks, units, strongest_first, 100, count) == strongest_first
    assert drop_weakest(chunks, units, strongest_first, 1, count) == []
    assert drop_weakest(chunks, units, strongest_first, 1, count, min_keep=1) == [1]


def test_fit_ranked_is_the_longest_fitting_prefix() -> None:
    chunks, units = _units()
    out, k = fit_ranked(chunks, units, [1, 0, 2, 3], 8, WhitespaceCounter().count)
    assert k == 2
    assert [c.text for c in out] == ["Alpha one two. Beta three four five."]


def test_title_mentions_substring_or_whole_words_with_a_length_floor() -> None:
    assert norm_title("Mercury (planet)") == "mercury"
    text = "the ussr and the manhattan project"
    assert mentions(text, "ss", min_len=2, whole_words=False)
    assert not mentions(text, "ss", min_len=3, whole_words=False)
    assert mentions(text, "ussr", min_len=4, whole_words=True)
    assert mentions(text, "manhattan", min_len=4, whole_words=True)
    assert not mentions(text, "manhattan proj", min_len=4, whole_words=True)
    assert mentions(text, "manhattan proj", min_len=4, whole_words=False)
