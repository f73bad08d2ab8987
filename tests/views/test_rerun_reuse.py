"""A rerun on unchanged data redraws what was derived from it without recomputing; new data recomputes.

Every page keys the frames and figures it derives from market data on the data's tokens
(``components.derived``), except the hedge calculator, whose results hold the user's holdings and are kept
in that user's session only.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from components.derived import cache
from data_sources import get_market_data
from tests.views.conftest import APP, assert_no_exception, open_app, plotly_specs

PAGES = ["views/overview.py", "views/term_structure.py", "views/perp_premium.py", "views/funding.py",
         "views/correlation.py"]


# Columns that follow the clock, not the data: the next funding's countdown, the Overview's data age.
CLOCK_COLUMNS = ("Countdown", "Data")


def _tables(at):
    return [d.value.drop(columns=[c for c in CLOCK_COLUMNS if c in d.value.columns]) for d in at.dataframe]


@pytest.mark.parametrize("page", PAGES)
def test_a_rerun_on_the_same_data_rebuilds_nothing_and_shows_the_same(demo_env, page):
    at = assert_no_exception(open_app(page))
    builds = cache().builds
    assert builds > 0  # the page derives its views through the cache
    first_tables, first_charts = _tables(at), plotly_specs(at)
    at = assert_no_exception(at.run())
    assert cache().builds == builds and cache().hits > 0
    for a, b in zip(first_tables, _tables(at), strict=True):
        assert a.equals(b)
    assert plotly_specs(at) == first_charts
    get_market_data().cache.invalidate()  # every quote, funding rate and candle fetched anew
    at = assert_no_exception(at.run())
    assert cache().builds > builds


def test_the_hedge_page_keeps_its_results_in_the_users_session_only(demo_env):
    at = open_app("views/hedge.py")
    at.text_area(key="hedge_paste").set_value("BTC,1.5\nETH,20")
    [b for b in at.button if b.label == "Compute hedge"][0].click()
    at = assert_no_exception(at.run())
    serial = at.session_state["hedge_memo"]["serial"]
    shared = len(cache())
    at = assert_no_exception(at.run())  # a rerun on the same data: the same book, nothing rebuilt
    assert at.session_state["hedge_memo"]["serial"] == serial
    assert len(cache()) == shared  # nothing of the hedge page went into the shared cache
    get_market_data().cache.invalidate()
    at = assert_no_exception(at.run())
    assert at.session_state["hedge_memo"]["serial"] == serial + 1


def test_the_hedge_files_never_use_the_shared_cache():
    root = Path(APP).parent
    for rel in ("views/hedge.py", "components/hedge_view.py", "components/charts_hedge.py"):
        text = (root / rel).read_text(encoding="utf-8")
        assert "derived" not in text.replace("derived from", ""), rel
