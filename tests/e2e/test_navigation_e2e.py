"""Moving between pages keeps each page's view for this session, and only for this session."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from tests.e2e.browser import new_page, wait_idle

pytestmark = pytest.mark.e2e

def params(page) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(page.url).query).items()}


def settle(page) -> None:
    page.wait_for_timeout(800)  # the click's rerun has started
    wait_idle(page)


def go(page, title: str) -> None:
    page.get_by_test_id("stSidebarNav").get_by_text(title, exact=True).click()
    settle(page)


def test_a_page_comes_back_as_the_user_left_it(page, server_url, browser):
    page.goto(f"{server_url}/funding")
    page.locator(".js-plotly-plot").first.wait_for(timeout=90_000)
    settle(page)
    page.get_by_text("APY", exact=True).click()
    settle(page)
    assert params(page)["unit"] == "apy"

    go(page, "Overview")
    assert "unit" not in params(page)  # the navigation dropped the funding page's parameters
    page.get_by_test_id("stMain").get_by_test_id("stSelectbox").first.click()
    page.get_by_role("option", name="OKX", exact=True).click()
    settle(page)
    assert params(page) == {"exchange": "okx"}

    go(page, "Funding")
    page.locator(".js-plotly-plot").first.wait_for(timeout=90_000)
    assert params(page)["unit"] == "apy"  # back as it was left: in the URL ...
    assert page.get_by_role("radio", name="APY", exact=True).is_checked()  # ... and in the widget
    go(page, "Overview")
    assert params(page) == {"exchange": "okx"}

    with new_page(browser) as theirs:  # another user's session
        theirs.goto(f"{server_url}/funding")
        theirs.locator(".js-plotly-plot").first.wait_for(timeout=90_000)
        settle(theirs)
        assert params(theirs)["unit"] == "8h"  # defaults: nothing of the first session leaks
