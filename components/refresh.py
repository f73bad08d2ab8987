"""Auto-refresh: how often an open page re-reads its data (pure: no streamlit).

A desk keeps the dashboard open all day, so the "now" numbers must not freeze at the last click. The app
shell reruns the page on a timer; the data layer's TTL caches decide what that costs upstream (a rerun
inside a TTL makes no request). Pinned histories (``as_of``) stay as they are: only "now" moves.
"""

from __future__ import annotations

from components.urlparams import Parsed

# seconds -> label; 0 is off
CHOICES: dict[int, str] = {0: "Off", 15: "Every 15 s", 30: "Every 30 s", 60: "Every minute", 300: "Every 5 minutes"}
DEFAULT_S = 60
ENV = "CARRYDESK_REFRESH_S"


def parse_interval(raw: str | None) -> Parsed[int]:
    """The default interval from ``CARRYDESK_REFRESH_S``: one of ``CHOICES`` (0 = off), else the default."""
    if raw is None or raw.strip() == "":
        return Parsed(DEFAULT_S)
    try:
        value = int(raw.strip())
    except ValueError:
        value = -1
    if value not in CHOICES:
        allowed = ", ".join(str(s) for s in CHOICES)
        return Parsed(DEFAULT_S, f"{ENV}={raw!r} is not one of {allowed} (seconds, 0 = off); "
                                 f"refreshing every {DEFAULT_S} s")
    return Parsed(value)


def rerun_due(last_full_run: float | None, now: float, interval_s: int) -> bool:
    """Whether a timer tick should rerun the page: refresh is on and the page last ran at least half an
    interval ago (a click in between already refreshed it, so the tick after that one does)."""
    return interval_s > 0 and last_full_run is not None and now - last_full_run >= interval_s / 2
