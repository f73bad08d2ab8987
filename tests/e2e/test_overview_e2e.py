"""Overview in a real browser against a real server on demo data: table, numbers, badge, shared link."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest

from tests.e2e.browser import grid_rows

pytestmark = pytest.mark.e2e

NUMBER = re.compile(r"^[+-]?\d{1,3}(,\d{3})*\.\d+%?$")
TABLE = '[data-testid="stDataFrame"]'


def table_rows(page) -> dict[str, list[str]]:
    """Cell texts per asset from the grid's accessible table (glide draws the visible cells on a canvas)."""
    return {cells[0]: cells for cells in grid_rows(page, TABLE, 3)}


def header(page) -> list[str]:
    return page.locator(f"{TABLE} thead th[role=columnheader]").all_inner_texts()


def test_overview_renders_assets_numbers_and_simulated_badge(page, server_url, screenshots):
    page.goto(server_url)
    rows = table_rows(page)
    assert list(rows) == ["BTC", "ETH", "SOL"]
    cols = header(page)
    for asset, cells in rows.items():
        by_col = dict(zip(cols, cells, strict=True))
        for col in ("Price", "Perp premium", "Funding APR"):
            assert NUMBER.match(by_col[col]), (asset, col, by_col[col])
    assert NUMBER.match(dict(zip(cols, rows["BTC"], strict=True))["Quarterly basis (ann.)"])

    badge = page.locator(".cd-source-badge")
    assert badge.is_visible()
    assert "SIMULATED DATA — scenario: normal" in badge.inner_text()
    assert page.get_by_text("simulated", exact=False).first.is_visible()
    assert page.locator('[data-testid="stMetric"]').count() == 3
    assert page.locator('[data-testid="stException"]').count() == 0

    # the CSV holds the table's numbers unrounded (fractions, not percent)
    with page.expect_download() as info:
        page.get_by_role("button", name="Download CSV").click()
    assert info.value.suggested_filename == "carrydesk_overview.csv"
    data = {r["asset"]: r for r in csv.DictReader(io.StringIO(Path(info.value.path()).read_text("utf-8")))}
    assert list(data) == ["BTC", "ETH", "SOL"]
    for asset, cells in rows.items():
        shown = dict(zip(cols, cells, strict=True))
        assert f"{float(data[asset]['price']):,.2f}" == shown["Price"]
        assert f"{float(data[asset]['funding_apr']) * 100:+.2f}%" == shown["Funding APR"]

    page.wait_for_timeout(500)  # let the grid's canvas paint before the picture
    page.screenshot(path=str(screenshots / "overview.png"), full_page=True)


def test_shared_link_opens_the_same_exchange_view(page, server_url, screenshots):
    page.goto(f"{server_url}/?exchange=okx")
    rows = table_rows(page)
    cols = header(page)
    btc = dict(zip(cols, rows["BTC"], strict=True))
    assert btc["Price source"] == "OKX index"
    assert btc["Perp(s)"].startswith("OKX ")
    assert page.locator('[data-testid="stCaptionContainer"]').filter(
        has_text="Premium, funding and basis from: OKX").count() == 1
    assert "exchange=okx" in page.url
    page.wait_for_timeout(500)
    page.screenshot(path=str(screenshots / "overview_okx.png"), full_page=True)
