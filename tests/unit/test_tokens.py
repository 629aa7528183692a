"""Unit tests of the token counters: model mapping, dispatch, approximate counts, pickling.

Nothing here reads a real BPE file; where an encoding is needed a tiny byte-level one is put in
the process cache.
"""

from __future__ import annotations

import gzip
import pickle
from pathlib import Path
from typing import Any

import pytest

from ctxcompress._backends.tokens import (
    MODEL_ENCODINGS,
    ApproxCounter,
    HFTokenizerCounter,
    TiktokenCounter,
    WhitespaceCounter,
    for_model,
    get_counter,
)
from ctxcompress._backends.tokens import factory as _factory
from ctxcompress._backends.tokens import offline_files as _offline
from ctxcompress._core.errors import BackendError, ConfigError, MissingDependencyError
from ctxcompress._core.protocols import TokenCounter

pytestmark = pytest.mark.unit

O200K_MODELS = [
    "gpt-4o",
    "gpt-4o-mini",
    "gpt-4.1",
    "gpt-4.1-mini",
    "gpt-4.1-nano",
    "gpt-4.5",
    "gpt-5",
    "gpt-5-mini",
    "gpt-5-nano",
    "o1",
    "o3",
    "o4-mini",
    "chatgpt-4o-latest",
]
CL100K_MODELS = [
    "gpt-4",
    "gpt-4-turbo",
    "gpt-3.5-turbo",
    "text-embedding-3-small",
    "text-embedding-3-large",
    "text-embedding-ada-002",
]


