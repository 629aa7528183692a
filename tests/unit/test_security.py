"""Configuration files are data: only registered types can be named, and documents are bounded.

Every payload here would create a file (``PWNED``) if a configuration could import and call what it
names; each must leave no file behind and fail with a ``ConfigError`` naming the refused type.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

import ctxcompress
from ctxcompress import (
    Budget,
    Compressor,
    ConfigError,
    LongContextReorder,
    Pipeline,
    RedundancyFusion,
    RelevanceFilter,
    load_config,
    register_type,
)
from ctxcompress._cli import main
from ctxcompress._core.registry import MAX_CONFIG_BYTES, _unregister
from ctxcompress.testing import SAMPLE_CHUNKS, SAMPLE_QUERY, FakeEmbedder, FakeLLM, WhitespaceCounter


# ----------------------------------------------------------------------------- payloads
def _touch(target: Path) -> list[str]:
    return ["sh", "-c", f"touch {target}"]


def _payloads(target: Path) -> dict[str, tuple[str, dict[str, Any]]]:
    """name -> (the refused type, a top-level configuration carrying it)."""
    nested_popen = {
        "steps": [
            {
                "type": "RelevanceFilter",
                "init_parameters": {
                    "scorer": "bm25",
                    "embedder": {"type": "subprocess.Popen", "init_parameters": {"args": _touch(target)}},
                },
            }
        ]
    }
    return {
        "nested-popen": ("subprocess.Popen", nested_popen),
        "top-run": ("subprocess.run", {"type": "subprocess.run", "init_parameters": {"args": _touch(target)}}),
        "step-run": (
            "subprocess.run",
            {"steps": [{"type": "subprocess.run", "init_parameters": {"args": _touch(target)}}]},
        ),
        "os-system": ("os.system", {"type": "os.system", "init_parameters": {"command": f"touch {target}"}}),
        "eval": (
            "builtins.eval",
            {
                "type": "RelevanceFilter",
                "init_parameters": {
                    "embedder": {
                        "type": "builtins.eval",
                        "init_parameters": {"source": f"__import__('os').system('touch {target}')"},
                    }
                },
            },
        ),
        "ctxcompress-internal": (
            "ctxcompress._core.deps.require",
            {"type": "ctxcompress._core.deps.require", "init_parameters": {"module": "os", "extra": "x"}},
        ),
        "pipeline-nested-in-budget": (
            "subprocess.check_call",
            {
                "type": "ctxcompress.Pipeline",
                "init_parameters": {
                    "steps": [
                        {
                            "name": "reorder",
                            "type": "LongContextReorder",
                            "init_parameters": {
                                "embedder": {
                                    "type": "ctxcompress.CachedEmbedder",
                                    "init_parameters": {
                                        "base": {
                                            "type": "subprocess.check_call",
                                            "init_parameters": {"args": _touch(target)},
                                        }
                                    },
                                }
                            },
                        }
                    ]
                },
            },
        ),
    }


PAYLOAD_NAMES = sorted(_payloads(Path("x")))


@pytest.fixture
def pwned(tmp_path: Path) -> Iterator[Path]:
    target = tmp_path / "PWNED"
    yield target
    assert not target.exists(), "a configuration ran code"


def _refused(exc: pytest.ExceptionInfo[ConfigError], type_name: str) -> None:
    assert f"refused type {type_name!r}" in str(exc.value)


# ----------------------------------------------------------------------------- every entry point
@pytest.mark.parametrize("name", PAYLOAD_NAMES)
@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_load_config_refuses_unregistered_types(name: str, suffix: str, tmp_path: Path, pwned: Path) -> None:
    refused, data = _payloads(pwned)[name]
    cfg = tmp_path / f"evil{suffix}"
    cfg.write_text(json.dumps(data) if suffix == ".json" else yaml.safe_dump(data))
    with pytest.raises(ConfigError) as exc:
        load_config(cfg)
    _refused(exc, refused)


@pytest.mark.parametrize("name", PAYLOAD_NAMES)
def test_cli_compress_refuses_unregistered_types(
    name: str, tmp_path: Path, pwned: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    refused, data = _payloads(pwned)[name]
    cfg = tmp_path / "evil.yaml"
    cfg.write_text(yaml.safe_dump(data))
    monkeypatch.setattr("sys.stdin", io.StringIO('{"text": "x"}\n'))
    rc = main(["compress", "--query", "q", "--config", str(cfg)])
    err = capsys.readouterr().err
    assert rc == 2
    assert f"refused type {refused!r}" in err


@pytest.mark.parametrize("name", PAYLOAD_NAMES)
def test_compressor_from_dict_refuses_unregistered_types(name: str, pwned: Path) -> None:
    refused, data = _payloads(pwned)[name]
    if "steps" in data and "type" not in data:
        data = {"type": "ctxcompress.Pipeline", "init_parameters": data}
    with pytest.raises(ConfigError) as exc:
        Compressor.from_dict(data)
    _refused(exc, refused)


@pytest.mark.parametrize("name", ["nested-popen", "step-run", "pipeline-nested-in-budget"])
def test_pipeline_from_dict_refuses_unregistered_types(name: str, pwned: Path) -> None:
    refused, data = _payloads(pwned)[name]
    with pytest.raises(ConfigError) as exc:
        Pipeline.from_dict(data)
    _refused(exc, refused)


def test_a_subclass_from_dict_refuses_nested_unregistered_types(pwned: Path) -> None:
    params = {"embedder": {"type": "subprocess.Popen", "init_parameters": {"args": _touch(pwned)}}}
    with pytest.raises(ConfigError) as exc:
        RelevanceFilter.from_dict({"type": "ctxcompress.RelevanceFilter", "init_parameters": params})
    _refused(exc, "subprocess.Popen")


def test_a_type_object_with_extra_keys_is_refused(pwned: Path) -> None:
    evil = {"type": "subprocess.Popen", "init_parameters": {"args": _touch(pwned)}, "name": "x"}
    with pytest.raises(ConfigError, match="unexpected keys"):
        Compressor.from_dict({"type": "RelevanceFilter", "init_parameters": {"embedder": evil}})


def test_names_are_resolved_before_anything_is_imported(
    tmp_path: Path, pwned: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a module that would run code on import, importable from sys.path
    (tmp_path / "ctxc_evil_mod.py").write_text(f"import pathlib\npathlib.Path({str(pwned)!r}).touch()\nclass X: ...\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    cfg = tmp_path / "evil.yaml"
    cfg.write_text("type: ctxc_evil_mod.X\ninit_parameters: {}\n")
    with pytest.raises(ConfigError) as exc:
        load_config(cfg)
    _refused(exc, "ctxc_evil_mod.X")
    assert "ctxc_evil_mod" not in sys.modules


def test_a_registered_non_compressor_is_not_a_compressor() -> None:
    with pytest.raises(ConfigError, match="not a compressor"):
        Compressor.from_dict({"type": "ctxcompress.testing.FakeEmbedder", "init_parameters": {}})


def test_type_must_be_a_string() -> None:
    with pytest.raises(ConfigError, match="'type'"):
        Compressor.from_dict({"type": ["subprocess", "run"], "init_parameters": {}})
    with pytest.raises(ConfigError, match="'type'"):
        Compressor.from_dict(
            {"type": "RelevanceFilter", "init_parameters": {"embedder": {"type": 3, "init_parameters": {}}}}
        )


# ----------------------------------------------------------------------------- document bounds
BILLION_LAUGHS = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
type: RelevanceFilter
init_parameters: {embedder: *i}
"""


