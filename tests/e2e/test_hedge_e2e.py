"""Hedge calculator in a real browser: sessions never see each other's holdings; a link carries them only when
the user ticks "include holdings in link", and then reproduces the result in a fresh browser."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest

from tests.e2e.browser import download, new_page, wait_idle
from tests.e2e.server import carrydesk_server

pytestmark = pytest.mark.e2e

PASTE = "…or paste CSV: asset,quantity[,cost]"
# Quotes and funding kept for 10 minutes on the link test's own server: the sender and the fresh browser then
# read the same prices, so their plans can be compared number for number.
STEADY_TTLS = "[ttl]\nquotes = 600\nfunding_now = 600\nohlcv_forming = 600\n"


@pytest.fixture(scope="module")
def steady_server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("steady")
    (tmp / "carrydesk.toml").write_text(STEADY_TTLS, encoding="utf-8")
    with carrydesk_server(tmp, {"CARRYDESK_CONFIG": str(tmp / "carrydesk.toml")}) as url:
        yield url


def open_hedge(page, url: str) -> None:
    page.goto(url)
    page.get_by_role("heading", name="Hedge calculator", exact=True).wait_for(timeout=90_000)
    wait_idle(page)


def compute(page, csv: str, *, include: bool = False) -> None:
    page.get_by_label(PASTE).fill(csv)
    if include:
        page.get_by_text("Include holdings in link").click()
    page.get_by_role("button", name="Compute hedge").click()
    page.get_by_role("heading", name="Scenarios").wait_for(timeout=90_000)
    wait_idle(page)


def body(page) -> str:
    return page.locator("[data-testid=stMain]").inner_text()


def sizing_rows(page) -> str:
    """The sizing table's accessible grid text (glide draws cells on a canvas; the grid mirrors them)."""
    grid = page.locator("[data-testid=stDataFrame]").filter(has_text="Net delta USD")
    return grid.inner_text()


def test_two_sessions_with_different_holdings_never_see_each_other(browser, server_url, screenshots):
    with new_page(browser) as alice, new_page(browser) as bob:
        open_hedge(alice, f"{server_url}/hedge")
        open_hedge(bob, f"{server_url}/hedge")
        compute(alice, "BTC,1.2345")
        compute(bob, "ETH,777.5")
        alice.reload()
        wait_idle(alice)
        compute(alice, "SOL,4321")
        for page, mine, theirs in ((alice, "4,321", "777.5"), (bob, "777.5", "4,321")):
            page.wait_for_timeout(1000)
            text = body(page)
            assert "SOL: 4,321 coins" in text if mine == "4,321" else "ETH: 777.5 coins" in text
            assert theirs not in text and theirs.replace(",", "") not in page.url
        assert "ETH" not in body(alice).split("Where to hedge")[1].split("Sizing")[0]
        assert "SOL: " not in body(bob)
        height = alice.evaluate("document.querySelector('[data-testid=stMainBlockContainer]').scrollHeight")
        alice.set_viewport_size({"width": 1600, "height": int(height) + 120})
        alice.wait_for_timeout(1500)
        alice.screenshot(path=str(screenshots / "hedge.png"), full_page=True)


def pick_second_row(page, asset: str) -> str:
    """Choose the second ranked row in ``asset``'s "Hedge with" box; returns the option's text."""
    box = page.get_by_test_id("stSelectbox").filter(has_text="Hedge with").nth(asset_index(page, asset))
    combo = box.get_by_role("combobox")  # the input itself (the box also holds its label)
    combo.click()
    if combo.get_attribute("aria-expanded") != "true":  # the first click may only focus it
        combo.press("ArrowDown")
    option = page.get_by_role("option").nth(2)  # 0: best (cheapest), 1: the cheapest row itself
    text = option.inner_text()
    option.click()
    page.get_by_text("(your pick)").wait_for()
    wait_idle(page)
    return text


def asset_index(page, asset: str) -> int:
    headings = page.locator("[data-testid=stMain] h3").all_inner_texts()
    holdings = [h.split(":")[0] for h in headings if " coin" in h]
    return holdings.index(asset)


def test_link_carries_holdings_only_when_ticked_and_reproduces_the_result(browser, steady_server, screenshots):
    with new_page(browser) as page:
        open_hedge(page, f"{steady_server}/hedge")
        compute(page, "BTC,1.75\nETH,12")
        picked = pick_second_row(page, "BTC")
        assert "(your pick)" in body(page)
        query = parse_qs(urlparse(page.url).query)
        assert not {"h", "inc", "pk"} & set(query)  # neither the holdings nor the pick (it names an asset)
        assert "1.75" not in page.url and "BTC" not in page.url and "ETH" not in page.url
        compute(page, "BTC,1.75\nETH,12", include=True)
        page.wait_for_function("() => location.search.includes('h=') && location.search.includes('pk=')")
        link = page.url
        query = parse_qs(urlparse(link).query)
        assert query["h"] == ["BTC,1.75;ETH,12"] and query["pk"][0].startswith("BTC@")
        assert query["pk"][0].endswith("@" + picked.split(" · ")[1])
        original = body(page)
        plan = download(page, "Plan CSV")  # sizing, costs, margin, scenarios and the ranking
    with new_page(browser) as fresh:
        open_hedge(fresh, link)  # no click: a link with holdings computes on open
        fresh.get_by_role("heading", name="Scenarios").wait_for(timeout=90_000)
        wait_idle(fresh)
        text = body(fresh)
        for needle in ("BTC: 1.75 coins", "ETH: 12 coins", "(your pick)"):
            assert needle in text and needle in original
        chosen = [ln for ln in original.splitlines() if ln.startswith("Chosen:")]
        assert len(chosen) == 2 and all(c in text for c in chosen)
        again = download(fresh, "Plan CSV")
        assert b"BTC" in plan and plan.count(b"\n") > 40
        assert again == plan  # the full result, number for number
        height = fresh.evaluate("document.querySelector('[data-testid=stMainBlockContainer]').scrollHeight")
        fresh.set_viewport_size({"width": 1600, "height": int(height) + 120})
        fresh.wait_for_timeout(1500)
        fresh.screenshot(path=str(screenshots / "hedge_link.png"), full_page=True)
