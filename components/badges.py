"""Source and freshness badges: pure helpers returning text/HTML (the Streamlit renderer is ``ui.py``).

Demo data must always be labelled as simulated (DESIGN.md "Sources"), so the demo badge is loud and says
which scenario is running.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping

from components.formatting import fmt_age, is_missing

DEMO = "demo"
LIVE = "live"

# Ages (seconds) beyond which a value is no longer "fresh": quotes refresh every ~15-30 s upstream.
FRESH_S = 60.0
STALE_S = 300.0

_COLORS = {  # (background, text, border): readable on the dark theme
    DEMO: ("#3d2a00", "#ffcc66", "#ffb020"),
    LIVE: ("#0d3320", "#7ee2a8", "#2fbf71"),
    "unknown": ("#2a2a2a", "#dddddd", "#888888"),
}


def source_badge_text(source: str, scenario: str | None = None) -> str:
    """"SIMULATED DATA — scenario: normal" in demo mode, "LIVE" in live mode."""
    if source == DEMO:
        return f"SIMULATED DATA — scenario: {scenario or 'unknown'}"
    if source == LIVE:
        return "LIVE"
    return f"SOURCE: {source.upper()}"


def source_badge_html(source: str, scenario: str | None = None) -> str:
    """The source badge as a self-contained, escaped HTML span (inline styles, no external CSS)."""
    bg, fg, border = _COLORS.get(source, _COLORS["unknown"])
    text = html.escape(source_badge_text(source, scenario))
    return (
        f'<span class="cd-source-badge cd-source-{html.escape(source)}" '
        f'style="display:inline-block;padding:0.25rem 0.6rem;border-radius:0.4rem;'
        f"background:{bg};color:{fg};border:1px solid {border};font-weight:700;"
        f'letter-spacing:0.03em;font-size:0.85rem;">{text}</span>'
    )


def freshness_level(age_s: float | None, *, fresh_s: float = FRESH_S, stale_s: float = STALE_S) -> str:
    """"fresh" (< fresh_s), "aging" (< stale_s), "stale", or "unknown" when the age is missing."""
    if is_missing(age_s):
        return "unknown"
    age = float(age_s)  # type: ignore[arg-type]
    if age < fresh_s:
        return "fresh"
    return "aging" if age < stale_s else "stale"


def freshness_text(age_s: float | None, *, stale: Mapping[str, float] | None = None,
                   label: Callable[[str], str] = str) -> str:
    """"Data age: 12 s", plus which venues are served stale after an error and how old their data is.

    Parameters
    ----------
    age_s : float or None
        Age of the oldest part of the data, seconds.
    stale : mapping venue -> seconds, optional
        ``FrameResult.stale``: venues whose last good value is shown because a refresh failed.
    label : callable, optional
        Venue id -> display name.
    """
    text = f"Data age: {fmt_age(age_s)}"
    if stale:
        parts = ", ".join(f"{label(v)} ({fmt_age(s)} old)" for v, s in sorted(stale.items()))
        text += f" · stale after an error: {parts}"
    return text


def venue_error_lines(errors: Mapping[str, str], *, label: Callable[[str], str] = str) -> list[str]:
    """One line per failing venue, "OKX: <reason>", sorted by venue, for a warning box."""
    return [f"{label(v)}: {msg}" for v, msg in sorted(errors.items())]
