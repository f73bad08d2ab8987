"""DESIGN.md's import boundaries, checked on the source (AST), not by importing anything.

- only ``data_sources/`` imports ccxt;
- ``analytics/`` imports only pandas, numpy, the standard library and itself;
- only ``app.py``, ``views/`` and the UI helpers ``components/ui*.py`` import streamlit;
- figure builders and other ``components/`` modules are pure (no streamlit, no ccxt).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHECKED_DIRS = ("analytics", "components", "data_sources", "views")
STDLIB = set(sys.stdlib_module_names)
ANALYTICS_ALLOWED = {"numpy", "pandas", "analytics"}


def top_level_imports(source: str) -> set[str]:
    """First component of every absolute import in ``source`` (relative imports are the package itself)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def violations(rel: str, imports: set[str]) -> list[str]:
    """Boundary violations of the module at repo-relative path ``rel`` (posix) importing ``imports``."""
    out = []
    top = rel.split("/")[0]
    if "ccxt" in imports and top != "data_sources":
        out.append("imports ccxt outside data_sources/")
    ui_module = rel == "app.py" or top == "views" or (top == "components" and Path(rel).name.startswith("ui"))
    if "streamlit" in imports and not ui_module:
        out.append("imports streamlit outside app.py, views/ and components/ui*.py")
    if top == "analytics":
        extra = sorted(imports - ANALYTICS_ALLOWED - STDLIB)
        if extra:
            out.append(f"analytics imports {extra} (only pandas, numpy and the standard library)")
    return out


def python_files() -> list[str]:
    files = [p for d in CHECKED_DIRS for p in (ROOT / d).rglob("*.py")]
    files.append(ROOT / "app.py")
    return sorted(p.relative_to(ROOT).as_posix() for p in files if p.is_file())


def test_the_layout_is_there():
    files = python_files()
    for must in ("app.py", "analytics/basis.py", "analytics/funding.py", "components/ui.py", "views/overview.py"):
        assert must in files


@pytest.mark.parametrize("rel", python_files())
def test_module_respects_boundaries(rel):
    source = (ROOT / rel).read_text(encoding="utf-8")
    assert violations(rel, top_level_imports(source)) == []


@pytest.mark.parametrize(
    ("rel", "source", "expected"),
    [
        ("analytics/x.py", "import ccxt", "ccxt"),
        ("views/x.py", "from ccxt.base import errors", "ccxt"),
        ("analytics/x.py", "import streamlit as st", "streamlit"),
        ("analytics/x.py", "import plotly.graph_objects as go", "plotly"),
        ("analytics/x.py", "from data_sources import get_market_data", "data_sources"),
        ("components/figures.py", "import streamlit", "streamlit"),
        ("components/tables.py", "def f():\n    import streamlit\n", "streamlit"),  # nested imports count
        ("data_sources/x.py", "import streamlit", "streamlit"),
    ],
)
def test_checker_catches_violations(rel, source, expected):
    found = violations(rel, top_level_imports(source))
    assert found and expected in " ".join(found)


@pytest.mark.parametrize(
    ("rel", "source"),
    [
        ("data_sources/x.py", "import ccxt"),
        ("components/ui.py", "import streamlit as st"),
        ("components/ui_share.py", "import streamlit as st"),
        ("views/overview.py", "import streamlit as st\nfrom components import tables"),
        ("analytics/x.py", "from __future__ import annotations\nimport math\nimport numpy\nfrom . import basis"),
    ],
)
def test_checker_allows_the_permitted(rel, source):
    assert violations(rel, top_level_imports(source)) == []


def test_no_legacy_pages_folder():
    """Page scripts live in ``views/``: a ``pages/`` folder beside ``app.py`` makes a fresh Streamlit server
    run a directly linked page as an old-style page, without ``app.py``'s shell (sidebar, badge, layout)
    until someone has opened the root URL (``PagesManager.uses_pages_directory``)."""
    assert not (ROOT / "pages").exists()
