"""Carry Desk entry point: page config, the shared sidebar (data-source badge) and the router.

No data work happens here: pages read their inputs, call ``data_sources``/``analytics`` and render.
"""

from __future__ import annotations

import os

import streamlit as st

from components import refresh, ui
from components.ui_state import reset_view
from data_sources import DataSourceError, get_market_data

st.set_page_config(page_title="Carry Desk", page_icon=":material/stacked_line_chart:", layout="wide")

pages = {
    "Markets": [
        st.Page("views/overview.py", title="Overview", icon=":material/dashboard:", default=True),
        st.Page("views/term_structure.py", title="Term structure", icon=":material/stacked_line_chart:"),
        st.Page("views/perp_premium.py", title="Perp premium", icon=":material/compare_arrows:"),
        st.Page("views/funding.py", title="Funding", icon=":material/percent:"),
        st.Page("views/correlation.py", title="Correlation", icon=":material/ssid_chart:"),
        st.Page("views/hedge.py", title="Hedge calculator", icon=":material/shield:"),
    ],
}
router = st.navigation(pages)
# page url path -> (ViewState name, prefix of its widget keys), for "Reset this page"
VIEWS = {"": ("overview", "overview_"), "term_structure": ("term_structure", "ts_"),
         "perp_premium": ("perp_premium", "pp_"), "funding": ("funding", "fund_"),
         "correlation": ("correlation", "corr_"), "hedge": ("hedge", "hedge_")}

with st.sidebar:
    try:
        md = get_market_data()
    except DataSourceError as e:
        st.error(f"Market data unavailable: {e}")
    else:
        ui.source_badge(md.source, md.scenario, where=st.sidebar)
        st.caption(md.source_label)
        description = getattr(md, "scenario_description", None)
        if description:
            st.caption(description)
    default_refresh = refresh.parse_interval(os.environ.get(refresh.ENV))
    if default_refresh.problem:
        st.warning(default_refresh.problem, icon=":material/settings:")
    choices = list(refresh.CHOICES)
    interval = st.selectbox("Auto-refresh", choices, index=choices.index(default_refresh.value),
                            format_func=refresh.CHOICES.get, key="cd_refresh",
                            help="How often the open page re-reads its data. Cached data is reused within its "
                                 "time-to-live, so a refresh costs the exchanges nothing until it expires.")
    ui.auto_refresh(int(interval))
    if router.url_path in VIEWS:
        st.button("Reset this page", on_click=reset_view, args=VIEWS[router.url_path], key="cd_reset",
                  icon=":material/restart_alt:", help="Back to the page's default inputs (the link follows).")

router.run()
