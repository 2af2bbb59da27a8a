"""Packages import one way: every import in lnet_edge against the layer order of docs/architecture.md.

A unit is a top-level module (``lnet_edge/config.py``: ``config``; the package's own
``__init__.py``: ``__init__``) or a sub-package (``lnet_edge/field/``: ``field``). The doc's
``text layers`` block lists them, lowest layer first by number; a unit may import units of lower
layers and units listed before it in its own layer, nothing else. Imports count wherever they
stand (module level, inside functions, under ``if TYPE_CHECKING``), and so do ``lazy_import``,
``importlib.import_module`` and ``__import__`` calls that name an lnet_edge module as a string.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "lnet_edge"
DOC = ROOT / "docs" / "architecture.md"
ROOT_UNIT = "__init__"  # the package's own __init__.py (lnet_edge.__version__)
STRING_IMPORTS = ("lazy_import", "import_module", "__import__")

# Arrows against the order in files that are being restructured right now, each (file, the
# module it imports). They are left out of both checks until that work lands; an entry that no
# longer matches any import fails, so the list only shrinks.
PENDING: set[tuple[str, str]] = set()


@dataclass(frozen=True)
class Arrow:
    """One import between units: ``importer`` imports ``imported`` (the module ``target``) at
    ``file``:``line``."""

    importer: str
    imported: str
    target: str
    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.importer} -> {self.imported} (imports {self.target})"


def read_layers(doc: Path) -> list[tuple[str, list[str]]]:
    """(layer name, its units in order) of the doc's ``text layers`` block, lowest layer first."""
    block = re.search(r"^```text layers\n(.*?)^```", doc.read_text(), re.S | re.M)
    if block is None:
        raise AssertionError(f"{doc} has no ```text layers block")
    rows = [re.match(r"(\d+)\s+([\w-]+):\s+(.+)$", line.strip()) for line in block.group(1).splitlines()]
    rows = [row for row in rows if row]
    rows = sorted((row.groups() for row in rows), key=lambda groups: int(groups[0]))
    return [(name, names.split()) for _, name, names in rows]


def ranks(layers: list[tuple[str, list[str]]]) -> dict[str, tuple[int, str]]:
    """unit -> (its position in the whole order, its layer's name)."""
    order = [(unit, name) for name, units in layers for unit in units]
    return {unit: (i, name) for i, (unit, name) in enumerate(order)}


def units(package: Path) -> set[str]:
    """The units of ``package``: its top-level modules, its sub-packages and ``__init__``."""
    found = {ROOT_UNIT} | {p.stem for p in package.glob("*.py") if p.name != "__init__.py"}
    return found | {p.parent.name for p in package.glob("*/__init__.py")}


def unit_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ROOT_UNIT


