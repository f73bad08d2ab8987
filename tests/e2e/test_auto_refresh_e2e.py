"""An open page re-reads its data on the auto-refresh timer and keeps what the user chose."""

from __future__ import annotations

import re

import pytest

from tests.e2e.browser import new_page
from tests.e2e.server import carrydesk_server

pytestmark = pytest.mark.e2e

UPDATED = re.compile(r"Page updated (\d\d:\d\d:\d\d) UTC")
CHOSEN = "Premium, funding and basis from: OKX"  # the Overview's caption names the chosen exchange


def updated_at(page) -> str:
    text = page.get_by_text(UPDATED).first.inner_text(timeout=60_000)
    match = UPDATED.search(text)
    assert match, text
    return match.group(1)


def test_page_refreshes_by_itself_and_keeps_the_chosen_view(browser, tmp_path):
    with carrydesk_server(tmp_path, {"CARRYDESK_REFRESH_S": "15"}) as url, new_page(browser) as page:
        page.goto(f"{url}/?exchange=okx")
        page.get_by_text(CHOSEN).first.wait_for(timeout=90_000)
        first = updated_at(page)
        # no input from here on: the timer alone must rerun the page (15 s, plus the script's own time)
        page.wait_for_function(
            "first => { const m = document.body.innerText.match(/Page updated (\\d\\d:\\d\\d:\\d\\d) UTC/);"
            "           return m && m[1] !== first; }", arg=first, timeout=60_000)
        assert updated_at(page) != first
        assert "exchange=okx" in page.url  # the view survived the rerun
        page.get_by_text(CHOSEN).first.wait_for()
        assert page.locator('[data-testid="stException"]').count() == 0
