"""Trading sessions of the markets our proxies track, from the maintained ``exchange_calendars`` library.

Equity-index proxies get new information only while their cash market trades (DOMAIN.md, "Cross-asset
correlation"): the correlation page aligns returns on those sessions, and the simulated Nasdaq proxy moves
only inside them. Holidays and early closes come from the library's XNYS calendar, never from a hand-kept
list. Everything is UTC.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

import pandas as pd

from data_sources.errors import InvalidQueryError

SESSION_COLUMNS: tuple[str, ...] = ("session", "open", "close")  # session: the local date (UTC midnight)
CALENDARS: dict[str, str] = {"XNYS": "New York Stock Exchange (NYSE)"}
FIRST_SESSION = pd.Timestamp("2019-01-01")  # the simulated history starts 2019-01-04
_LOCK = threading.Lock()


@functools.cache
def _calendar(code: str) -> Any:
    import exchange_calendars as xcals  # ~1 s to import: only when sessions are asked for

    with _LOCK:
        return xcals.get_calendar(code, start=FIRST_SESSION)


@functools.cache
def _schedule(code: str) -> pd.DataFrame:
    cal = _calendar(code)
    sched = cal.schedule
    frame = pd.DataFrame({
        "session": pd.DatetimeIndex(sched.index).tz_localize("UTC") if sched.index.tz is None
        else pd.DatetimeIndex(sched.index).tz_convert("UTC"),
        "open": pd.DatetimeIndex(sched["open"]).tz_convert("UTC"),
        "close": pd.DatetimeIndex(sched["close"]).tz_convert("UTC"),
    })
    return frame.reset_index(drop=True)


def sessions(code: str = "XNYS", start: pd.Timestamp | None = None, end: pd.Timestamp | None = None) -> pd.DataFrame:
    """Sessions of calendar ``code`` whose close lies in [start, end] (both optional), ascending.

    Columns: ``SESSION_COLUMNS`` (UTC timestamps). The library's calendar reaches about a year past today;
    asking beyond it returns what it has.
    """
    if code not in CALENDARS:
        raise InvalidQueryError(f"unknown trading calendar {code!r}; known: {sorted(CALENDARS)}")
    frame = _schedule(code)
    if start is not None:
        frame = frame[frame["close"] >= _utc(start)]
    if end is not None:
        frame = frame[frame["close"] <= _utc(end)]
    return frame.reset_index(drop=True).copy()


def open_mask(code: str, times_ms: Any) -> Any:
    """For each epoch-ms time, True when the calendar's market is open then (open <= t < close)."""
    import numpy as np

    frame = _schedule(code)
    opens = frame["open"].to_numpy(dtype="datetime64[ms]").astype(np.int64)
    closes = frame["close"].to_numpy(dtype="datetime64[ms]").astype(np.int64)
    t = np.asarray(times_ms, dtype=np.int64)
    i = np.searchsorted(opens, t, side="right") - 1
    ok = i >= 0
    return ok & (t < closes[np.maximum(i, 0)])


def _utc(ts: pd.Timestamp) -> pd.Timestamp:
    t = pd.Timestamp(ts)
    return t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")
