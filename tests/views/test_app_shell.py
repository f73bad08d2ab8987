"""The app shell (app.py): source badge and the auto-refresh choice shared by every page."""

from __future__ import annotations

from components import refresh
from tests.views.conftest import open_app


def test_auto_refresh_defaults_to_a_minute_and_says_when_the_page_ran(demo_env):
    at = open_app(None, timeout=60)
    assert not at.exception
    assert at.sidebar.selectbox(key="cd_refresh").value == refresh.DEFAULT_S
    assert any(c.value.startswith("Page updated ") for c in at.sidebar.caption)


def test_the_environment_sets_the_default_and_a_bad_value_is_explained(demo_env):
    demo_env.setenv(refresh.ENV, "0")
    at = open_app(None, timeout=60)
    assert at.sidebar.selectbox(key="cd_refresh").value == 0

    demo_env.setenv(refresh.ENV, "often")
    at = open_app(None, timeout=60)
    assert not at.exception
    assert at.sidebar.selectbox(key="cd_refresh").value == refresh.DEFAULT_S
    assert any("CARRYDESK_REFRESH_S='often'" in w.value for w in at.sidebar.warning)


def test_the_choice_follows_the_user_across_pages(demo_env):
    at = open_app(None, timeout=60)
    at.sidebar.selectbox(key="cd_refresh").set_value(300).run()
    at.switch_page("views/funding.py").run()
    assert not at.exception
    assert at.sidebar.selectbox(key="cd_refresh").value == 300


def test_a_bad_source_setting_is_explained_on_every_page_not_a_traceback(demo_env):
    demo_env.setenv("CARRYDESK_SOURCE", "sometimes")
    for page in (None, "views/term_structure.py", "views/perp_premium.py", "views/funding.py"):
        at = open_app(page, timeout=60)
        assert not at.exception, page
        errors = [e.value for e in at.error]
        assert any(e.startswith("Market data unavailable") and "sometimes" in e for e in errors), (page, errors)


def test_reset_brings_a_page_back_to_its_defaults(demo_env):
    at = open_app("views/funding.py", {"unit": "apy", "win": "7d", "sym": "BTC"})
    assert at.radio(key="fund_unit").value == "apy"
    assert at.multiselect(key="fund_sym").value == ["BTC"]
    at.sidebar.button(key="cd_reset").click().run()
    assert not at.exception
    assert at.radio(key="fund_unit").value == "8h" and at.selectbox(key="fund_win").value == "30d"
    assert at.multiselect(key="fund_sym").value == ["BTC", "ETH", "SOL"]
    assert at.query_params["unit"] == "8h"  # the link follows the defaults
    assert at.sidebar.selectbox(key="cd_refresh").value == refresh.DEFAULT_S  # the shell's own choice stays
