"""Streamlit renderers of the shared UI pieces (the one components module allowed to import streamlit).

The text and HTML come from the pure helpers in ``components.badges``; this module only places them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import streamlit as st

from components.badges import (
    freshness_level,
    freshness_text,
    source_badge_html,
    venue_error_lines,
)


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