def module_name(path: Path, package: Path) -> str:
    parts = list(path.relative_to(package.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _from_target(node: ast.ImportFrom, module: str, is_init: bool, package: Path) -> list[str]:
    """What ``from X import a, b`` imports: X.a where X/a is a module or package, else X."""
    base = node.module or ""
    if node.level:
        here = module.split(".") if is_init else module.split(".")[:-1]
        base = ".".join(here[: len(here) - node.level + 1] + ([base] if base else []))
    folder = package.parent.joinpath(*base.split("."))
    subs = [f"{base}.{a.name}" for a in node.names if (folder / f"{a.name}.py").is_file() or (folder / a.name).is_dir()]
    return subs if len(subs) == len(node.names) else [base, *subs]


def _call_name(node: ast.Call) -> str | None:
    func = node.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None


def imports(path: Path, package: Path) -> list[tuple[int, str]]:
    """(line, module) of every import of ``path``, at any depth, string imports included."""
    module, is_init = module_name(path, package), path.name == "__init__.py"
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            found += [(node.lineno, target) for target in _from_target(node, module, is_init, package)]
        elif isinstance(node, ast.Call) and _call_name(node) in STRING_IMPORTS and node.args:
            arg = node.args[0]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                found.append((node.lineno, arg.value))
    return found


def arrows(package: Path) -> list[Arrow]:
    """Every import from one unit of ``package`` into another."""
    name, out = package.name, []
    for path in sorted(package.rglob("*.py")):
        importer = unit_of(module_name(path, package))
        for line, target in imports(path, package):
            if target != name and not target.startswith(name + "."):
                continue
            imported = unit_of(target)
            if imported != importer:
                out.append(Arrow(importer, imported, target, str(path.relative_to(package.parent)), line))
    return out


def against_order(found: list[Arrow], rank: dict[str, tuple[int, str]]) -> list[str]:
    """Each arrow into a unit that is not below its importer, with both layers named."""
    bad = []
    for a in found:
        (low, low_layer), (high, high_layer) = rank[a.importer], rank[a.imported]
        if high > low:
            where = "later in the same layer" if low_layer == high_layer else f"in layer '{high_layer}'"
            bad.append(f"{a}: {a.imported} is {where}, above {a.importer} (layer '{low_layer}')")
    return bad


def cycles(found: list[Arrow]) -> list[list[str]]:
    """The import cycles between units: every strongly connected set of more than one unit."""
    graph: dict[str, set[str]] = {}
    for a in found:
        graph.setdefault(a.importer, set()).add(a.imported)
        graph.setdefault(a.imported, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's algorithm; the graph has a few dozen nodes
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while not group or group[-1] != v:
                group.append(stack.pop())
            if len(group) > 1:
                out.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def _cycle_text(group: list[str], found: list[Arrow]) -> str:
    inside = [str(a) for a in found if a.importer in group and a.imported in group]
    return f"cycle between {', '.join(group)}:\n    " + "\n    ".join(inside)


@pytest.fixture(scope="module")
def layers() -> list[tuple[str, list[str]]]:
    return read_layers(DOC)


@pytest.fixture(scope="module")
def found() -> list[Arrow]:
    return arrows(PACKAGE)


def _without_pending(found: list[Arrow]) -> list[Arrow]:
    return [a for a in found if (a.file, a.target) not in PENDING]


def test_every_unit_has_exactly_one_layer(layers) -> None:
    listed = [unit for _, names in layers for unit in names]
    twice = sorted({u for u in listed if listed.count(u) > 1})
    missing, unknown = sorted(units(PACKAGE) - set(listed)), sorted(set(listed) - units(PACKAGE))
    assert not (twice or missing or unknown), (
        f"docs/architecture.md layers: without a layer {missing}, not in lnet_edge {unknown}, twice {twice}"
    )


def test_imports_follow_the_layer_order(layers, found) -> None:
    bad = against_order(_without_pending(found), ranks(layers))
    assert not bad, "imports against the layer order (docs/architecture.md):\n" + "\n".join(bad)


def test_no_import_cycle_between_packages(found) -> None:
    kept = _without_pending(found)
    loops = [_cycle_text(group, kept) for group in cycles(kept)]
    assert not loops, "\n".join(loops)


def test_every_pending_arrow_still_exists(found) -> None:
    gone = sorted(PENDING - {(a.file, a.target) for a in found})
    assert not gone, f"no longer imported: remove from PENDING in tests/test_architecture.py: {gone}"


def test_the_check_names_an_upward_import_a_string_import_and_a_cycle(tmp_path: Path) -> None:
    pkg = tmp_path / "lnet_edge"
    (pkg / "high").mkdir(parents=True)
    (pkg / "__init__.py").write_text('__version__ = "0"\n')
    (pkg / "low.py").write_text(
        "from lnet_edge import __version__\n\n\ndef f():\n    from lnet_edge.high import mod\n"
        '    return lazy_import("lnet_edge.high.mod"), mod\n'
    )
    (pkg / "high" / "__init__.py").write_text("")
    (pkg / "high" / "mod.py").write_text("from lnet_edge import low\nfrom . import mod\n")
    found = arrows(pkg)
    rank = ranks([("base", [ROOT_UNIT, "low"]), ("top", ["high"])])
    assert sorted(map(str, found)) == [
        "lnet_edge/high/mod.py:1: high -> low (imports lnet_edge.low)",
        "lnet_edge/low.py:1: low -> __init__ (imports lnet_edge)",
        "lnet_edge/low.py:5: low -> high (imports lnet_edge.high.mod)",
        "lnet_edge/low.py:6: low -> high (imports lnet_edge.high.mod)",
    ]
    assert against_order(found, rank) == [
        "lnet_edge/low.py:5: low -> high (imports lnet_edge.high.mod): high is in layer 'top', above low (layer 'base')",
        "lnet_edge/low.py:6: low -> high (imports lnet_edge.high.mod): high is in layer 'top', above low (layer 'base')",
    ]
    assert cycles(found) == [["high", "low"]]
    assert against_order(found, ranks([("base", [ROOT_UNIT, "high", "low"])]))[0].endswith(
        "high -> low (imports lnet_edge.low): low is later in the same layer, above high (layer 'base')"
    )
