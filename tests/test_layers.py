"""The package's layers, read from its source: no import circles, data modules import no renderer, each layer
imports only the layers below it, and nothing reaches for another package's private names."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "storymode"

# data: models and plain values every layer may use; they import nothing that draws, speaks or renders
DATA = {"storymode.story", "storymode.timeline", "storymode.events", "storymode.errors",
        "storymode.understanding.request", "storymode.understanding.vocabulary"}
# what each layer must never import (its own layer and those below it are fine)
FRONT_ENDS = ("storymode.api", "storymode.cli", "storymode.service", "storymode.batch", "storymode.gallery")
FORBIDDEN = {
    "storymode.sound": ("storymode.writers", "storymode.narrators", "storymode.illustrators", "storymode.composers",
                        "storymode.outputs", "storymode.pipeline", *FRONT_ENDS),
    "storymode.understanding": ("storymode.writers", "storymode.narrators", "storymode.illustrators",
                                "storymode.composers", "storymode.outputs", "storymode.pipeline", *FRONT_ENDS),
    "storymode.writers": ("storymode.narrators", "storymode.illustrators", "storymode.composers",
                          "storymode.outputs", "storymode.pipeline", *FRONT_ENDS),
    "storymode.narrators": ("storymode.writers", "storymode.illustrators", "storymode.composers",
                            "storymode.outputs", "storymode.pipeline", *FRONT_ENDS),
    "storymode.illustrators": ("storymode.writers", "storymode.narrators", "storymode.composers",
                               "storymode.outputs", "storymode.pipeline", *FRONT_ENDS),
    "storymode.composers": ("storymode.writers", "storymode.narrators", "storymode.illustrators",
                            "storymode.outputs", "storymode.pipeline", *FRONT_ENDS),
    "storymode.outputs": ("storymode.writers", "storymode.narrators", "storymode.illustrators",
                          "storymode.pipeline", *FRONT_ENDS),
    "storymode.pipeline": FRONT_ENDS,
}


def _modules() -> dict[str, tuple[Path, bool]]:
    found = {}
    for path in ROOT.rglob("*.py"):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        found[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return found


MODULES = _modules()


def _imports(module: str) -> list[tuple[str, list[str], int]]:
    """(imported module, names, line) for every storymode import in the module, lazy ones included."""
    path, is_package = MODULES[module]
    base = module.split(".") if is_package else module.split(".")[:-1]
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = base[: len(base) - (node.level - 1)]
                target = ".".join(anchor + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("storymode"):
                names = [a.name for a in node.names]
                subs = [f"{target}.{n}" for n in names if f"{target}.{n}" in MODULES]
                plain = [n for n in names if f"{target}.{n}" not in MODULES]
                if plain or not subs:  # `from . import reading` is an edge to the submodule, not to the package
                    out.append((target, plain, node.lineno))
                out.extend((s, [], node.lineno) for s in subs)
        elif isinstance(node, ast.Import):
            out.extend((a.name, [], node.lineno) for a in node.names if a.name.startswith("storymode"))
    return out


def _graph() -> dict[str, set[str]]:
    # the package root is a lazy facade (storymode.make -> api); importing __version__ from it is not a layer edge
    return {m: {t for t, _, _ in _imports(m) if t in MODULES and t not in (m, "storymode")}
            for m in MODULES if m != "storymode"}


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_the_checker_sees_a_circle():
    assert _circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _circles({"a": {"b"}, "b": set()}) == []


def test_no_import_circles_even_through_lazy_imports():
    assert _circles(_graph()) == []


@pytest.mark.parametrize("module", sorted(DATA))
def test_data_modules_import_only_data(module):
    allowed = DATA | {"storymode.workspace"}  # atomic writes of the data itself
    wrong = [(t, line) for t, _, line in _imports(module) if t in MODULES and t not in allowed and t != module
             and not t.startswith(module + ".")]
    assert wrong == [], f"{module} imports {wrong}"


def test_each_layer_imports_only_layers_below_it():
    wrong = []
    for module in MODULES:
        for layer, forbidden in FORBIDDEN.items():
            if module == layer or module.startswith(layer + "."):
                wrong += [(module, t, line) for t, _, line in _imports(module)
                          if any(t == f or t.startswith(f + ".") for f in forbidden)]
    assert wrong == []


def test_no_private_name_is_imported_from_another_package():
    wrong = []
    for module in MODULES:
        package = module if MODULES[module][1] else module.rsplit(".", 1)[0]
        for target, names, line in _imports(module):
            target_package = target if target in MODULES and MODULES[target][1] else target.rsplit(".", 1)[0]
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            if private and target_package != package:
                wrong.append((module, line, target, private))
    assert wrong == []


def test_every_package_ships_in_the_wheel():
    import tomllib

    pyproject = tomllib.loads((ROOT.parent / "pyproject.toml").read_text(encoding="utf-8"))
    listed = set(pyproject["tool"]["setuptools"]["packages"])
    packages = {m for m, (_, is_package) in MODULES.items() if is_package}
    assert packages - listed == set()
