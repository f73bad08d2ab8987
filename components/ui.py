"""Streamlit renderers of the shared UI pieces (the one components module allowed to import streamlit).

The text and HTML come from the pure helpers in ``components.badges``; this module only places them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import streamlit as st

from components import refresh
from components.badges import (
    freshness_level,
    freshness_text,
    source_badge_html,
    venue_error_lines,
)
from components.formatting import MISSING
from data_sources import DataSourceError, MarketData, get_market_data


def source_badge(source: str, scenario: str | None = None, *, where: Any = None) -> None:
    """Render the data-source badge ("SIMULATED DATA — scenario: X" / "LIVE") in ``where`` (default: main)."""
    target = where if where is not None else st
    target.markdown(source_badge_html(source, scenario), unsafe_allow_html=True)


def freshness(age_s: float | None, *, stale: Mapping[str, float] | None = None,
              label: Callable[[str], str] = str, where: Any = None) -> None:
    """Render the data age as a caption; stale or old data gets a warning icon."""
    target = where if where is not None else st
    text = freshness_text(age_s, stale=stale, label=label)
    icon = "" if freshness_level(age_s) == "fresh" and not stale else ":material/schedule: "
    target.caption(icon + text)


def venue_errors(errors: Mapping[str, str], *, label: Callable[[str], str] = str, what: str = "") -> None:
    """Name every failing venue and why, in one warning box (the page still renders the rest)."""
    if not errors:
        return
    head = f"Missing from {what}:" if what else "Some exchanges did not answer:"
    body = "\n".join(f"- {line}" for line in venue_error_lines(errors, label=label))
    st.warning(f"{head}\n{body}", icon=":material/warning:")


_LAST_FULL_RUN = "_cd_last_full_run"


def auto_refresh(interval_s: int) -> None:
    """Rerun the whole page every ``interval_s`` seconds (0: never), keeping every widget's value.

    Call once per full run, from the app shell. A fragment with ``run_every`` ticks on its own; on a tick
    (not on the full run that drew it) it asks for a full rerun, so each page refreshes without knowing.
    """
    st.session_state[_LAST_FULL_RUN] = time.monotonic()
    updated = datetime.now(UTC).strftime("%H:%M:%S UTC")

    @st.fragment(run_every=interval_s if interval_s > 0 else None)
    def _tick() -> None:
        if refresh.rerun_due(st.session_state.get(_LAST_FULL_RUN), time.monotonic(), interval_s):
            st.rerun(scope="app")
        st.caption(f"Page updated {updated}",
                   help="The page re-reads its data on the chosen schedule; a pinned window end (as_of) "
                        "keeps histories fixed.")

    _tick()


def market_data_or_stop() -> MarketData:
    """The process's market-data facade; if it cannot be built, say why and end the page's run there."""
    try:
        return get_market_data()
    except DataSourceError as e:
        st.error(f"Market data unavailable: {e}", icon=":material/cloud_off:")
        st.stop()
        raise  # st.stop() raises; this line only tells type checkers the function never falls through


def listed_perp_bases(md: MarketData) -> tuple[set[str], bool]:
    """Bases some configured exchange lists a perpetual of, and whether every exchange's listing answered
    (only then may a page call a base unlisted). A listing that cannot be read gives no bases."""
    try:
        listing = md.listed()
    except DataSourceError:
        return set(), False
    return set(listing.frame.query("perps > 0")["base"]), not listing.errors


def csv_download(label: str, frame: Any, name: str, *, key: str, where: Any = None) -> None:
    """A download of exactly ``frame`` as ``carrydesk_<name>.csv``: built only when clicked, and the click
    does not rerun the page. ``frame`` may be a function returning the frame, to defer building it too."""
    target = where if where is not None else st

    def data() -> bytes:
        table = frame() if callable(frame) else frame
        return table.to_csv(index=False).encode("utf-8")

    target.download_button(label, data,
                           file_name=f"carrydesk_{name}.csv", mime="text/csv", icon=":material/download:",
                           key=key, on_click="ignore")


def table(data: Any, *, where: Any = None, **kwargs: Any) -> None:
    """``st.dataframe`` as every Carry Desk table is drawn: full width, no index, a missing value as "—"
    (the cell stays numeric, so the column still sorts)."""
    target = where if where is not None else st
    target.dataframe(data, hide_index=True, width="stretch", placeholder=MISSING, **kwargs)


def number_formats(formats: Mapping[str, str]) -> dict[str, Any]:
    """``column_config`` of number columns from ``{column: printf format}``."""
    return {column: st.column_config.NumberColumn(format=fmt) for column, fmt in formats.items()}
