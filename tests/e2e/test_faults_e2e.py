"""CARRYDESK_DEMO_FAULTS in a real browser: one case per fault kind, each on its own venue of a server
started with that setting. The Overview reads every venue, so it must render, name the failing venue with
a reason that fits the kind, and show no traceback."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import ExitStack

import pytest

from tests.e2e.browser import new_page, wait_idle
from tests.e2e.server import carrydesk_server
from tests.views.test_fault_matrix import REASONS

pytestmark = pytest.mark.e2e

# kind -> (server, venue, its label on the page). Three faults per server at most, so the other venues
# answer and the page has numbers to show; the slow answer gets a short client timeout.
ON: dict[str, tuple[str, str, str]] = {
    "timeout": ("a", "okx", "OKX"),
    "down": ("a", "bybit", "Bybit"),
    "rate_limit": ("a", "deribit", "Deribit"),
    "ban": ("b", "binancecoinm", "Binance COIN-M"),
    "server_error": ("b", "hyperliquid", "Hyperliquid"),
    "malformed": ("b", "binanceusdm", "Binance USDⓈ-M"),
    "empty": ("c", "okx", "OKX"),
    "slow": ("c", "deribit", "Deribit"),
}


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    urls: dict[str, str] = {}
    with ExitStack() as stack:
        for name in sorted({server for server, _, _ in ON.values()}):
            faults = ",".join(f"{venue}:{kind}" for kind, (server, venue, _) in ON.items() if server == name)
            settings = {"CARRYDESK_DEMO_FAULTS": faults}
            if "slow" in faults:
                settings["CARRYDESK_CCXT_OPTIONS"] = json.dumps({"*": {"timeout": 1500}})
            urls[name] = stack.enter_context(carrydesk_server(tmp_path_factory.mktemp(f"faults_{name}"), settings))
        yield urls


def alerts(page) -> list[str]:
    """Every alert's text, once the Overview's table is drawn and the script is idle."""
    page.locator('[data-testid="stDataFrame"]').first.wait_for(timeout=120_000)
    wait_idle(page, timeout=120_000)
    return page.locator('[data-testid="stAlert"]').all_inner_texts()


def assert_named(texts: list[str], label: str, kind: str) -> None:
    lines = [line for t in texts for line in t.splitlines() if label in line]
    assert lines, (label, texts)
    assert any(re.search(REASONS[kind], line, re.IGNORECASE) for line in lines), (kind, lines)


@pytest.mark.parametrize("kind", list(ON))
def test_each_fault_kind_is_named_on_the_page_in_a_browser(browser, servers, kind):
    server, _, label = ON[kind]
    with new_page(browser) as page:
        page.goto(servers[server])
        texts = alerts(page)
        assert_named(texts, label, kind)
        assert page.get_by_test_id("stException").count() == 0
        assert page.locator('[data-testid="stMetric"]').count() == 3  # the page still shows every asset
        assert "Traceback" not in page.locator("body").inner_text()
