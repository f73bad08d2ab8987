"""Parsing and validating view state carried in the URL (pure: no streamlit).

A shared link must reopen the same view; a bad or stale parameter must never raise. Each parser returns
the parsed value, or the default plus a message saying what was ignored and why.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Generic, TypeVar

import pandas as pd

T = TypeVar("T")


@dataclass(frozen=True)
class Parsed(Generic[T]):
    value: T
    problem: str | None = None  # human message when the URL value was ignored


def parse_choice(raw: str | None, options: Sequence[str], default: str, *, param: str) -> Parsed[str]:
    """One of ``options`` (case-insensitive match), else the default with a message."""
    if raw is None or raw == "":
        return Parsed(default)
    by_lower = {o.lower(): o for o in options}
    hit = by_lower.get(raw.strip().lower())
    if hit is None:
        return Parsed(default, f"{param}={raw!r} is not one of {', '.join(options)}; using {default}")
    return Parsed(hit)


def parse_multi(raw: str | None, options: Sequence[str], default: Sequence[str], *, param: str) -> Parsed[list[str]]:
    """Comma-separated subset of ``options`` (order of ``options``); unknown items are dropped with a message."""
    if raw is None:
        return Parsed(list(default))
    items = [x.strip() for x in raw.split(",") if x.strip()]
    by_lower = {o.lower(): o for o in options}
    good = [by_lower[x.lower()] for x in items if x.lower() in by_lower]
    bad = [x for x in items if x.lower() not in by_lower]
    chosen = [o for o in options if o in good]
    if not chosen:
        return Parsed(list(default), f"{param}={raw!r} names nothing known; using the defaults" if raw else None)
    problem = f"{param}: ignored unknown {', '.join(repr(b) for b in bad)}" if bad else None
    return Parsed(chosen, problem)


def parse_float(raw: str | None, default: float, *, param: str, lo: float, hi: float) -> Parsed[float]:
    """A finite number within [lo, hi], else the default with a message."""
    if raw is None or raw == "":
        return Parsed(default)
    try:
        value = float(raw)
    except ValueError:
        return Parsed(default, f"{param}={raw!r} is not a number; using {default:g}")
    if not (lo <= value <= hi):  # also rejects NaN
        return Parsed(default, f"{param}={raw!r} is outside {lo:g}..{hi:g}; using {default:g}")
    return Parsed(value)


def parse_date(raw: str | None, *, param: str, earliest: date, latest: date) -> Parsed[date | None]:
    """An ISO date within [earliest, latest], else None with a message."""
    if raw is None or raw == "":
        return Parsed(None)
    try:
        value = date.fromisoformat(raw.strip())
    except ValueError:
        return Parsed(None, f"{param}={raw!r} is not a date (YYYY-MM-DD); ignored")
    if not (earliest <= value <= latest):
        return Parsed(None, f"{param}={raw} is outside {earliest}..{latest}; ignored")
    return Parsed(value)


def parse_as_of(raw: str | None, *, now: pd.Timestamp, max_age_days: int = 730) -> Parsed[pd.Timestamp | None]:
    """The ``as_of`` time a shared link pins history to (UTC), or None for "now".

    Accepts ISO dates and times (``2026-11-20``, ``2026-11-20T08:00Z``); naive means UTC. A time in the
    future or older than ``max_age_days`` is ignored with a message.
    """
    if raw is None or raw.strip() == "":
        return Parsed(None)
    try:
        ts = pd.Timestamp(raw.strip())
    except (ValueError, TypeError, OverflowError):
        return Parsed(None, f"as_of={raw!r} is not a date or time (e.g. 2026-11-20T08:00Z); showing now")
    if pd.isna(ts):
        return Parsed(None, f"as_of={raw!r} is not a date or time; showing now")
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    if ts > now:
        return Parsed(None, f"as_of={raw} is in the future; showing now")
    if ts < now - pd.Timedelta(days=max_age_days):
        return Parsed(None, f"as_of={raw} is more than {max_age_days} days back; showing now")
    return Parsed(ts)


def format_as_of(ts: pd.Timestamp | datetime | None) -> str | None:
    """The URL form of an as_of time: ``YYYY-MM-DDTHH:MMZ``."""
    if ts is None:
        return None
    t = pd.Timestamp(ts)
    t = t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert(UTC)
    return t.strftime("%Y-%m-%dT%H:%MZ")


def encode_multi(values: Sequence[str]) -> str:
    return ",".join(values)


def encode_float(value: float) -> str:
    """The shortest text that parses back to exactly ``value`` (``repr``), without a trailing ``.0``."""
    text = repr(float(value))
    return text.removesuffix(".0")


Parser = Callable[[str | None], Parsed[object]]
