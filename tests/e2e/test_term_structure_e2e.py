"""Term structure in a real browser against a real server on demo data: charts, headline, a shared link."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from tests.e2e.browser import new_page

pytestmark = pytest.mark.e2e

CHART = ".js-plotly-plot"
TALL = {"width": 1600, "height": 3900}  # Streamlit scrolls inside its main block: a tall window shows it all


def open_from_sidebar(page, server_url: str) -> None:
    """Start where a user starts (the app's root) and open the page from the navigation."""
    page.goto(server_url)
    page.locator(".cd-source-badge").wait_for()
    page.get_by_role("link", name="Term structure", exact=True).click()
    wait_ready(page)


def wait_ready(page) -> None:
    page.wait_for_function("sel => document.querySelectorAll(sel).length >= 2", arg=CHART)
    page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached")
    page.get_by_role("button", name="Download contracts (CSV)").wait_for()


def download(page, button: str) -> list[dict[str, str]]:
    """A table as the page offers it for download (the grid itself is drawn on a canvas)."""
    with page.expect_download() as info:
        page.get_by_role("button", name=button).click()
    text = Path(info.value.path()).read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def contracts_csv(page) -> list[dict[str, str]]:
    return download(page, "Download contracts (CSV)")


def snapshot(page, path: Path) -> None:
    """The whole page from its top (downloads scroll Streamlit's inner container) in a tall window."""
    page.set_viewport_size(TALL)
    page.evaluate("() => document.querySelectorAll('*').forEach(e => { if (e.scrollTop) e.scrollTop = 0; })")
    page.wait_for_timeout(1500)  # plotly relayouts to the new size; let the grids repaint
    page.screenshot(path=str(path), full_page=True)


def legend(page) -> list[str]:
    return page.eval_on_selector_all(f"{CHART} .legendtext", "els => els.map(e => e.textContent)")


def test_term_structure_renders_curve_history_and_headline(page, server_url, screenshots):
    open_from_sidebar(page, server_url)
    assert "/term_structure?" in page.url and "base=BTC" in page.url and "hc=" in page.url
    assert page.locator(".cd-source-badge").is_visible()
    assert "SIMULATED DATA" in page.locator(".cd-source-badge").inner_text()
    assert page.get_by_text("Curve:", exact=False).first.is_visible()
    assert page.get_by_text("Contango", exact=True).first.is_visible()
    names = legend(page)
    for name in ("Deribit", "OKX linear", "Perps (tenor 0)", "Fair value (r = 5.00%)", "Reference: index (basis 0)"):
        assert name in names, names
    assert any(name.startswith("90-day constant maturity") for name in names)
    assert page.locator(f"{CHART} .xtick text").filter(has_text="perp").count() == 1
    assert page.locator('[data-testid="stException"]').count() == 0
    rows = contracts_csv(page)
    assert len(rows) >= 30 and {"Exchange", "Contract", "Ann. simple %", "Near expiry"} <= set(rows[0])
    snapshot(page, screenshots / "term_structure.png")


def test_shared_link_opens_the_same_view_in_a_fresh_browser(browser, page, server_url, screenshots):
    open_from_sidebar(page, server_url)
    page.get_by_text("Compounded", exact=True).click()
    page.wait_for_function("() => location.search.includes('ann=compounded')")
    page.get_by_text("Last", exact=True).click()
    page.wait_for_function("() => location.search.includes('px=last')")
    wait_ready(page)
    link = page.url
    assert "ann=compounded" in link and "px=last" in link

    with new_page(browser) as other:
        for _attempt in range(3):
            # Quotes are cached for 15 s and move with the (simulated) clock: load the link in the fresh
            # browser and reload it here at the same moment, so both read the same quotes.
            other.goto(link)
            page.goto(link)
            wait_ready(other)
            wait_ready(page)
            theirs, mine = contracts_csv(other), contracts_csv(page)
            if [r["Quote time"] for r in mine] == [r["Quote time"] for r in theirs]:
                break
        assert theirs == mine
        assert "Price (last)" in theirs[0] and sum(bool(r["Ann. compounded %"]) for r in theirs) >= 20
        history = download(other, "Download history (CSV)")
        assert len(history) > 100 and history == download(page, "Download history (CSV)")
        assert other.get_by_role("radio", name="Compounded", exact=True).is_checked()
        assert other.get_by_role("radio", name="Last", exact=True).is_checked()
        assert other.url == link  # the fresh page writes back exactly the link it was opened with
        assert other.locator(".cd-source-badge").is_visible()
        snapshot(other, screenshots / "term_structure_link.png")
