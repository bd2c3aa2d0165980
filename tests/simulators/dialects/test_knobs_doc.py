"""simulators/dialects/KNOBS.md is the knob table of the closing note: it must name every
DialectProfile field and nothing else, say truly where each knob is read (one place), and point at
tests that exist. The hub persona table is held to the same."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from simulators.dialects.profile import knob_names
from simulators.hub.persona import HubPersona, StoreAndForward

ROOT = Path(__file__).resolve().parents[3]
DOC = ROOT / "simulators" / "dialects" / "KNOBS.md"
SOURCES = ("simulators", "bench", "emsp")


def _rows(section: str) -> list[list[str]]:
    text = DOC.read_text(encoding="utf-8")
    start = text.index(section)
    rows = []
    for line in text[start:].splitlines()[1:]:
        if line.startswith("## "):
            break
        if line.startswith("| `"):
            rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def _code(cell: str) -> str:
    match = re.match(r"`([^`]+)`", cell)
    assert match, cell
    return match.group(1)


def _functions(path: Path) -> dict[str, tuple[int, int]]:
    """`Class.method` or `function` -> (first line, last line)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: dict[str, tuple[int, int]] = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef):
                    out[f"{node.name}.{item.name}"] = (item.lineno, item.end_lineno or item.lineno)
        elif isinstance(node, ast.FunctionDef):
            out[node.name] = (node.lineno, node.end_lineno or node.lineno)
    return out


def _reads(attribute: str, owner: str) -> list[tuple[Path, int]]:
    pattern = re.compile(rf"\b{owner}\.{attribute}\b")
    hits = []
    for folder in SOURCES:
        for path in sorted((ROOT / folder).rglob("*.py")):
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if pattern.search(line):
                    hits.append((path, number))
    return hits


def _test_exists(cell: str) -> None:
    file, _, name = _code(cell).partition("::")
    assert f"def {name}(" in (ROOT / file).read_text(encoding="utf-8"), cell


def test_the_table_names_every_dialect_knob_and_nothing_else() -> None:
    rows = _rows("| knob | values")
    named = [_code(row[0]) for row in rows]
    assert sorted(named) == sorted(knob_names())
    assert len(named) == len(set(named)) >= 30


def test_each_dialect_knob_is_read_once_where_the_table_says_and_tested() -> None:
    for row in _rows("| knob | values"):
        knob, where, test = _code(row[0]), _code(row[3]), row[4]
        hits = [(p, n) for p, n in _reads(knob, "dialect") if not p.match("simulators/dialects/profile.py")]
        assert len(hits) == 1, (knob, hits)
        file, _, function = where.partition(":")
        path, line = hits[0]
        assert path == ROOT / file, (knob, path)
        first, last = _functions(path)[function]
        assert first <= line <= last, (knob, function, line)
        _test_exists(test)


def test_the_hub_table_names_every_persona_knob_where_it_is_read() -> None:
    rows = _rows("| knob | where read")
    named = {_code(row[0]) for row in rows}
    fields = {n for n in HubPersona.model_fields if n not in ("name", "description")}
    fields |= {f"store_and_forward.{n}" for n in StoreAndForward.model_fields}
    assert named == fields
    for row in rows:
        knob, where = _code(row[0]), _code(row[1])
        attribute = knob.rsplit(".", 1)[-1]
        file, _, function = where.partition(":")
        path = ROOT / file
        first, last = _functions(path)[function]
        lines = path.read_text(encoding="utf-8").splitlines()[first - 1 : last]
        assert any(re.search(rf"\.{attribute}\b", line) for line in lines), (knob, where)
        _test_exists(row[2])
