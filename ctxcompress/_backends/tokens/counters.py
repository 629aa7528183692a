"""The token counters: exact offline tiktoken counts, any Hugging Face tokenizer, an estimate, words.

Every counter implements :class:`~ctxcompress._core.protocols.TokenCounter` (a ``name`` and
``count(text) -> int``), is cheap to construct (files load on the first count), and pickles by
configuration (the loaded tokenizer is rebuilt lazily after unpickling).
"""

from __future__ import annotations

import math
import os
import re
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..._core.deps import require
from ..._core.errors import BackendError, ConfigError
from .models import _ENCODINGS
from .offline_files import _load_encoding, _Loaded

__all__ = ["ApproxCounter", "HFTokenizerCounter", "TiktokenCounter", "WhitespaceCounter"]


class TiktokenCounter:
    """Exact token counts of an OpenAI tiktoken encoding, computed offline.

    ``encoding`` is ``"o200k_base"`` (GPT-4o, GPT-4.1, GPT-5, o-series) or ``"cl100k_base"``
    (GPT-4, GPT-3.5, text-embedding-3); ``"p50k_base"`` and ``"r50k_base"`` work when their file
    is found. On the first count the BPE file is found locally, in this order:

    1. ``bpe_file``: a ``.tiktoken`` / ``.tiktoken.gz`` file or a folder holding one;
    2. the ``bpe-openai`` package's data (``o200k_base``, ``cl100k_base``; part of the
       ``tiktoken`` extra);
    3. the tiktoken cache bundled in ``llama-index-core``, if installed (not imported);
    4. tiktoken's own cache folder (``TIKTOKEN_CACHE_DIR``, ``DATA_GYM_CACHE_DIR`` or the
       temp-dir default);
    5. only with ``allow_download=True``: ``tiktoken.get_encoding``, which may download.

    The file's sha256 must equal the hash tiktoken itself expects (read from
    ``tiktoken_ext.openai_public``), otherwise :class:`BackendError` is raised, so counts equal
    online tiktoken exactly. The regex and special tokens also come from tiktoken. The built
    encoding is shared by every counter of the process; the environment is never changed.

    Text is encoded as ordinary text: a literal ``"<|endoftext|>"`` in a chunk is counted as the
    characters it is made of and never raises.
    """

    def __init__(
        self,
        encoding: str = "o200k_base",
        *,
        bpe_file: str | os.PathLike[str] | None = None,
        allow_download: bool = False,
    ) -> None:
        if encoding not in _ENCODINGS:
            raise ConfigError(
                f"unknown tiktoken encoding {encoding!r}; choose one of {', '.join(_ENCODINGS)} "
                "(or use for_model('gpt-4o') to pick it from a model name)"
            )
        if bpe_file is not None and not Path(bpe_file).exists():
            raise ConfigError(f"bpe_file {os.fspath(bpe_file)!r} does not exist")
        self.encoding = encoding
        self.bpe_file = None if bpe_file is None else os.fspath(bpe_file)
        self.allow_download = bool(allow_download)
        self._loaded: _Loaded | None = None

    @property
    def name(self) -> str:
        """The encoding name, e.g. ``"o200k_base"``."""
        return self.encoding

    def _get(self) -> _Loaded:
        loaded = self._loaded
        if loaded is None:
            bpe = None if self.bpe_file is None else Path(self.bpe_file)
            loaded = self._loaded = _load_encoding(self.encoding, bpe, self.allow_download)
        return loaded

    @property
    def tiktoken_encoding(self) -> Any:
        """The ``tiktoken.Encoding`` (loaded on first access)."""
        return self._get().encoding

    @property
    def source(self) -> str:
        """Where the BPE file came from (loads the encoding)."""
        return self._get().source

    def warm_up(self) -> None:
        """Load the encoding now instead of on the first count."""
        self._get()

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` as ordinary text (special-token strings are not special)."""
        ids: list[int] = self._get().encoding.encode_ordinary(text)
        return ids

    def count(self, text: str) -> int:
        """Number of tokens in ``text``."""
        if not text:
            return 0
        return len(self._get().encoding.encode_ordinary(text))

    def count_many(self, texts: Iterable[str]) -> list[int]:
        """Token counts of several texts, encoded in parallel threads."""
        items = list(texts)
        if not items:
            return []
        batches: list[list[int]] = self._get().encoding.encode_ordinary_batch(items)
        return [len(ids) for ids in batches]

    def __getstate__(self) -> dict[str, Any]:
        return {"encoding": self.encoding, "bpe_file": self.bpe_file, "allow_download": self.allow_download}

    def __setstate__(self, state: Mapping[str, Any]) -> None:
        self.encoding = state["encoding"]
        self.bpe_file = state.get("bpe_file")
        self.allow_download = bool(state.get("allow_download", False))
        self._loaded = None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TiktokenCounter):
            return NotImplemented
        return self.__getstate__() == other.__getstate__()

    def __hash__(self) -> int:
        return hash((TiktokenCounter, self.encoding, self.bpe_file, self.allow_download))

    def __repr__(self) -> str:
        extra = ""
        if self.bpe_file is not None:
            extra += f", bpe_file={self.bpe_file!r}"
        if self.allow_download:
            extra += ", allow_download=True"
        return f"TiktokenCounter({self.encoding!r}{extra})"


# --------------------------------------------------------------------------------------------
# Hugging Face tokenizers
# --------------------------------------------------------------------------------------------


def _tokenizer_json(path: Path) -> Path | None:
    if path.is_file():
        return path
    if path.is_dir() and (path / "tokenizer.json").is_file():
        return path / "tokenizer.json"
    return None


def _is_hf_tokenizers_object(obj: object) -> bool:
    return type(obj).__module__.split(".")[0] == "tokenizers" and hasattr(obj, "to_str")


class HFTokenizerCounter:
    """Token counts of any Hugging Face tokenizer.

    ``tokenizer`` is a path to a ``tokenizer.json``, a folder holding one, a
    ``tokenizers.Tokenizer``, or a loaded ``transformers`` tokenizer (any object with
    ``encode``). Files load on the first count (needs the ``hf`` extra). Truncation and padding
    configured in the file are switched off for counting, on a copy: the caller's tokenizer is
    never changed. ``add_special_tokens=True`` also counts the tokens the tokenizer adds around a
    text (e.g. BOS / ``[CLS]``). ``name`` appears in reports; by default it is ``"hf:<folder>"``
    or ``"hf:<name_or_path>"``.
    """

    def __init__(
        self,
        tokenizer: str | os.PathLike[str] | Any,
        *,
        name: str | None = None,
        add_special_tokens: bool = False,
    ) -> None:
        if isinstance(tokenizer, (str, os.PathLike)):
            path = Path(tokenizer)
            found = _tokenizer_json(path)
            if found is None:
                raise ConfigError(
                    f"no tokenizer.json at {os.fspath(tokenizer)!r}: pass the path of a tokenizer.json, a "
                    "folder holding one, a tokenizers.Tokenizer or a loaded transformers tokenizer"
                )
            tokenizer = os.fspath(tokenizer)
            default_name = f"hf:{found.parent.name if found.name == 'tokenizer.json' else found.stem}"
        elif callable(getattr(tokenizer, "encode", None)):
            label = getattr(tokenizer, "name_or_path", None) or type(tokenizer).__name__
            default_name = f"hf:{label}"
        else:
            raise ConfigError(
                f"HFTokenizerCounter needs a tokenizer.json path, a folder, a tokenizers.Tokenizer or an "
                f"object with .encode(); got {type(tokenizer).__name__}"
            )
        if name is not None and (not isinstance(name, str) or not name):
            raise ConfigError(f"name must be a non-empty string or None, got {name!r}")
        self.tokenizer = tokenizer
        self.add_special_tokens = bool(add_special_tokens)
        self._name = name or default_name
        self._backend: Any = None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        """The name shown in reports."""
        return self._name

    def _load(self) -> Any:
        backend = self._backend
        if backend is not None:
            return backend
        with self._lock:
            if self._backend is not None:
                return self._backend
            spec = self.tokenizer
            if isinstance(spec, str):
                tokenizers = require("tokenizers", extra="hf", purpose="Hugging Face token counts")
                path = _tokenizer_json(Path(spec))
                if path is None:
                    raise ConfigError(f"no tokenizer.json at {spec!r}")
                try:
                    backend = tokenizers.Tokenizer.from_file(str(path))
                except Exception as exc:
                    raise BackendError(f"cannot load the tokenizer {path}: {exc}") from exc
                backend.no_truncation()
                backend.no_padding()
            elif _is_hf_tokenizers_object(spec) and (
                getattr(spec, "truncation", None) is not None or getattr(spec, "padding", None) is not None
            ):
                # a copy without truncation/padding; the caller's object is left as it is
                backend = type(spec).from_str(spec.to_str())
                backend.no_truncation()
                backend.no_padding()
            else:
                backend = spec
            self._backend = backend
            return backend

    def warm_up(self) -> None:
        """Load the tokenizer now instead of on the first count."""
        self._load()

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text``."""
        backend = self._load()
        try:
            out = backend.encode(text, add_special_tokens=self.add_special_tokens)
        except TypeError:
            out = backend.encode(text)
        ids = getattr(out, "ids", out)
        return [int(i) for i in ids]

    def count(self, text: str) -> int:
        """Number of tokens in ``text``."""
        if not text and not self.add_special_tokens:
            return 0
        return len(self.encode(text))

    def __getstate__(self) -> dict[str, Any]:
        return {"tokenizer": self.tokenizer, "name": self._name, "add_special_tokens": self.add_special_tokens}

    def __setstate__(self, state: Mapping[str, Any]) -> None:
        self.tokenizer = state["tokenizer"]
        self._name = state["name"]
        self.add_special_tokens = bool(state.get("add_special_tokens", False))
        self._backend = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        what = repr(self.tokenizer) if isinstance(self.tokenizer, str) else f"<{type(self.tokenizer).__name__}>"
        extra = ", add_special_tokens=True" if self.add_special_tokens else ""
        return f"HFTokenizerCounter({what}, name={self._name!r}{extra})"


# --------------------------------------------------------------------------------------------
# Counters that need nothing
# --------------------------------------------------------------------------------------------

# Scripts written without spaces: about one token per character in OpenAI's encodings.
_CJK = (
    "\u1100-\u11ff"  # Hangul Jamo
    "\u2e80-\u2fdf"  # CJK radicals
    "\u3040-\u30ff"  # Hiragana, Katakana
    "\u3100-\u31ff"  # Bopomofo, Hangul compatibility Jamo, Katakana ext.
    "\u3400-\u4dbf"  # CJK ext. A
    "\u4e00-\u9fff"  # CJK unified ideographs
    "\uac00-\ud7af"  # Hangul syllables
    "\uf900-\ufaff"  # CJK compatibility ideographs
    "\uff66-\uff9f"  # half-width Katakana
    "\U00020000-\U0003134f"  # CJK ext. B-G
)
# Combining marks and the Brahmic / Southeast-Asian blocks, whose vowel signs are not
# alphanumeric for Python's ``re`` but belong to words.
_MARKS = (
    "\u0300-\u036f\u0483-\u0489\u0591-\u05c7\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed"
    "\u0900-\u0dff\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff"
)
_APPROX_RE = re.compile(
    rf"(?P<cjk>[{_CJK}])"
    rf"|(?P<word>(?:(?![{_CJK}])[^\W\d_]|[{_MARKS}])+)"
    r"|(?P<num>\d+)"
    r"|(?P<space>\s*\n\s*|\s{2,})"
    r"|(?P<punct>[^\w\s]|_)"
)
# Calibrated on English prose (package READMEs, licences, standard-library docstrings) against
# o200k_base: a Latin-script word of up to _WORD_CHARS letters is one token, a longer one one
# per _WORD_SPLIT letters (about +5% over o200k_base on that prose, so budgets err on the safe
# side). Words in other alphabets (Cyrillic, Greek, Arabic, Devanagari, ...) are split more
# finely, one token per _OTHER_SCRIPT_SPLIT letters, as OpenAI's vocabularies hold fewer of them.
_WORD_CHARS = 9
_WORD_SPLIT = 7
_OTHER_SCRIPT_SPLIT = 3
_LATIN_END_CHAR = "\u0250"  # Basic Latin up to Latin Extended-B


class ApproxCounter:
    """An approximate, OpenAI-like token count that needs no tokenizer file.

    It counts regex pieces: a word is one token (long words add one per ~6 letters; words in
    non-Latin alphabets one per ~3 letters), numbers count one token per group of up to three
    digits, each punctuation or symbol character is one token, each CJK / kana / Hangul
    character is one token, and each line break or run of spaces is one token.

    It is an estimate: on ordinary English prose it lands within about ±25% of ``o200k_base``
    (usually much closer); on code, URLs, emoji or rare scripts it can be further off. Use
    :class:`TiktokenCounter` or :class:`HFTokenizerCounter` when budgets must be exact.
    """

    @property
    def name(self) -> str:
        """``"approx"``."""
        return "approx"

    def count(self, text: str) -> int:
        """Estimated number of tokens in ``text``."""
        total = 0
        for match in _APPROX_RE.finditer(text):
            kind = match.lastgroup
            if kind == "word":
                word = match.group()
                n = len(word)
                if max(word) >= _LATIN_END_CHAR:
                    total += math.ceil(n / _OTHER_SCRIPT_SPLIT)
                elif n <= _WORD_CHARS:
                    total += 1
                else:
                    total += math.ceil(n / _WORD_SPLIT)
            elif kind == "num":
                total += math.ceil((match.end() - match.start()) / 3)
            else:
                total += 1
        return total

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ApproxCounter) or NotImplemented

    def __hash__(self) -> int:
        return hash(ApproxCounter)

    def __repr__(self) -> str:
        return "ApproxCounter()"


class WhitespaceCounter:
    """Counts whitespace-separated words (``len(text.split())``); for tests and fakes."""

    @property
    def name(self) -> str:
        """``"whitespace"``."""
        return "whitespace"

    def count(self, text: str) -> int:
        """Number of whitespace-separated words in ``text``."""
        return len(text.split())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, WhitespaceCounter) or NotImplemented

    def __hash__(self) -> int:
        return hash(WhitespaceCounter)

    def __repr__(self) -> str:
        return "WhitespaceCounter()"