@pytest.fixture
def empty_cache(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A fresh, empty process cache of built encodings for one test."""
    cache: dict[str, Any] = {}
    monkeypatch.setattr(_offline, "_LOADED", cache)
    return cache


@pytest.fixture
def tiny_o200k(monkeypatch: pytest.MonkeyPatch, empty_cache: dict[str, Any]) -> Any:
    """Puts a tiny byte-level encoding with a special token in the cache under 'o200k_base'."""
    tiktoken = pytest.importorskip("tiktoken")
    enc = tiktoken.Encoding(
        "tiny",
        pat_str=r"\S+|\s+",
        mergeable_ranks={bytes([i]): i for i in range(256)},
        special_tokens={"<|endoftext|>": 256},
    )
    empty_cache["o200k_base"] = _offline._Loaded(enc, "test")
    return enc


# ------------------------------------------------------------------------------- for_model


@pytest.mark.parametrize("model", O200K_MODELS)
def test_for_model_o200k(model: str) -> None:
    counter = for_model(model)
    assert isinstance(counter, TiktokenCounter)
    assert counter.name == "o200k_base"
    assert MODEL_ENCODINGS[model] == "o200k_base"


@pytest.mark.parametrize("model", CL100K_MODELS)
def test_for_model_cl100k(model: str) -> None:
    assert for_model(model).name == "cl100k_base"
    assert MODEL_ENCODINGS[model] == "cl100k_base"


@pytest.mark.parametrize(
    ("model", "encoding"),
    [
        ("gpt-4o-2024-08-06", "o200k_base"),
        ("gpt-4o-mini-2024-07-18", "o200k_base"),
        ("chatgpt-4o-2025-01-29", "o200k_base"),
        ("gpt-4.1-mini-2025-04-14", "o200k_base"),
        ("gpt-4.5-preview", "o200k_base"),
        ("gpt-5.1", "o200k_base"),
        ("gpt-5-mini-2025-08-07", "o200k_base"),
        ("o1-2024-12-17", "o200k_base"),
        ("o3-mini-2025-01-31", "o200k_base"),
        ("o4-mini-2025-04-16", "o200k_base"),
        ("ft:gpt-4o-mini-2024-07-18:acme::abc123", "o200k_base"),
        ("gpt-4-0613", "cl100k_base"),
        ("gpt-4-32k", "cl100k_base"),
        ("gpt-4-turbo-2024-04-09", "cl100k_base"),
        ("gpt-3.5-turbo-0125", "cl100k_base"),
        ("gpt-35-turbo-16k", "cl100k_base"),
        ("ft:gpt-4-0613:acme::xyz", "cl100k_base"),
        ("ft:gpt-3.5-turbo-0125:acme::xyz", "cl100k_base"),
    ],
)
def test_for_model_prefixes(model: str, encoding: str) -> None:
    assert for_model(model).name == encoding


def test_for_model_agrees_with_tiktoken() -> None:
    model_module = pytest.importorskip("tiktoken.model")
    names = [*MODEL_ENCODINGS, "gpt-4o-2024-08-06", "gpt-4-0613", "gpt-3.5-turbo-0125", "o3-mini-2025-01-31"]
    for name in names:
        try:
            expected = model_module.encoding_name_for_model(name)
        except KeyError:  # a name this tiktoken version does not know yet
            continue
        assert for_model(name).name == expected, name


def test_unknown_model_lists_choices() -> None:
    with pytest.raises(ConfigError) as info:
        for_model("llama-3-8b")
    message = str(info.value)
    assert "llama-3-8b" in message
    for needle in ("gpt-4o", "gpt-3.5-turbo", "text-embedding-3-small", "o200k_base", "cl100k_base"):
        assert needle in message
    assert "HFTokenizerCounter" in message
    assert "tokenizer.json" in message


def test_for_model_rejects_non_strings() -> None:
    with pytest.raises(ConfigError):
        for_model(42)  # type: ignore[arg-type]


def test_model_encodings_is_read_only() -> None:
    with pytest.raises(TypeError):
        MODEL_ENCODINGS["my-model"] = "o200k_base"  # type: ignore[index]


# ----------------------------------------------------------------------------- get_counter


def test_get_counter_auto_prefers_exact_o200k(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_factory, "_offline_available", lambda name: name == "o200k_base")
    for spec in (None, "auto", "AUTO"):
        counter = get_counter(spec)
        assert isinstance(counter, TiktokenCounter)
        assert counter.name == "o200k_base"


def test_get_counter_auto_falls_back_to_approx(monkeypatch: pytest.MonkeyPatch, empty_cache: dict[str, Any]) -> None:
    monkeypatch.setattr(_offline, "_offline_candidates", lambda name: [])
    counter = get_counter()
    assert isinstance(counter, ApproxCounter)
    assert counter.name == "approx"


@pytest.mark.parametrize(
    ("spec", "cls", "name"),
    [
        ("o200k_base", TiktokenCounter, "o200k_base"),
        ("cl100k_base", TiktokenCounter, "cl100k_base"),
        ("r50k_base", TiktokenCounter, "r50k_base"),
        ("approx", ApproxCounter, "approx"),
        ("whitespace", WhitespaceCounter, "whitespace"),
        ("gpt-4o", TiktokenCounter, "o200k_base"),
        ("gpt-4o-2024-08-06", TiktokenCounter, "o200k_base"),
        ("gpt-4", TiktokenCounter, "cl100k_base"),
    ],
)
def test_get_counter_strings(spec: str, cls: type, name: str) -> None:
    counter = get_counter(spec)
    assert type(counter) is cls
    assert counter.name == name


def test_get_counter_tokenizer_paths(tmp_path: Path) -> None:
    folder = tmp_path / "my-tokenizer"
    folder.mkdir()
    (folder / "tokenizer.json").write_text("{}")
    for spec in (str(folder), folder, str(folder / "tokenizer.json"), folder / "tokenizer.json"):
        counter = get_counter(spec)
        assert isinstance(counter, HFTokenizerCounter)
        assert counter.name == "hf:my-tokenizer"


def test_get_counter_ignores_other_existing_files(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    with pytest.raises(ConfigError):
        get_counter(str(notes))


def test_get_counter_returns_counter_objects_as_is() -> None:
    class Mine:
        name = "mine"

        def count(self, text: str) -> int:
            return 7

    mine = Mine()
    assert get_counter(mine) is mine
    whitespace = WhitespaceCounter()
    assert get_counter(whitespace) is whitespace


@pytest.mark.parametrize("spec", ["no-such-model", "", 42, 3.5, object(), ["o200k_base"]])
def test_get_counter_rejects_anything_else(spec: Any) -> None:
    with pytest.raises(ConfigError) as info:
        get_counter(spec)
    message = str(info.value)
    for needle in ("auto", "o200k_base", "approx", "whitespace", "tokenizer.json", "gpt-4o"):
        assert needle in message


def test_get_counter_rejects_a_class() -> None:
    with pytest.raises(ConfigError, match="instance"):
        get_counter(ApproxCounter)  # type: ignore[arg-type]


# ------------------------------------------------------------------------- simple counters


def test_whitespace_counter() -> None:
    counter = WhitespaceCounter()
    assert counter.name == "whitespace"
    assert counter.count("") == 0
    assert counter.count("  one two\tthree\nfour  ") == 4
    assert counter.count("<|endoftext|>") == 1
    assert isinstance(counter, TokenCounter)
    assert repr(counter) == "WhitespaceCounter()"
    assert counter == WhitespaceCounter()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", 0),
        ("   ", 1),
        ("hello", 1),
        ("hello world", 2),
        ("Hello, world!", 4),
        ("It's", 3),
        ("12345", 2),
        ("123", 1),
        ("3.14", 3),
        ("internationalization", 3),  # 20 letters: one token per ~7
        ("today", 1),
        ("a\n\nb", 3),  # the line breaks are one token
        ("a    b", 3),  # so is a run of spaces
        ("今日は", 3),  # one token per CJK / kana character
        ("안녕", 2),
        ("Привет", 2),  # other alphabets: one token per ~3 letters
        ("snake_case", 3),
        ("<|endoftext|>", 5),
    ],
)
def test_approx_counter_pieces(text: str, expected: int) -> None:
    assert ApproxCounter().count(text) == expected


def test_approx_counter_properties() -> None:
    counter = ApproxCounter()
    assert counter.name == "approx"
    assert isinstance(counter, TokenCounter)
    text = "The quick brown fox jumps over the lazy dog. " * 20
    assert counter.count(text) == counter.count(text)
    assert counter.count(text + text) == 2 * counter.count(text)
    assert repr(counter) == "ApproxCounter()"
    assert counter == ApproxCounter()


# ------------------------------------------------------------------------- TiktokenCounter


def test_tiktoken_counter_is_cheap_and_validates() -> None:
    counter = TiktokenCounter()
    assert counter.name == "o200k_base"
    assert counter._loaded is None  # nothing read yet
    assert repr(counter) == "TiktokenCounter('o200k_base')"
    assert TiktokenCounter("p50k_base").name == "p50k_base"  # its file is only needed to count
    with pytest.raises(ConfigError, match="o200k_base"):
        TiktokenCounter("o300k_base")
    with pytest.raises(ConfigError, match="does not exist"):
        TiktokenCounter(bpe_file="/no/such/file.tiktoken")


def test_special_token_text_is_counted_as_text(tiny_o200k: Any) -> None:
    counter = TiktokenCounter()
    text = "hello <|endoftext|> world"
    with pytest.raises(ValueError):
        tiny_o200k.encode(text)  # plain tiktoken refuses it
    assert counter.count(text) == len(text.encode())  # byte-level: one token per byte
    assert counter.encode("<|endoftext|>") == list(b"<|endoftext|>")
    assert counter.count_many(["", "ab", text]) == [0, 2, len(text.encode())]
    assert counter.count_many([]) == []
    assert counter.count("") == 0
    assert counter.source == "test"


def test_tiktoken_counter_pickles_without_the_encoding(tiny_o200k: Any) -> None:
    counter = TiktokenCounter("o200k_base")
    before = counter.count("some text here")
    data = pickle.dumps(counter)
    assert len(data) < 500
    clone = pickle.loads(data)
    assert clone == counter
    assert hash(clone) == hash(counter)
    assert clone._loaded is None
    assert clone.count("some text here") == before


def test_counters_pickle(tmp_path: Path) -> None:
    (tmp_path / "tokenizer.json").write_text("{}")
    counters: list[Any] = [
        ApproxCounter(),
        WhitespaceCounter(),
        TiktokenCounter("cl100k_base", bpe_file=tmp_path / "tokenizer.json", allow_download=True),
        HFTokenizerCounter(tmp_path, name="mine", add_special_tokens=True),
    ]
    for counter in counters:
        clone = pickle.loads(pickle.dumps(counter))
        assert type(clone) is type(counter)
        assert clone.name == counter.name
        assert repr(clone) == repr(counter)


def test_encoding_spec_reads_tiktoken_without_downloading() -> None:
    pytest.importorskip("tiktoken")
    openai_public = pytest.importorskip("tiktoken_ext.openai_public")
    loader = openai_public.load_tiktoken_bpe
    spec = _offline._encoding_spec("o200k_base")
    assert openai_public.load_tiktoken_bpe is loader  # the real module is untouched
    assert spec.sha256 == "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"
    assert spec.url.endswith("/o200k_base.tiktoken")
    assert spec.params["special_tokens"]["<|endoftext|>"] == 199999
    assert "pat_str" in spec.params
    assert "mergeable_ranks" not in spec.params
    cl100k = _offline._encoding_spec("cl100k_base")
    assert cl100k.sha256 == "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"


def test_wrong_bpe_file_is_rejected(tmp_path: Path, empty_cache: dict[str, Any]) -> None:
    pytest.importorskip("tiktoken")
    bogus = tmp_path / "o200k_base.tiktoken"
    bogus.write_bytes(b"aGVsbG8= 0\n")
    with pytest.raises(BackendError, match="sha256"):
        TiktokenCounter(bpe_file=bogus).count("hello")
    zipped = tmp_path / "o200k_base.tiktoken.gz"
    zipped.write_bytes(gzip.compress(b"aGVsbG8= 0\n"))
    with pytest.raises(BackendError, match="sha256"):
        TiktokenCounter(bpe_file=zipped).count("hello")
    assert empty_cache == {}


def test_empty_bpe_folder_is_a_config_error(tmp_path: Path, empty_cache: dict[str, Any]) -> None:
    pytest.importorskip("tiktoken")
    with pytest.raises(ConfigError, match="no o200k_base"):
        TiktokenCounter(bpe_file=tmp_path).count("hello")


def test_no_offline_file_names_the_extra(monkeypatch: pytest.MonkeyPatch, empty_cache: dict[str, Any]) -> None:
    pytest.importorskip("tiktoken")
    monkeypatch.setattr(_offline, "_offline_candidates", lambda name: [])
    with pytest.raises(MissingDependencyError, match=r"ctxcompress\[tiktoken\]"):
        TiktokenCounter("o200k_base").count("hello")
    with pytest.raises(BackendError, match="bpe_file"):
        TiktokenCounter("r50k_base").count("hello")


def test_download_is_only_tried_when_allowed(monkeypatch: pytest.MonkeyPatch, empty_cache: dict[str, Any]) -> None:
    tiktoken = pytest.importorskip("tiktoken")
    monkeypatch.setattr(_offline, "_offline_candidates", lambda name: [])
    calls: list[str] = []

    def fake_get_encoding(name: str) -> Any:
        calls.append(name)
        raise ConnectionError("no network")

    monkeypatch.setattr(tiktoken, "get_encoding", fake_get_encoding)
    with pytest.raises(MissingDependencyError):
        TiktokenCounter("o200k_base").count("x")
    assert calls == []
    with pytest.raises(BackendError, match="no network"):
        TiktokenCounter("o200k_base", allow_download=True).count("x")
    assert calls == ["o200k_base"]


def test_missing_tiktoken_names_the_extra(monkeypatch: pytest.MonkeyPatch, empty_cache: dict[str, Any]) -> None:
    def fail(module: str, *, extra: str, purpose: str = "") -> Any:
        raise MissingDependencyError(f"{module} missing: pip install 'ctxcompress[{extra}]'")

    monkeypatch.setattr(_offline, "require", fail)
    with pytest.raises(MissingDependencyError, match=r"ctxcompress\[tiktoken\]"):
        TiktokenCounter().count("hello")


# ---------------------------------------------------------------------- HFTokenizerCounter


class _FakeEncoding:
    def __init__(self, ids: list[int]) -> None:
        self.ids = ids


class FakeTokenizer:
    """Looks like a ``tokenizers.Tokenizer``: encode() returns an object with ``ids``."""

    def encode(self, text: str, add_special_tokens: bool = True) -> _FakeEncoding:
        ids = [len(word) for word in text.split()]
        return _FakeEncoding([101, *ids, 102] if add_special_tokens else ids)


class FakeTransformersTokenizer:
    """Looks like a ``transformers`` tokenizer: encode() returns a list of ids."""

    name_or_path = "acme/tiny"

    def encode(self, text: str, add_special_tokens: bool = True) -> list[int]:
        ids = list(range(len(text.split())))
        return [0, *ids] if add_special_tokens else ids


class PlainEncoder:
    def encode(self, text: str) -> list[int]:
        return [ord(c) for c in text]


def test_hf_counter_with_objects() -> None:
    counter = HFTokenizerCounter(FakeTokenizer())
    assert counter.name == "hf:FakeTokenizer"
    assert counter.count("one two three") == 3
    assert counter.count("") == 0
    assert counter.encode("ab c") == [2, 1]
    with_special = HFTokenizerCounter(FakeTokenizer(), add_special_tokens=True, name="bert")
    assert with_special.name == "bert"
    assert with_special.count("one two") == 4
    assert with_special.count("") == 2
    transformers_like = HFTokenizerCounter(FakeTransformersTokenizer())
    assert transformers_like.name == "hf:acme/tiny"
    assert transformers_like.count("a b c d") == 4
    plain = HFTokenizerCounter(PlainEncoder())
    assert plain.count("abc") == 3
    assert isinstance(counter, TokenCounter)
    assert "FakeTokenizer" in repr(counter)


def test_hf_counter_validates_input(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"tokenizer\.json"):
        HFTokenizerCounter(tmp_path)  # a folder without tokenizer.json
    with pytest.raises(ConfigError, match=r"tokenizer\.json"):
        HFTokenizerCounter(str(tmp_path / "missing.json"))
    with pytest.raises(ConfigError):
        HFTokenizerCounter(42)
    (tmp_path / "tokenizer.json").write_text("{}")
    with pytest.raises(ConfigError):
        HFTokenizerCounter(tmp_path, name="")


def test_hf_counter_broken_file_is_a_backend_error(tmp_path: Path) -> None:
    pytest.importorskip("tokenizers")
    (tmp_path / "tokenizer.json").write_text("{not json")
    counter = HFTokenizerCounter(tmp_path)  # cheap: nothing read yet
    with pytest.raises(BackendError, match="cannot load"):
        counter.count("hello")


# ------------------------------------------------------- the model table asks tiktoken first (issue 16 §6)


def test_model_table_agrees_with_tiktoken_where_it_knows_a_name() -> None:
    """The fallback table (used without tiktoken) never drifts from tiktoken: every name it holds,
    and every prefix example, maps where tiktoken maps it, unless an override says otherwise."""
    from ctxcompress._backends.tokens import models

    model_module = pytest.importorskip("tiktoken.model")
    examples = [p + "x" if p.endswith("-") else p + "-x" for p, _ in models._MODEL_PREFIXES]
    for name in [*MODEL_ENCODINGS, *examples]:
        if name in models._OVERRIDES or any(name.startswith(p) for p, _ in models._OVERRIDE_PREFIXES):
            continue
        try:
            expected = model_module.encoding_name_for_model(name)
        except KeyError:  # a name this tiktoken version does not know (yet)
            continue
        assert models._SAME_ORDINARY_TEXT.get(expected, expected) == MODEL_ENCODINGS.get(
            name, models._encoding_for_model_name(name)
        ), name


def test_models_tiktoken_knows_and_the_table_does_not(monkeypatch: pytest.MonkeyPatch) -> None:
    from ctxcompress._backends.tokens import models

    model_module = pytest.importorskip("tiktoken.model")
    monkeypatch.setitem(model_module.MODEL_TO_ENCODING, "gpt-from-the-future", "o200k_base")
    assert "gpt-from-the-future" not in MODEL_ENCODINGS
    assert for_model("gpt-from-the-future").name == "o200k_base"  # asked tiktoken
    try:
        model_module.encoding_name_for_model("gpt-oss-120b")
    except KeyError:
        pytest.skip("this tiktoken version does not know gpt-oss")
    assert for_model("gpt-oss-120b").name == "o200k_base"  # o200k_harmony: same tokens for ordinary text
    # the overrides win over tiktoken: it has only the "gpt-4.5-" prefix, and maps ft:gpt-4.1 by "ft:gpt-4"
    assert for_model("gpt-4.5").name == "o200k_base"
    assert for_model("ft:gpt-4.1-mini-2025-04-14:acme::x").name == "o200k_base"
    assert models._encoding_for_model_name("llama-3-8b") is None


def test_model_table_without_tiktoken(monkeypatch: pytest.MonkeyPatch) -> None:
    from ctxcompress._backends.tokens import models

    real = models.importlib.import_module

    def no_tiktoken(name: str, *args: Any) -> Any:
        if name.startswith("tiktoken"):
            raise ImportError(name)
        return real(name, *args)

    monkeypatch.setattr(models.importlib, "import_module", no_tiktoken)
    assert models._tiktoken_encoding_name("gpt-4o") is None
    assert models._encoding_for_model_name("gpt-4o-2024-08-06") == "o200k_base"
    assert models._encoding_for_model_name("gpt-4-0613") == "cl100k_base"
    assert models._encoding_for_model_name("gpt-oss-120b") is None


@pytest.mark.parametrize("name", ["o200k_base", "cl100k_base"])
def test_offline_constructor_trick_matches_tiktoken(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The offline loader runs a copy of tiktoken's private encoding constructor with a recording
    ``load_tiktoken_bpe``. Pin it against tiktoken's own constructor, run for real with the same BPE
    ranks: same file URL and sha256, same regex and special tokens, same tokens on sample texts."""
    tiktoken = pytest.importorskip("tiktoken")
    ext = pytest.importorskip("tiktoken_ext.openai_public")
    candidates = _offline._offline_candidates(name)
    if not candidates:
        pytest.skip(f"no local {name} file")
    spec = _offline._encoding_spec(name)
    ranks = _offline._parse_ranks(_offline._read_verified(candidates[0], spec), candidates[0].label)
    calls: list[tuple[str, str | None]] = []

    def load_tiktoken_bpe(url: str, expected_hash: str | None = None) -> dict[bytes, int]:
        calls.append((url, expected_hash))
        return ranks

    monkeypatch.setattr(ext, "load_tiktoken_bpe", load_tiktoken_bpe)
    real = ext.ENCODING_CONSTRUCTORS[name]()
    assert calls == [(spec.url, spec.sha256)]
    assert real["name"] == name
    assert {k: v for k, v in real.items() if k not in ("name", "mergeable_ranks")} == dict(spec.params)
    theirs = tiktoken.Encoding(**real)
    ours = TiktokenCounter(name)
    for text in ["Paris is the capital of France.", "naïve café — 東京 🚀 <|endoftext|>", "  x\n\n\ty = 3.14159;"]:
        assert ours.encode(text) == theirs.encode(text, disallowed_special=())


def test_harmony_shares_o200k_file_and_regex() -> None:
    """Why gpt-oss models count with o200k_base: o200k_harmony has the same BPE file and regex."""
    pytest.importorskip("tiktoken")
    ext = pytest.importorskip("tiktoken_ext.openai_public")
    if "o200k_harmony" not in ext.ENCODING_CONSTRUCTORS:
        pytest.skip("this tiktoken version has no o200k_harmony")
    harmony, base = _offline._encoding_spec("o200k_harmony"), _offline._encoding_spec("o200k_base")
    assert (harmony.url, harmony.sha256, harmony.params["pat_str"]) == (base.url, base.sha256, base.params["pat_str"])
