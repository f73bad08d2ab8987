"""Shared set-up of the AppTest page tests: demo mode, every venue, no rate-limiter sleeps."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest

from data_sources import reset_market_data
from data_sources.clients import LockedThrottle

APP = str(Path(__file__).resolve().parents[2] / "app.py")
# Settings a developer's shell may carry that would change what the pages show.
UNSET = ("CARRYDESK_DEMO_SCENARIO", "CARRYDESK_DEMO_SEED", "CARRYDESK_DEMO_FAULTS", "CARRYDESK_CONFIG",
         "CARRYDESK_CCXT_OPTIONS", "CARRYDESK_PROXY_GOLD", "CARRYDESK_PROXY_NASDAQ")


@pytest.fixture(scope="module", autouse=True)
def _close_facades():
    yield
    reset_market_data()  # the facades built for this module's settings, with their thread pools


@pytest.fixture
def demo_env(monkeypatch: pytest.MonkeyPatch):
    """Demo mode with every venue, without the rate limiter's sleeps.

    The limiter spaces requests by ccxt's endpoint weights, which adds seconds to every cold page (and the
    autouse fixture empties the caches between tests); it has its own tests in tests/data_sources, and the
    e2e tests run the real server with it.
    """
    monkeypatch.setattr(LockedThrottle, "__call__", lambda self, cost=None: None)
    monkeypatch.setenv("CARRYDESK_SOURCE", "demo")
    for name in UNSET:
        monkeypatch.delenv(name, raising=False)
    PagesManager.uses_pages_directory = None  # st.navigation apps: see STYLE.md / streamlit's conftest
    return monkeypatch


def open_app(page: str | None = None, query: dict[str, str] | None = None, *, timeout: float = 120) -> AppTest:
    """The app run once with ``query`` in the URL, switched straight to ``page`` (a views/ script) if given."""
    at = AppTest.from_file(APP, default_timeout=timeout)
    at.query_params.update(query or {})
    if page is not None:
        at.switch_page(page)
    return at.run()


def assert_tables_show_missing_as_dash(at: AppTest) -> None:
    """Every table on the page shows a missing value as the em dash the rest of the page uses, not "None"."""
    from components.formatting import MISSING

    assert at.dataframe, "no table on the page"
    assert [d.proto.placeholder for d in at.dataframe] == [MISSING] * len(at.dataframe)


def assert_no_exception(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


def table_with(at: AppTest, column: str) -> pd.DataFrame:
    """The one dataframe on the page that has ``column``."""
    found = [d.value for d in at.dataframe if column in d.value.columns]
    assert len(found) == 1, [list(d.value.columns) for d in at.dataframe]
    return found[0]


def plotly_specs(at: AppTest) -> list[dict]:
    """Every plotly chart on the page as its figure dict, in page order."""
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
