"""Browser helpers shared by the e2e tests (no pytest here: fixtures live in conftest.py)."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from contextlib import contextmanager
from io import StringIO
from typing import Any

import numpy as np
import pandas as pd

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


def download(page: Any, label: str) -> bytes:
    with page.expect_download() as info:
        page.get_by_role("button", name=re.compile(rf"{re.escape(label)}$")).click()
    with open(info.value.path(), "rb") as fh:
        return fh.read()


def csv(data: bytes) -> pd.DataFrame:
    return pd.read_csv(StringIO(data.decode("utf-8")))


def decode(values: object) -> np.ndarray:
    """A plotly array as sent to the browser: a list, or a base64 typed array {dtype, bdata, shape}."""
    if isinstance(values, dict) and "bdata" in values:
        arr = np.frombuffer(base64.b64decode(values["bdata"]), dtype=np.dtype(values["dtype"]).newbyteorder("<"))
        shape = values.get("shape")
        return arr.reshape([int(s) for s in str(shape).split(",")]) if shape else arr
    return np.asarray(values, dtype="float64")


def chart(page: Any, title_part: str) -> list[dict]:
    """The traces of the chart whose title contains ``title_part``, as the browser holds them."""
    return page.evaluate(
        """t => { const gd = Array.from(document.querySelectorAll('.js-plotly-plot'))
                      .find(d => d.layout.title && d.layout.title.text.includes(t));
                  return gd.data.map(d => ({name: d.name, type: d.type, x: d.x, y: d.y, z: d.z})); }""",
        title_part)