def test_billion_laughs_is_refused_before_expansion(tmp_path: Path) -> None:
    assert len(BILLION_LAUGHS) < 600
    cfg = tmp_path / "laughs.yaml"
    cfg.write_text(BILLION_LAUGHS)
    with pytest.raises(ConfigError, match="aliases are expanded"):
        load_config(cfg)


def test_merge_keys_count_towards_the_expansion_bound(tmp_path: Path) -> None:
    lines = ["a0: &a0 {k: v}"]
    for i in range(1, 30):
        lines.append(f"a{i}: &a{i} {{<<: [*a{i - 1}, *a{i - 1}], x{i}: [*a{i - 1}, *a{i - 1}]}}")
    cfg = tmp_path / "merge.yaml"
    cfg.write_text("\n".join(lines) + "\n")
    with pytest.raises(ConfigError, match="aliases are expanded"):
        load_config(cfg)


def test_a_few_aliases_are_fine(tmp_path: Path) -> None:
    cfg = tmp_path / "alias.yaml"
    cfg.write_text(
        "steps:\n"
        "  - {type: RelevanceFilter, init_parameters: {scorer: embedding, embedder: &emb "
        "{type: ctxcompress.testing.FakeEmbedder, init_parameters: {dim: 32}}}}\n"
        "  - {type: LongContextReorder, init_parameters: {embedder: *emb}}\n"
    )
    pipe = load_config(cfg)
    assert isinstance(pipe, Pipeline) and len(pipe) == 2


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_oversized_file_is_refused_unread(suffix: str, tmp_path: Path, pwned: Path) -> None:
    _, data = _payloads(pwned)["nested-popen"]
    body = json.dumps(data)
    padding = " " * (MAX_CONFIG_BYTES + 1 - len(body))
    cfg = tmp_path / f"big{suffix}"
    cfg.write_text(body + padding)
    assert cfg.stat().st_size > MAX_CONFIG_BYTES
    with pytest.raises(ConfigError, match="larger than"):
        load_config(cfg)


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_deep_nesting_is_refused(suffix: str, tmp_path: Path) -> None:
    cfg = tmp_path / f"deep{suffix}"
    cfg.write_text('{"type": "RelevanceFilter", "init_parameters": {"x": ' + "[" * 5000 + "]" * 5000 + "}}")
    with pytest.raises(ConfigError, match="nested"):
        load_config(cfg)


