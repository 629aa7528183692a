"""The `_core` floor plan, compressor hashing, validators, and `dir(ctxcompress)`."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import ctxcompress
from ctxcompress import Chunk, Compressor, ConfigError, Pipeline, RedundancyFusion, RelevanceFilter
from ctxcompress._core.context import CallContext
from ctxcompress._core.validate import validate_choice, validate_number

CORE = Path(ctxcompress.__file__).parent / "_core"


def _module_level_imports(path: Path) -> list[str]:
    """Absolute names of the ctxcompress modules ``path`` imports outside functions."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = "ctxcompress._core"
    found: list[str] = []
    for node in tree.body:  # module level only: imports inside functions are late by design
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                name = f"{base}.{node.module}" if node.module else base
            else:
                name = node.module or ""
            found.append(name)
        elif isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
    return [n for n in found if n == "ctxcompress" or n.startswith("ctxcompress.")]


def test_core_imports_only_core_at_module_level() -> None:
    for path in sorted(CORE.glob("*.py")):
        for name in _module_level_imports(path):
            assert name.startswith("ctxcompress._core."), f"{path.name} imports {name} at module level"


def test_core_module_imports_have_no_cycle() -> None:
    graph = {f"ctxcompress._core.{p.stem}": set(_module_level_imports(p)) for p in CORE.glob("*.py")}
    assert "ctxcompress._core.pipeline" not in graph["ctxcompress._core.compressor"]
    done: set[str] = set()

    def visit(mod: str, path: tuple[str, ...]) -> None:
        assert mod not in path, f"import cycle: {' -> '.join((*path, mod))}"
        if mod in done:
            return
        for dep in graph.get(mod, ()):
            visit(dep, (*path, mod))
        done.add(mod)

    for mod in graph:
        visit(mod, ())


# --------------------------------------------------------------------------- hashing
def test_equal_compressors_hash_alike() -> None:
    a, b = RelevanceFilter(top_k=3), RelevanceFilter(top_k=3)
    assert a == b and a is not b
    assert hash(a) == hash(b)
    assert len({a, b}) == 1
    assert {a: "x"}[b] == "x"
    p, q = Pipeline([RedundancyFusion(), RelevanceFilter()]), RedundancyFusion() | RelevanceFilter()
    assert p == q and hash(p) == hash(q) and len({p, q}) == 1


def test_compressor_in_a_set_is_found_after_set_params() -> None:
    f = RelevanceFilter(top_k=3)
    held = {f}
    table = {f: 1}
    f.set_params(top_k=5)
    assert f in held and table[f] == 1
    assert RelevanceFilter(top_k=3) not in held  # equality still follows the configuration


class _Opaque:
    def __init__(self, secret: int) -> None:  # not stored under its name: cannot be serialised
        self._secret = secret


class _Holds(Compressor):
    def __init__(self, *, thing: object = None) -> None:
        self.thing = thing

    def _compress(self, chunks: list[Chunk], *, query: str, cap: int | None, ctx: CallContext) -> list[Chunk]:
        return chunks


def test_hashing_does_not_serialise() -> None:
    c = _Holds(thing=_Opaque(1))
    with pytest.raises(ConfigError):
        c.to_dict()
    assert hash(c) == hash(_Holds())
    assert c in {c}


# --------------------------------------------------------------------------- validators
def test_validators_return_the_accepted_value() -> None:
    assert validate_choice("mode", "b", ("a", "b")) == "b"
    assert validate_number("top_k", 3, low=1, integer=True) == 3
    assert validate_number("top_k", None, low=1) is None
    with pytest.raises(ConfigError, match="top_k must be >= 1"):
        validate_number("top_k", 0, low=1)
    with pytest.raises(ConfigError, match="mode must be one of"):
        validate_choice("mode", "c", ("a", "b"))


# --------------------------------------------------------------------------- dir(ctxcompress)
def test_dir_lists_the_lazy_names_without_loading_them() -> None:
    code = (
        "import sys, ctxcompress\n"
        "lazy = sorted(n for n, m in ctxcompress._LAZY.items() if n not in vars(ctxcompress))\n"
        "mods = {n: 'ctxcompress' + ctxcompress._LAZY[n] for n in lazy}\n"
        "loaded = {m for m in mods.values() if m in sys.modules}\n"
        "names = dir(ctxcompress)\n"
        "assert lazy, 'every lazy name was already loaded'\n"
        "assert set(ctxcompress.__all__) <= set(names), sorted(set(ctxcompress.__all__) - set(names))\n"
        "assert names == sorted(names)\n"
        "assert {m for m in mods.values() if m in sys.modules} == loaded, 'dir() imported a lazy module'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
