"""Correlation page in a real browser on demo data: the CSVs are what the charts show, a shared link (as_of
included) reproduces the view in a fresh browser, and the Overview's correlation card links to it."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pandas as pd
import pytest

from tests.e2e.browser import chart, csv, decode, download, new_page, wait_idle

pytestmark = pytest.mark.e2e

VIEW = "assets=BTC,ETH&lb=180&as_of=2026-11-20T00:00Z"
PAIRS = ("BTC · Gold", "BTC · Nasdaq-100", "ETH · Gold", "ETH · Nasdaq-100")
CSVS = ("Aligned returns CSV", "Rolling series CSV", "Episodes CSV", "Prices CSV")


def wait_drawn(page) -> None:
    """Four charts drawn and no script run in progress."""
    page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot').length >= 4", timeout=90_000)
    wait_idle(page)
    page.get_by_role("button", name=re.compile(r"Prices CSV$")).wait_for()


def readings(page) -> list[str]:
    return [t for t in page.get_by_test_id("stAlertContentInfo").all_inner_texts() if "correlation with" in t]


def utc(values) -> pd.DatetimeIndex:
    idx = pd.DatetimeIndex(pd.to_datetime(list(values)))
    return idx.tz_localize("UTC") if idx.tz is None else idx.tz_convert("UTC")


def test_csvs_hold_exactly_what_the_charts_show(page, server_url, screenshots):
    page.goto(f"{server_url}/correlation?{VIEW}")
    wait_drawn(page)
    rolling = csv(download(page, "Rolling series CSV"))
    rolling["ts"] = utc(rolling["ts"])
    traces = {t["name"]: t for t in chart(page, "Rolling correlation")}
    betas = {t["name"]: t for t in chart(page, "Rolling beta")}
    for pair in PAIRS:
        for w in (30, 90):
            rows = rolling[(rolling["pair"] == pair) & (rolling["window"] == w)]
            line = traces[f"{pair} · {w}"]
            assert list(utc(line["x"])) == list(rows["ts"]), (pair, w)
            np.testing.assert_allclose(decode(line["y"]), rows["correlation"].to_numpy(), rtol=1e-12, atol=0)
        main = rolling[(rolling["pair"] == pair) & (rolling["window"] == 30)]
        np.testing.assert_allclose(decode(betas[f"{pair} · 30"]["y"]), main["beta"].to_numpy(), rtol=1e-12)
        band = [t for t in chart(page, "Rolling correlation") if t["name"] == f"{pair} · band"]
        np.testing.assert_allclose(decode(band[0]["y"]), main["band_hi"].to_numpy(), rtol=1e-12)
        np.testing.assert_allclose(decode(band[1]["y"]), main["band_lo"].to_numpy(), rtol=1e-12)

    # the aligned returns are what the correlation was computed from: its last 30 give the last point
    returns = csv(download(page, "Aligned returns CSV"))
    for pair in PAIRS:
        r = returns[returns["pair"] == pair].tail(30)
        assert np.corrcoef(r["asset_return"], r["proxy_return"])[0, 1] == pytest.approx(
            decode(traces[f"{pair} · 30"]["y"])[-1], abs=1e-12)

    episodes = csv(download(page, "Episodes CSV"))
    assert len(episodes) > 0
    for pair in PAIRS:
        mine = episodes[episodes["pair"] == pair]
        markers = traces.get(f"{pair} · episodes")
        if mine.empty:
            assert markers is None
            continue
        assert sorted(utc(markers["x"])) == sorted(utc(mine["start"])), pair

    prices = csv(download(page, "Prices CSV"))
    for t in chart(page, "Prices rebased"):
        rows = prices[prices["series"] == t["name"]]
        np.testing.assert_allclose(decode(t["y"]), rows["rebased"].to_numpy(), rtol=1e-12)
        assert rows["rebased"].iloc[0] == pytest.approx(100.0)
    assert page.get_by_test_id("stException").count() == 0

    height = page.evaluate("document.querySelector('[data-testid=stMainBlockContainer]').scrollHeight")
    page.set_viewport_size({"width": 1600, "height": int(height) + 120})
    page.wait_for_timeout(1500)
    page.screenshot(path=str(screenshots / "correlation.png"), full_page=True)


def test_shared_link_with_as_of_reproduces_the_view_in_a_fresh_browser(page, server_url, browser):
    page.goto(f"{server_url}/correlation?assets=BTC&lb=90")
    wait_drawn(page)
    page.get_by_text("Pin window end").click()
    page.wait_for_function("() => location.search.includes('as_of=')")
    wait_drawn(page)
    page.get_by_test_id("stRadio").filter(has_text="Alignment").get_by_text("Calendar days").click()
    page.wait_for_function("() => location.search.includes('align=calendar')")
    wait_drawn(page)
    link = page.url
    first = {label: download(page, label) for label in CSVS}
    shown = readings(page)
    assert shown and "BTC's 30-observation correlation" in shown[0]

    with new_page(browser) as other:
        other.goto(link)
        wait_drawn(other)
        assert parse_qs(urlsplit(other.url).query) == parse_qs(urlsplit(link).query)
        assert other.get_by_role("switch", name="Pin window end").is_checked()
        assert other.get_by_test_id("stRadio").filter(has_text="Alignment").get_by_role(
            "radio", name="Calendar days").is_checked()
        assert readings(other) == shown
        for label, data in first.items():
            assert download(other, label) == data, label


def test_overview_card_links_to_the_same_view(page, server_url):
    page.goto(server_url)
    card = page.locator(".st-key-overview_corr_BTC")
    card.get_by_text("with Gold:").wait_for(timeout=90_000)
    gold = re.search(r"with Gold: ([+-]\d\.\d\d)", card.inner_text()).group(1)
    nasdaq = re.search(r"with Nasdaq-100: ([+-]\d\.\d\d)", card.inner_text()).group(1)
    card.get_by_role("link", name="BTC on the Correlation page").click()
    page.wait_for_url(re.compile(r"/correlation\?"))
    wait_drawn(page)
    assert parse_qs(urlsplit(page.url).query)["assets"] == ["BTC"]
    reading = readings(page)[0]
    assert f"with Gold {float(gold):.2f}," in reading and f"with Nasdaq-100 {float(nasdaq):.2f}," in reading