def test_cyclic_data_is_refused() -> None:
    params: dict[str, Any] = {}
    params["self"] = params
    with pytest.raises(ConfigError):
        Compressor.from_dict({"type": "RelevanceFilter", "init_parameters": params})


def test_invalid_utf8_and_non_mapping_documents(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"type: \xff\n")
    with pytest.raises(ConfigError, match="UTF-8"):
        load_config(bad)
    bad.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(bad)
    bad.write_text("name: x\n")
    with pytest.raises(ConfigError, match="'steps'"):
        load_config(bad)
    bad.write_text("type: !!python/object/apply:os.system ['true']\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)


# ----------------------------------------------------------------------------- accepted spellings
@pytest.mark.parametrize(
    "spelling",
    [
        "RelevanceFilter",
        "ctxcompress.RelevanceFilter",
        "ctxcompress._compressors.relevance_filter.RelevanceFilter",
        "ctxcompress._relevance.RelevanceFilter",  # the flat layout of 0.1.0
    ],
)
def test_existing_spellings_still_load(spelling: str) -> None:
    emb_spellings = ["ctxcompress.testing.FakeEmbedder", "ctxcompress.testing._fakes.FakeEmbedder"]
    for emb in emb_spellings:
        data = {"type": spelling, "init_parameters": {"embedder": {"type": emb, "init_parameters": {"dim": 16}}}}
        comp = Compressor.from_dict(data)
        assert isinstance(comp, RelevanceFilter)
        assert comp.to_dict()["type"] == "ctxcompress.RelevanceFilter"
        assert comp.to_dict()["init_parameters"]["embedder"]["type"] == "ctxcompress.testing.FakeEmbedder"


def data_ok() -> WhitespaceCounter:
    return WhitespaceCounter()


def test_legacy_module_paths_of_unexported_classes_still_load() -> None:
    data = {"type": "ctxcompress._tokens.WhitespaceCounter", "init_parameters": {}}
    comp = Compressor.from_dict(
        {
            "type": "ctxcompress.Summarizer",
            "init_parameters": {"embedder": {"type": "ctxcompress.testing.FakeEmbedder", "init_parameters": {}}},
        }
    )
    assert type(comp).__name__ == "Summarizer"
    from ctxcompress._core.serialize import deserialize

    assert deserialize(data) == WhitespaceCounter()
    assert deserialize({"type": "ctxcompress.testing.WhitespaceCounter", "init_parameters": {}}) == WhitespaceCounter()
    counter_path = "ctxcompress._backends.tokens.counters.WhitespaceCounter"
    assert deserialize({"type": counter_path, "init_parameters": {}}) == data_ok()
    for path in ("ctxcompress._llm.HFLocalLLM", "ctxcompress._lm.llm.HFLocalLLM"):  # 0.1.0 and today
        llm = deserialize({"type": path, "init_parameters": {"model": "smollm2"}})
        assert type(llm).__name__ == "HFLocalLLM"  # built, nothing loaded until the first call
    budget = deserialize({"type": "Budget", "init_parameters": {"max_tokens": 5}})
    assert budget == Budget(max_tokens=5)


def _every_compressor() -> list[Compressor]:
    from ctxcompress._compressors.semantic_compressor import SemanticCompressor
    from ctxcompress._compressors.summarizer import Summarizer
    from ctxcompress._kg.pruner import KGSchemaPruner
    from ctxcompress._refiner.extract_restructure import ExtractRestructure

    comps: list[Compressor] = [
        RelevanceFilter(embedder=FakeEmbedder(dim=32)),
        RelevanceFilter(scorer="bm25", granularity="document"),
        RedundancyFusion(embedder=FakeEmbedder()),
        LongContextReorder(embedder=FakeEmbedder()),
        Pipeline([("f", RelevanceFilter(embedder=FakeEmbedder())), LongContextReorder(embedder=FakeEmbedder())]),
        SemanticCompressor(embedder=FakeEmbedder()),
        Summarizer(embedder=FakeEmbedder()),
        Summarizer(mode="abstractive", llm=FakeLLM(["short"])),
        ExtractRestructure(embedder=FakeEmbedder()),
        ExtractRestructure(engine="llm", llm=FakeLLM(["x"])),
    ]
    with contextlib.suppress(ctxcompress.MissingDependencyError):
        comps.append(KGSchemaPruner(embedder=FakeEmbedder()))
    return comps


@pytest.mark.parametrize("comp", _every_compressor(), ids=lambda c: type(c).__name__)
def test_every_compressor_round_trips_with_registered_names(comp: Compressor, tmp_path: Path) -> None:
    data = comp.to_dict()

    def names(value: Any) -> Iterator[str]:
        if isinstance(value, dict):
            if "type" in value:
                yield value["type"]
            for v in value.values():
                yield from names(v)
        elif isinstance(value, list):
            for v in value:
                yield from names(v)

    for name in names(data):
        assert "._" not in name, f"to_dict wrote a module path: {name}"
    assert Compressor.from_dict(data).to_dict() == data
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(data))
    assert load_config(cfg).to_dict() == data


