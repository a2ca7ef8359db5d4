"""The charter's rule, enforced: no function in ``src/`` is longer than 60 lines.

Lines are counted from the ``def`` (decorators excluded) to the last line of the body,
docstring included. Alembic revisions are left out: a migration is a schema declaration
frozen at the day it was written, not code anyone reshapes.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src" / "eventport"
MAX_LINES = 60
EXCLUDED = ("db/migrations/versions/",)



def long_functions(root: Path = SRC) -> list[tuple[str, str, int]]:
    found = []
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root).as_posix()
        if relative.startswith(EXCLUDED):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_LINES:
                    found.append((relative, node.name, length))
    return found


def test_no_function_in_src_exceeds_60_lines() -> None:
    offenders = [f"{path}: {name} is {length} lines"
                 for path, name, length in long_functions()]
    assert not offenders, (f"functions over {MAX_LINES} lines (split them; see "
                           "tests/test_function_length.py):\n" + "\n".join(offenders))


def test_the_rule_sees_long_functions(tmp_path: Path) -> None:
    """The walk itself works: 61 lines are caught, 60 pass, nested and async ones too."""
    body = "\n".join(f"    x{n} = {n}" for n in range(59))
    (tmp_path / "ok.py").write_text(f"def fits():\n{body}\n")
    (tmp_path / "long.py").write_text(
        f"class C:\n    async def over(self):\n{body}\n        pass\n    ".replace(
            "\n    x", "\n        x") + "\n")
    assert [(path, name) for path, name, _ in long_functions(tmp_path)] == [("long.py", "over")]
