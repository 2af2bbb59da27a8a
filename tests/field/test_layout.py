"""The size limits of the field package: no module over MAX_MODULE_LINES lines, no function or
method over MAX_FUNCTION_LINES lines (decorators aside). ``infer``'s command in cli/infer.py is
held to the same function limit, counting its body (its option declarations are the CLI's)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIELD = ROOT / "lnet_edge" / "field"
INFER_CLI = ROOT / "lnet_edge" / "cli" / "infer.py"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def _functions(tree: ast.AST) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]


def long_functions(source: str, where: str, body_only: bool = False) -> list[str]:
    """``where:NAME (N lines)`` for each function of ``source`` over MAX_FUNCTION_LINES lines,
    counted from its ``def`` (``body_only``: from its first statement) to its last line."""
    found = []
    for fn in _functions(ast.parse(source)):
        start = fn.body[0].lineno if body_only else fn.lineno
        lines = fn.end_lineno - start + 1
        if lines > MAX_FUNCTION_LINES:
            found.append(f"{where}:{fn.name} ({lines} lines)")
    return found


def test_no_field_module_is_over_the_line_limit() -> None:
    modules = sorted(FIELD.glob("*.py"))
    assert modules
    over = [f"{p.name} ({n} lines)" for p in modules if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES]
    assert not over, f"lnet_edge/field modules over {MAX_MODULE_LINES} lines: {', '.join(over)}"


def test_no_field_function_is_over_the_line_limit() -> None:
    over = [f for p in sorted(FIELD.glob("*.py")) for f in long_functions(p.read_text(), f"field/{p.name}")]
    assert not over, f"functions over {MAX_FUNCTION_LINES} lines: {', '.join(over)}"


def test_the_infer_command_is_a_thin_layer() -> None:
    over = long_functions(INFER_CLI.read_text(), "cli/infer.py", body_only=True)
    assert not over, f"functions over {MAX_FUNCTION_LINES} lines: {', '.join(over)}"


def test_the_limit_names_a_long_function() -> None:
    source = "def short():\n    pass\n\n\nclass K:\n    def long(self):\n" + "        x = 1\n" * MAX_FUNCTION_LINES
    assert long_functions(source, "m.py") == [f"m.py:long ({MAX_FUNCTION_LINES + 1} lines)"]
