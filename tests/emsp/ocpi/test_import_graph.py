"""Design principle 4: only the version registry and the version packages import a version package.

Every module of the project is parsed (ast, nothing imported); an import of `emsp.ocpi.v211`,
`v221` or `v230` (or anything inside them) from elsewhere is a version branch above the adapters.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
PACKAGES = ("emsp", "bench", "simulators", "reports")
VERSION_PACKAGES = ("emsp.ocpi.v211", "emsp.ocpi.v221", "emsp.ocpi.v230")
REGISTRY = "emsp/ocpi/versions.py"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[str]:
    """Absolute names of everything the module imports (relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path).rpartition(".")[0]
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names.append(base)
            names.extend(f"{base}.{alias.name}" for alias in node.names)
    return names


def _is_version(name: str) -> bool:
    return any(name == v or name.startswith(v + ".") for v in VERSION_PACKAGES)


def _allowed(path: Path) -> bool:
    rel = path.relative_to(ROOT).as_posix()
    return rel == REGISTRY or any(rel.startswith(f"emsp/ocpi/{v}/") for v in ("v211", "v221", "v230"))


def _sources() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def test_the_walk_sees_the_version_packages() -> None:
    """The check is not vacuous: the registry does import every version package."""
    assert {n for n in _imports(ROOT / REGISTRY) if _is_version(n)} >= set(VERSION_PACKAGES)


def test_version_names_are_matched_exactly() -> None:
    assert _is_version("emsp.ocpi.v221.schemas") and not _is_version("emsp.ocpi.v2210")


ABOVE = [p for p in _sources() if not _allowed(p)]


@pytest.mark.parametrize("path", ABOVE, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_version_package_imported_above_the_adapters(path: Path) -> None:
    offending = sorted({n for n in _imports(path) if _is_version(n)})
    assert offending == [], f"{path.relative_to(ROOT)} imports {offending}"
