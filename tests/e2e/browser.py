"""Browser helpers shared by the e2e tests (no pytest here: fixtures live in conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

VIEWPORT = {"width": 1600, "height": 1000}
# The attribute Streamlit's own browser tests wait on: no script run in progress.
SCRIPT_IDLE = ("() => document.querySelector('[data-testid=stApp]')?.getAttribute('data-test-script-state')"
               " === 'notRunning'")


@contextmanager
def new_page(browser: Any) -> Iterator[Any]:
    """A page in a new browser context: its own cookies and cache, so a new Streamlit session (a teammate
    opening a shared link)."""
    context = browser.new_context(viewport=VIEWPORT, device_scale_factor=1)
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        yield page
    finally:
        context.close()


def wait_idle(page: Any, timeout: float = 90_000) -> None:
    page.wait_for_function(SCRIPT_IDLE, timeout=timeout)


def grid_rows(page: Any, table: str, n: int) -> list[list[str]]:
    """Cell texts of a dataframe's accessible grid (glide draws the visible cells on a canvas), once it
    has at least ``n`` rows."""
    page.wait_for_function("([sel, n]) => document.querySelectorAll(sel + ' tbody tr[role=row]').length >= n",
                           arg=[table, n])
    rows = page.locator(f"{table} tbody tr[role=row]")
    return [rows.nth(i).locator("td[role=gridcell]").all_inner_texts() for i in range(rows.count())]
