"""Tests of ctxcompress._core.segment: sentence and word segmentation with exact offsets."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ctxcompress._core.errors import ConfigError, InputError
from ctxcompress._core.segment import Segment, sentence_spans, split_sentences, split_words

pytestmark = pytest.mark.unit


def sents(text: str) -> list[str]:
    return [s.text for s in split_sentences(text)]


def kinds(text: str) -> list[tuple[str, str]]:
    return [(s.kind, s.text) for s in split_sentences(text)]


def words(text: str) -> list[str]:
    return [w.text for w in split_words(text)]


def check_segments(text: str, segs: list[Segment]) -> None:
    """The invariants every split_sentences result holds."""
    prev_end = 0
    for s in segs:
        assert text[s.start : s.end] == s.text
        assert s.start >= prev_end
        assert s.text, "empty segment"
        assert s.text == s.text.strip(), "segment not stripped"
        prev_end = s.end
    # nothing lost: every non-whitespace character is in a segment ...
    assert "".join("".join(s.text.split()) for s in segs) == "".join(text.split())
    # ... and what lies between segments is whitespace only
    bounds = [0, *[x for s in segs for x in (s.start, s.end)], len(text)]
    for a, b in zip(bounds[::2], bounds[1::2], strict=True):
        assert text[a:b].strip() == ""


HOTPOT = (
    "Shirley Temple Black (April 23, 1928 – February 10, 2014) was an American actress, singer, "
    "dancer, businesswoman, and diplomat who was Hollywood's number one box-office draw as a child "
    "actress from 1935 to 1938.  As an adult, she was named United States ambassador to Ghana and to "
    "Czechoslovakia and also served as Chief of Protocol of the United States."
)


# -------------------------------------------------------------------------------------------------
# Segment and basics


def test_segment_is_frozen_and_slotted() -> None:
    s = Segment("Hi.", 0, 3, "sentence")
    with pytest.raises(AttributeError):
        s.text = "x"  # type: ignore[misc]
    assert not hasattr(s, "__dict__")


@pytest.mark.parametrize("text", ["", " ", "\n\n\t  \n", "\u3000\u00a0\u2028"])
def test_empty_or_whitespace_gives_nothing(text: str) -> None:
    assert split_sentences(text) == []
    assert split_words(text) == []
    assert sentence_spans(text) == []


def test_single_sentence_offsets_exclude_whitespace() -> None:
    text = "   Hello world.  \n"
    (seg,) = split_sentences(text)
    assert seg == Segment("Hello world.", 3, 15, "sentence")


def test_sentence_spans_matches_segments() -> None:
    text = "One. Two. Three."
    assert sentence_spans(text) == [(0, 4), (5, 9), (10, 16)]
    assert sentence_spans(text, language="en") == sentence_spans(text)


def test_no_terminal_punctuation_is_one_sentence() -> None:
    assert sents("a sentence without an end") == ["a sentence without an end"]


def test_rejects_non_str() -> None:
    with pytest.raises(InputError):
        split_sentences(b"bytes")  # type: ignore[arg-type]
    with pytest.raises(InputError):
        split_words(None)  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        split_sentences("x", language=3)  # type: ignore[arg-type]


def test_language_is_only_a_hint() -> None:
    text = "这是第一句。这是第二句。 And English. Too."
    expected = ["这是第一句。", "这是第二句。", "And English.", "Too."]
    for language in (None, "zh", "en", "xx"):
        assert [s.text for s in split_sentences(text, language=language)] == expected


# -------------------------------------------------------------------------------------------------
# English boundaries


def test_hotpotqa_paragraph_two_sentences() -> None:
    segs = split_sentences(HOTPOT)
    assert len(segs) == 2
    assert segs[0].text.endswith("from 1935 to 1938.")
    assert segs[1].text.startswith("As an adult")
    check_segments(HOTPOT, segs)


def test_hotpotqa_double_space_after_abbreviation_still_splits() -> None:
    text = "He moved to the U.S.  Later he returned home.  Apple Inc.  Cupertino is nice."
    assert sents(text) == ["He moved to the U.S.", "Later he returned home.", "Apple Inc.", "Cupertino is nice."]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello world. This is a test.", ["Hello world.", "This is a test."]),
        ("Is it? Yes! It is.", ["Is it?", "Yes!", "It is."]),
        ("Really?! No way.", ["Really?!", "No way."]),
        ("One.    Two.\tThree.", ["One.", "Two.", "Three."]),
        ("Mr. Smith went to Washington. He liked it.", ["Mr. Smith went to Washington.", "He liked it."]),
        ("Mrs. Jones and Dr. Who met Prof. X today.", ["Mrs. Jones and Dr. Who met Prof. X today."]),
        ("They live on St. Mark's Place. It is loud.", ["They live on St. Mark's Place.", "It is loud."]),
        ("He lives on Main St. The house is red.", ["He lives on Main St.", "The house is red."]),
        ("Martin Luther King Jr. was a leader.", ["Martin Luther King Jr. was a leader."]),
        ("It was John Smith Sr. He was old.", ["It was John Smith Sr.", "He was old."]),
        ("Cats vs. dogs is old. Roe v. Wade was decided.", ["Cats vs. dogs is old.", "Roe v. Wade was decided."]),
        ("Buy apples, pears, etc. and go home.", ["Buy apples, pears, etc. and go home."]),
        ("Buy apples, pears, etc. Then go home.", ["Buy apples, pears, etc.", "Then go home."]),
        ("Use a tool, e.g. A hammer. Or not.", ["Use a tool, e.g. A hammer.", "Or not."]),
        ("Some fruit, i.e. Apples, is good.", ["Some fruit, i.e. Apples, is good."]),
        ("The U.S. Army is large. So is the U.K. Navy.", ["The U.S. Army is large.", "So is the U.K. Navy."]),
        ("She moved to the U.S. The weather was bad.", ["She moved to the U.S.", "The weather was bad."]),
        ("Apple Inc. Chairman spoke. Acme Ltd. The end.", ["Apple Inc. Chairman spoke.", "Acme Ltd.", "The end."]),
        ("Acme Co. and Foo Corp. merged.", ["Acme Co. and Foo Corp. merged."]),
        ("See No. 5 and Fig. 3 for details.", ["See No. 5 and Fig. 3 for details."]),
        ("He said no. Bob laughed.", ["He said no.", "Bob laughed."]),
        ("It opened on Jan. 5, 2020. Sales were good.", ["It opened on Jan. 5, 2020.", "Sales were good."]),
        ("It closed in Dec. The shop reopened.", ["It closed in Dec.", "The shop reopened."]),
        ("Meet at 5 p.m. Eastern time.", ["Meet at 5 p.m. Eastern time."]),
        ("Meet at 5 p.m. The bus leaves at 6 a.m. sharp.", ["Meet at 5 p.m.", "The bus leaves at 6 a.m. sharp."]),
        ("She has a Ph.D. in physics.", ["She has a Ph.D. in physics."]),
        ("Pi is 3.14 roughly. E is 2.718.", ["Pi is 3.14 roughly.", "E is 2.718."]),
        ("It cost $1.5 million. That is a lot.", ["It cost $1.5 million.", "That is a lot."]),
        ("Version 2.0.1 shipped. Users cheered.", ["Version 2.0.1 shipped.", "Users cheered."]),
        ("He scored 3. The team won.", ["He scored 3.", "The team won."]),
        ("J. R. R. Tolkien wrote it. It sold well.", ["J. R. R. Tolkien wrote it.", "It sold well."]),
        ("George W. Bush was president. He was from Texas.", ["George W. Bush was president.", "He was from Texas."]),
        ("The author is J. A. Smith. She writes.", ["The author is J. A. Smith.", "She writes."]),
        ("I need vitamin C. It helps.", ["I need vitamin C.", "It helps."]),
        ("World War II. The end.", ["World War II.", "The end."]),
        ("Visit https://example.com/a.b?x=1. Then leave.", ["Visit https://example.com/a.b?x=1.", "Then leave."]),
        ("Go to www.example.org now. It works.", ["Go to www.example.org now.", "It works."]),
        ("Mail john.doe@example.com. He replies.", ["Mail john.doe@example.com.", "He replies."]),
        ("Wait... What happened? Nothing.", ["Wait...", "What happened?", "Nothing."]),
        ("I think… maybe not. Fine.", ["I think… maybe not.", "Fine."]),
        ("Well... he said no.", ["Well... he said no."]),
        ("He paused . . . and went on.", ["He paused . . . and went on."]),
        ("The value is small. it continues here.", ["The value is small. it continues here."]),
        ("He said \u201cwhy?\u201d and left.", ["He said \u201cwhy?\u201d and left."]),
        ("Approx. 20 people came. It is approx. The end.", ["Approx. 20 people came.", "It is approx.", "The end."]),
        ("The data (see Fig. 2) are clear. Good.", ["The data (see Fig. 2) are clear.", "Good."]),
        ("Smith et al. The results hold.", ["Smith et al.", "The results hold."]),
        ("Smith et al. (2019) showed it.", ["Smith et al. (2019) showed it."]),
        ("It was great.[1] Then it ended.[2][3] Yes.", ["It was great.[1]", "Then it ended.[2][3]", "Yes."]),
    ],
)
def test_english_boundaries(text: str, expected: list[str]) -> None:
    segs = split_sentences(text)
    assert [s.text for s in segs] == expected
    assert all(s.kind == "sentence" for s in segs)
    check_segments(text, segs)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('He said "Stop." Then he left.', ['He said "Stop."', "Then he left."]),
        ("He said \u201cStop.\u201d Then he left.", ["He said \u201cStop.\u201d", "Then he left."]),
        ("She said 'Go!' Then she went.", ["She said 'Go!'", "Then she went."]),
        ('"Stop!" he shouted.', ['"Stop!" he shouted.']),
        ("(This is an aside.) Next one.", ["(This is an aside.)", "Next one."]),
        ("It ends here.) Odd but fine.", ["It ends here.)", "Odd but fine."]),
        ('He said: "Go." "Where?" she asked.', ['He said: "Go."', '"Where?" she asked.']),
        ("First.  (Second.) [Third.]", ["First.", "(Second.)", "[Third.]"]),
        ("«Bonjour.» Il part.", ["«Bonjour.»", "Il part."]),
        ("This is **important.** Then more.", ["This is **important.**", "Then more."]),
    ],
)
def test_quotes_and_brackets(text: str, expected: list[str]) -> None:
    assert sents(text) == expected


# -------------------------------------------------------------------------------------------------
# other scripts


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("这是第一句。这是第二句！第三句？好的。", ["这是第一句。", "这是第二句！", "第三句？", "好的。"]),
        ("今日は晴れです。明日は雨です。", ["今日は晴れです。", "明日は雨です。"]),
        ("他说：“你好。”然后走了。", ["他说：“你好。”", "然后走了。"]),
        ("「はい。」と言った。次。", ["「はい。」", "と言った。", "次。"]),
        ("这是ＡＢＣ．那是ＤＥＦ．", ["这是ＡＢＣ．", "那是ＤＥＦ．"]),
        ("数值是３．１４。对。", ["数值是３．１４。", "对。"]),
        ("你好!我是小明。", ["你好!", "我是小明。"]),
        ("我用Python 3.11写代码。很好。", ["我用Python 3.11写代码。", "很好。"]),
        ("안녕하세요. 반갑습니다.", ["안녕하세요.", "반갑습니다."]),
        ("यह पहला वाक्य है। यह दूसरा वाक्य है।", ["यह पहला वाक्य है।", "यह दूसरा वाक्य है।"]),
        ("هل أنت بخير؟ نعم، أنا بخير.", ["هل أنت بخير؟", "نعم، أنا بخير."]),
        ("Привет. Как дела? Хорошо!", ["Привет.", "Как дела?", "Хорошо!"]),
    ],
)
def test_other_scripts(text: str, expected: list[str]) -> None:
    segs = split_sentences(text)
    assert [s.text for s in segs] == expected
    check_segments(text, segs)


# -------------------------------------------------------------------------------------------------
# paragraphs and newlines


def test_sentence_never_spans_a_blank_line() -> None:
    text = "First paragraph without end\n\nsecond paragraph starts lowercase"
    assert sents(text) == ["First paragraph without end", "second paragraph starts lowercase"]
    assert sents("Dr.\n\nSmith came.") == ["Dr.", "Smith came."]
    assert sents("A line\n  \t \nanother line") == ["A line", "another line"]
    assert sents("One\r\n\r\nTwo") == ["One", "Two"]


def test_hard_wrapped_prose_stays_joined() -> None:
    text = "This sentence was wrapped\nacross two lines, and the U.S.\nArmy is big. Next one."
    assert sents(text) == [
        "This sentence was wrapped\nacross two lines, and the U.S.\nArmy is big.",
        "Next one.",
    ]


def test_newline_before_capital_is_a_break() -> None:
    text = "Introduction\nThe method is simple.\nIt works well."
    assert sents(text) == ["Introduction", "The method is simple.", "It works well."]


def test_newline_after_continuation_punctuation_is_not_a_break() -> None:
    text = "Born in Paris (April 23, 1928 –\nFebruary 10, 2014), she was known for:\nActing, singing."
    assert sents(text) == [text]


# -------------------------------------------------------------------------------------------------
# Markdown


def test_markdown_document() -> None:
    text = (
        "# Title\n"
        "\n"
        "Some intro. More intro.\n"
        "\n"
        "## Section 2\n"
        "- item one. Still item one.\n"
        "- item two\n"
        "  continued here\n"
        "* star item\n"
        "+ plus item\n"
        "\n"
        "1. first\n"
        "2) second\n"
        "10. tenth\n"
        "\n"
        "| a | b |\n"
        "|---|---|\n"
        "| 1. x | 2. y |\n"
        "\n"
        "```python\n"
        "x = 1. \n"
        "\n"
        "# not a heading\n"
        "y = 2\n"
        "```\n"
        "After code. Done.\n"
    )
    segs = split_sentences(text)
    assert [(s.kind, s.text) for s in segs] == [
        ("heading", "# Title"),
        ("sentence", "Some intro."),
        ("sentence", "More intro."),
        ("heading", "## Section 2"),
        ("list_item", "- item one. Still item one."),
        ("list_item", "- item two\n  continued here"),
        ("list_item", "* star item"),
        ("list_item", "+ plus item"),
        ("list_item", "1. first"),
        ("list_item", "2) second"),
        ("list_item", "10. tenth"),
        ("table", "| a | b |\n|---|---|\n| 1. x | 2. y |"),
        ("code", "```python\nx = 1. \n\n# not a heading\ny = 2\n```"),
        ("sentence", "After code."),
        ("sentence", "Done."),
    ]
    check_segments(text, segs)


def test_tilde_fence_and_longer_fences() -> None:
    text = "~~~\nA. B.\n```\nstill code\n~~~\nProse. More."
    assert kinds(text) == [
        ("code", "~~~\nA. B.\n```\nstill code\n~~~"),
        ("sentence", "Prose."),
        ("sentence", "More."),
    ]
    text = "````md\n```\ninner\n```\n````\nAfter."
    assert kinds(text) == [("code", "````md\n```\ninner\n```\n````"), ("sentence", "After.")]


def test_unclosed_fence_runs_to_the_end() -> None:
    text = "Intro.\n```\ncode. More code.\n\nEven more."
    assert kinds(text) == [("sentence", "Intro."), ("code", "```\ncode. More code.\n\nEven more.")]


def test_inline_triple_backticks_are_not_a_fence() -> None:
    text = "```x``` is inline. Next sentence."
    assert kinds(text) == [("sentence", "```x``` is inline."), ("sentence", "Next sentence.")]


def test_indented_fence_and_fence_inside_paragraph() -> None:
    text = "Look at this:\n  ```\n  a = 1\n  ```\nDone."
    assert kinds(text) == [
        ("sentence", "Look at this:"),
        ("code", "```\n  a = 1\n  ```"),
        ("sentence", "Done."),
    ]


def test_table_interrupts_a_paragraph_and_stays_whole() -> None:
    text = "Results below.\n| x | y |\n| - | - |\n| 1 | 2 |\nThe end."
    assert kinds(text) == [
        ("sentence", "Results below."),
        ("table", "| x | y |\n| - | - |\n| 1 | 2 |"),
        ("sentence", "The end."),
    ]


def test_headings() -> None:
    assert kinds("# One\n## Two. Three.\n###### Six") == [
        ("heading", "# One"),
        ("heading", "## Two. Three."),
        ("heading", "###### Six"),
    ]
    # not headings: no space after "#", or more than six
    assert kinds("#hashtag is here.") == [("sentence", "#hashtag is here.")]
    assert kinds("####### seven") == [("sentence", "####### seven")]
    assert kinds("#") == [("heading", "#")]


def test_list_items() -> None:
    text = "Steps:\n1. Mix. Stir well.\n2. Bake\n   for an hour.\n- Note."
    assert kinds(text) == [
        ("sentence", "Steps:"),
        ("list_item", "1. Mix. Stir well."),
        ("list_item", "2. Bake\n   for an hour."),
        ("list_item", "- Note."),
    ]
    assert kinds("  - nested\n    - deeper") == [("list_item", "- nested"), ("list_item", "- deeper")]
    assert kinds("• bullet one\n• bullet two") == [("list_item", "• bullet one"), ("list_item", "• bullet two")]


def test_list_item_ends_at_blank_line() -> None:
    text = "- item\n\nParagraph. Two."
    assert kinds(text) == [("list_item", "- item"), ("sentence", "Paragraph."), ("sentence", "Two.")]


def test_not_list_items() -> None:
    # a year, a decimal, emphasis, an ordered number other than 1 inside a paragraph
    assert kinds("1990. He moved. Then left.") == [
        ("sentence", "1990."),
        ("sentence", "He moved."),
        ("sentence", "Then left."),
    ]
    assert kinds("1.5 million people came.") == [("sentence", "1.5 million people came.")]
    assert kinds("*emphasis* here.") == [("sentence", "*emphasis* here.")]
    assert kinds("We counted to\n2. and stopped.") == [("sentence", "We counted to\n2. and stopped.")]


def test_html_is_text() -> None:
    text = "<p>Hello there.</p><p>Second one.</p> <div>Third <b>bold</b>. Fourth.</div>"
    segs = split_sentences(text)
    assert [s.text for s in segs] == [
        "<p>Hello there.</p>",
        "<p>Second one.</p>",
        "<div>Third <b>bold</b>.",
        "Fourth.</div>",
    ]
    check_segments(text, segs)
    messy = "<html><body><p>a < b. C > d.</p><br/>< not a tag</body></html>"
    check_segments(messy, split_sentences(messy))


# -------------------------------------------------------------------------------------------------
# speed and pathological input

_PARAGRAPH = (
    HOTPOT + " Mr. Smith met Dr. J. R. Jones at 5 p.m. in the U.S. on Jan. 5, e.g. for $1.5 million. "
    "Was it worth it? Yes! Visit https://example.com/x.y for more.\n\n"
)


def test_one_megabyte_of_prose_is_fast() -> None:
    text = (_PARAGRAPH * (1_000_000 // len(_PARAGRAPH) + 1))[:1_000_000]
    t0 = time.process_time()
    segs = split_sentences(text)
    elapsed = time.process_time() - t0
    assert elapsed < 1.0, elapsed
    assert len(segs) > 5000
    check_segments(text, segs)


_PATHOLOGICAL = [
    *(ch * 1_000_000 for ch in 'a.!?。 \n|#-`~*"(<[\u00a0'),
    ("lorem ipsum dolor sit amet " * 40_000)[:1_000_000],  # no punctuation at all
    "lorem ipsum dolor sit amet\n" * 37_000,
    "x" + " " * 999_998 + "Y",
    "a." * 500_000,
    "<a" * 500_000,
    "1." * 500_000,
    "- a\n" * 100_000,
]


@pytest.mark.parametrize("text", _PATHOLOGICAL, ids=lambda t: repr(t[:8]))
def test_pathological_megabyte_is_linear(text: str) -> None:
    t0 = time.process_time()
    segs = split_sentences(text)
    elapsed = time.process_time() - t0
    assert elapsed < 10.0, elapsed  # linear: a second at most; quadratic would take hours
    assert sum(len(s.text) for s in segs) <= len(text)
    check_segments(text[:2000], split_sentences(text[:2000]))


@pytest.mark.parametrize("text", [t[:200_000] for t in _PATHOLOGICAL], ids=lambda t: repr(t[:8]))
def test_pathological_words_are_linear(text: str) -> None:
    t0 = time.process_time()
    ws = split_words(text)
    assert time.process_time() - t0 < 5.0
    assert all(not any(c.isspace() for c in w.text) for w in ws[:1000])


# -------------------------------------------------------------------------------------------------
# words


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I don't like it.", ["I", "don't", "like", "it"]),
        ("It\u2019s state-of-the-art!", ["It\u2019s", "state-of-the-art"]),
        ("Pi is 3.14, not 1,000 or 1,000,000.", ["Pi", "is", "3.14", "not", "1,000", "or", "1,000,000"]),
        ("a, b; c: d (e) [f] {g} -h- 'i'", ["a", "b", "c", "d", "e", "f", "g", "h", "i"]),
        ("the U.S. and e.g. example.com", ["the", "U.S", "and", "e.g", "example.com"]),
        ("max_tokens = 5", ["max_tokens", "5"]),
        ("well--known ... wait...what", ["well", "known", "wait", "what"]),
        ("10:30 $5 50% #tag @user", ["10", "30", "5", "50", "tag", "user"]),
        ("emoji 😀👍🏽 and 👨\u200d👩\u200d👧 family", ["emoji", "and", "family"]),
        ("naïve café Ünïcödé", ["naïve", "café", "Ünïcödé"]),
        ("cafe\u0301 with NFD", ["cafe\u0301", "with", "NFD"]),
        ("हिन्दी भाषा", ["हिन्दी", "भाषा"]),
        ("می\u200cخواهم بروم", ["می\u200cخواهم", "بروم"]),
        ("Привет, мир!", ["Привет", "мир"]),
        ("我爱Python编程。", ["我", "爱", "Python", "编", "程"]),
        ("2024年3月", ["2024", "年", "3", "月"]),
        ("日本語のテキストです", ["日", "本", "語", "の", "テ", "キ", "ス", "ト", "で", "す"]),
        ("한국어 문장", ["한", "국", "어", "문", "장"]),
        ("ＡＢＣ全角", ["ＡＢＣ", "全", "角"]),
        ("trailing- 'quoted' hy-", ["trailing", "quoted", "hy"]),
    ],
)
def test_split_words(text: str, expected: list[str]) -> None:
    segs = split_words(text)
    assert [w.text for w in segs] == expected
    for w in segs:
        assert w.kind == "word"
        assert text[w.start : w.end] == w.text


def test_split_words_offsets() -> None:
    text = "  Hello, wörld!  "
    assert split_words(text) == [Segment("Hello", 2, 7, "word"), Segment("wörld", 9, 14, "word")]


def test_split_words_fast() -> None:
    text = (_PARAGRAPH * (300_000 // len(_PARAGRAPH) + 1))[:300_000]
    t0 = time.process_time()
    ws = split_words(text)
    assert time.process_time() - t0 < 2.0
    assert len(ws) > 30_000


# -------------------------------------------------------------------------------------------------
# properties

_FRAGMENTS = [
    " ", "  ", "\n", "\n\n", "\r\n", "\t", "\u00a0", "\u3000", "\u2028", "\x0b", "\x1c",
    ".", "!", "?", "...", "…", "。", "！", "．", "।", "؟", '"', "'", "”", ")", "(", "[1]", "*",
    "Mr.", "e.g.", "U.S.", "J.", "Inc.", "Jan.", "p.m.", "3.14", "1,000", "The", "the", "He",
    "word", "A", "a", "I", "中文", "日本", "한국", "हिन्दी", "😀", "👨\u200d👩", "\u0301", "\u200d",
    "```", "~~~", "|", "| a |", "# ", "## x", "- ", "* ", "+ ", "1. ", "2) ", "• ",
    "<p>", "</p>", "<", ">", "https://x.io/a.b", "a@b.co", "-", "—", "'s", "’", "_", ",", ";", ":",
]  # fmt: skip

_TEXT = st.lists(
    st.one_of(st.sampled_from(_FRAGMENTS), st.text(max_size=6)),
    max_size=40,
).map("".join)


@settings(max_examples=250, deadline=None)
@given(_TEXT)
def test_split_sentences_properties(text: str) -> None:
    segs = split_sentences(text)
    check_segments(text, segs)
    assert all(s.kind in {"sentence", "table", "list_item", "code", "heading"} for s in segs)
    assert sentence_spans(text) == [(s.start, s.end) for s in segs]
    assert split_sentences(text) == segs  # deterministic


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_split_sentences_properties_on_any_unicode(text: str) -> None:
    check_segments(text, split_sentences(text))


@settings(max_examples=250, deadline=None)
@given(st.one_of(_TEXT, st.text()))
def test_split_words_properties(text: str) -> None:
    segs = split_words(text)
    prev_end = 0
    for w in segs:
        assert text[w.start : w.end] == w.text
        assert w.start >= prev_end
        assert w.text
        assert not any(c.isspace() for c in w.text)
        assert w.kind == "word"
        prev_end = w.end
    # no letter or digit is lost: everything between words is neither
    bounds = [0, *[x for w in segs for x in (w.start, w.end)], len(text)]
    for a, b in zip(bounds[::2], bounds[1::2], strict=True):
        assert not any(c.isalnum() for c in text[a:b]), text[a:b]


def test_public_names() -> None:
    import ctxcompress._core.segment as mod

    assert mod.__all__ == sorted(mod.__all__)
    assert set(mod.__all__) == {"Segment", "sentence_spans", "split_sentences", "split_words"}