@pytest.mark.parametrize("name", ["AttentionFilter", "TokenPruner"])
def test_model_compressors_are_registered(name: str) -> None:
    from ctxcompress._core.registry import canonical_name, resolve_type

    assert canonical_name(name) == f"ctxcompress.{name}"
    assert resolve_type(name) is getattr(ctxcompress, name)


# ----------------------------------------------------------------------------- registering your own
class CountingEmbedder:
    """A user's embedder: constructor parameters stored under the same names."""

    def __init__(self, dim: int = 8, *, salt: str = "") -> None:
        self.dim = dim
        self.salt = salt
        self._fake = FakeEmbedder(dim=dim)

    @property
    def name(self) -> str:
        return "counting"

    def encode(self, texts: Any) -> Any:
        return self._fake.encode([self.salt + t for t in texts])


class KeepFirst(Compressor):
    """A user's compressor."""

    def __init__(self, *, n: int = 1, embedder: Any = None) -> None:
        self.n = n
        self.embedder = embedder

    def _compress(self, chunks: Any, *, query: str, cap: Any, ctx: Any) -> Any:
        return chunks[: self.n]


@pytest.fixture
def registered() -> Iterator[None]:
    register_type(CountingEmbedder)
    register_type(KeepFirst, name="mycompany.KeepFirst")
    yield
    _unregister(f"{__name__}.CountingEmbedder")
    _unregister("mycompany.KeepFirst")


def test_a_user_registered_type_round_trips(registered: None, tmp_path: Path) -> None:
    comp = Pipeline([KeepFirst(n=2, embedder=CountingEmbedder(dim=16, salt="s")), RelevanceFilter(scorer="bm25")])
    data = comp.to_dict()
    step = data["init_parameters"]["steps"][0]
    assert step["type"] == "mycompany.KeepFirst"
    assert step["init_parameters"]["embedder"]["type"] == f"{__name__}.CountingEmbedder"
    cfg = tmp_path / "mine.yaml"
    cfg.write_text(yaml.safe_dump(data))
    again = load_config(cfg)
    assert again.to_dict() == data
    assert isinstance(again, Pipeline) and isinstance(again[0], KeepFirst)
    assert isinstance(again[0].embedder, CountingEmbedder) and again[0].embedder.salt == "s"
    out = again.compress(SAMPLE_CHUNKS, query=SAMPLE_QUERY, counter=WhitespaceCounter())
    assert len(out.chunks) <= 2
    # the short name a user chose also works in a hand-written file
    cfg.write_text("steps:\n  - type: mycompany.KeepFirst\n    init_parameters: {n: 1}\n")
    again = load_config(cfg)
    assert isinstance(again, Pipeline) and isinstance(again[0], KeepFirst) and again[0].n == 1


def test_an_unregistered_user_type_is_refused_with_a_hint() -> None:
    data = KeepFirst(n=1).to_dict()
    assert data["type"] == f"{__name__}.KeepFirst"
    assert KeepFirst.from_dict(data).to_dict() == data  # the class itself is named in code
    with pytest.raises(ConfigError, match="register_type") as exc:
        Compressor.from_dict(data)
    _refused(exc, f"{__name__}.KeepFirst")


def test_register_type_rules(registered: None) -> None:
    assert register_type(CountingEmbedder) is CountingEmbedder  # again: a no-op
    with pytest.raises(ConfigError, match="own types"):
        register_type(KeepFirst, name="RelevanceFilter")
    with pytest.raises(ConfigError, match="own types"):
        register_type(KeepFirst, name="ctxcompress._compressors.relevance_filter.RelevanceFilter")
    with pytest.raises(ConfigError, match="already registered"):
        register_type(CountingEmbedder, name="mycompany.KeepFirst")
    with pytest.raises(ConfigError, match="takes a class"):
        register_type(print)  # type: ignore[type-var]
    with pytest.raises(ConfigError, match="whitespace"):
        register_type(CountingEmbedder, name="a b")

    def local() -> type:
        class Inner:
            pass

        return Inner

    with pytest.raises(ConfigError, match="inside a function"):
        register_type(local())
    assert "register_type" in ctxcompress.__all__
