"""Perp premium in a real browser against the demo server: charts render, a copied link reproduces the view."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.e2e.browser import grid_rows, new_page

pytestmark = pytest.mark.e2e

STATS = '.st-key-pp_hist_table [data-testid="stDataFrame"]'
NOW_TABLE = '.st-key-pp_now_table [data-testid="stDataFrame"]'
CHART = '[data-testid="stPlotlyChart"] .js-plotly-plot'


def header(page, table: str) -> list[str]:
    return page.locator(f"{table} thead th[role=columnheader]").all_inner_texts()


def open_page(page, server_url: str, query: str = "") -> None:
    """Open the page by its URL, as a shared link does."""
    page.goto(f"{server_url}/perp_premium{query}")


def screenshot(page, path) -> None:
    """The whole page: the app scrolls inside its own container, so grow the viewport to the content."""
    height = page.evaluate("() => document.querySelector('[data-testid=stMain]').scrollHeight")
    page.set_viewport_size({"width": 1600, "height": max(1000, int(height) + 40)})
    page.wait_for_timeout(1200)  # charts re-layout and the grids repaint their canvases
    page.screenshot(path=str(path), full_page=True)


def pinned_as_of() -> datetime:
    """A window end one day back on the hour: every candle in the window is closed, the numbers are fixed."""
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=1)


def daily_candles(as_of: datetime, days: int) -> int:
    """Daily candles opening in [as_of - days, as_of - 1 day] (the page keeps candles closed by as_of)."""
    start, last_open = as_of - timedelta(days=days), as_of - timedelta(days=1)
    first = start.replace(hour=0) + (timedelta(days=1) if start.hour else timedelta(0))
    return (last_open - first).days + 1 if first <= last_open else 0


def test_perp_premium_renders_charts_tables_and_badge(page, server_url, screenshots):
    open_page(page, server_url)
    page.wait_for_function("sel => document.querySelectorAll(sel).length >= 3", arg=CHART, timeout=90_000)
    rows = grid_rows(page, NOW_TABLE, 10)  # BTC and ETH perps on five exchanges
    cols = header(page, NOW_TABLE)
    assert cols[:3] == ["Asset", "Exchange", "Perp"]
    assert {r[0] for r in rows} == {"BTC", "ETH"}
    prem = cols.index("Premium (mark) %")
    # the accessible grid holds the raw numbers (percent units), the canvas draws them formatted
    assert all(abs(float(r[prem])) < 0.5 for r in rows), (cols, rows[:2])
    stats = grid_rows(page, STATS, 5)
    source = header(page, STATS).index("Source")
    deribit = [r for r in stats if r[0] == "Deribit"]
    assert deribit and deribit[0][source] == "not available: Deribit publishes no index candles"
    # the bar chart holds one bar trace per asset, the history one line per perp with data
    assert page.locator(f"{CHART} .barlayer .trace").count() >= 2
    assert "SIMULATED DATA" in page.locator(".cd-source-badge").inner_text()
    assert page.locator('[data-testid="stException"]').count() == 0
    for key in ("base=BTC%2CETH", "px=mark", "res=1h"):
        assert key in page.url
    screenshot(page, screenshots / "perp_premium.png")


def test_copied_link_reproduces_the_history_table(page, browser, server_url, screenshots):
    as_of = pinned_as_of()
    as_of_text = as_of.strftime("%Y-%m-%dT%H:%MZ")
    open_page(page, server_url, f"?base=ETH&win=3&as_of={as_of_text}")
    grid_rows(page, STATS, 4)
    expected_points = str(daily_candles(as_of, 3))
    # change an input: daily candles instead of hourly
    page.locator(".st-key-pp_res").get_by_text("1d", exact=True).click()
    page.wait_for_url("**res=1d**")
    cols = header(page, STATS)
    points, source = cols.index("Points"), cols.index("Source")
    before: list[list[str]] = []
    for _ in range(60):  # the rerun replaces the grid shortly after the URL changes
        before = grid_rows(page, STATS, 4)
        available = [r for r in before if not r[source].startswith("not available")]
        if available and all(r[points] == expected_points for r in available):
            break
        page.wait_for_timeout(250)
    else:
        pytest.fail(f"the table did not switch to {expected_points} daily points: {before}")
    link = page.url
    assert "as_of=" in link and "hb=ETH" in link

    with new_page(browser) as other:
        other.goto(link)
        after = grid_rows(other, STATS, len(before))
        assert header(other, STATS) == cols
        assert after == before  # the same perps, sources, points, stats and z-scores
        assert "res=1d" in other.url and f"as_of={as_of_text.replace(':', '%3A')}" in other.url
        screenshot(other, screenshots / "perp_premium_link.png")
