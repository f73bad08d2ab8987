"""Cross-asset correlation: log returns, session alignment, rolling Pearson and beta, decoupling flags.

DOMAIN.md "Cross-asset correlation" (seed 001, sections 2.1/2.2 and table 1).

Inputs
------
Close prices are ``pd.Series`` indexed by the bar's OPEN time (UTC, tz-aware, ascending), as the OHLCV
frames' ``ts``; a bar of length ``bar`` closes at ``open + bar``. Correlation is always of log returns,
never of price levels, and prices are never forward-filled: a forward-filled close is a zero return
against the other series' real move, which pulls the correlation toward zero.

Alignment (``ALIGNMENTS``)
--------------------------
``align_closes`` keeps only close instants every series has (an inner join). ``"trading"`` keeps, in
addition, only bars that overlap a session of a trading calendar (NYSE from ``exchange_calendars``), so
consecutive rows give returns from one trading period's close to the next for every series: weekend and
holiday moves fold into the next session's return for both. ``"calendar"`` keeps every common instant.

Estimates
---------
Rolling functions return a Series on the pair's common index, NaN until a full window of valid pairs
(both returns finite) exists. Point estimates return an ``Estimate`` naming the window (n, start, end).
Not enough data gives NaN and a reason (``attrs["reason"]`` or ``Estimate.reason``), never a number; a
window with zero variance gives NaN too. Covariances and variances share one ddof, so beta is the OLS slope
``cov(a, b) / var(b)`` (with intercept) of ``a`` on ``b``.

Decoupling flags (seed 001, table 1)
------------------------------------
Each returns an episodes frame (``EPISODE_COLUMNS``), one row per maximal run of observations where the
rule holds; ``RULES`` holds the rule text for the page. Moves are cumulative LOG returns (fractions).

Pure pandas/numpy; inputs are never mutated.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from analytics._arrays import as_float, positive

DAY = pd.Timedelta(days=1)
# NYSE holds about 252 sessions a year: the trading alignment's "one year". The calendar alignment of
# 24/7 assets has 365 daily observations a year (crypto trades every day).
TRADING_DAYS_PER_YEAR = 252
CALENDAR_DAYS_PER_YEAR = 365
# Fewer than three pairs make Pearson degenerate (two points always give +-1).
MIN_OBSERVATIONS = 3
DEFAULT_WINDOW = 30  # DOMAIN.md: the 30-day correlation

ALIGNMENTS: tuple[str, ...] = ("trading", "calendar")

FLAGS: tuple[str, ...] = ("flight_to_safety", "risk_rotation", "band_exit", "sign_change")
EPISODE_COLUMNS: tuple[str, ...] = (
    "flag",  # one of FLAGS
    "asset",
    "proxy",
    "start",  # index timestamp (of the returns / correlation) of the episode's first observation
    "end",  # ... and of its last one
    "observations",  # rows in the episode
    "active",  # True: the episode runs to the last observation
    "asset_move",  # flight_to_safety / risk_rotation: the asset's k-observation log return at the start
    "proxy_move",  # ... and the proxy's
    "corr_start",  # band_exit / sign_change: the correlation at the start
    "corr_extreme",  # band_exit: farthest outside the band; sign_change: farthest from zero
    "band_lo",  # the band at the start (NaN where there is none)
    "band_hi",
)
BAND_COLUMNS: tuple[str, ...] = ("mean", "std", "lo", "hi")

DEFAULTS: dict[str, float] = {
    "window": DEFAULT_WINDOW,  # observations of the rolling correlation the band and sign rules judge
    "k": 5,  # observations (a trading week) over which moves are measured
    "asset_drop": 0.05,  # BTC down at least 5 % (log) ...
    "gold_rise": 0.01,  # ... while gold is up at least 1 %
    "flat": 0.02,  # BTC "sideways": within +-2 % over k
    "index_drop": 0.03,  # ... while the index falls at least 3 %
    "sign_threshold": 0.1,  # |corr| below this is noise around zero, never a sign
    "band_k": 2.0,  # the band is the trailing mean +- 2 std (DOMAIN.md)
    "band_lookback": TRADING_DAYS_PER_YEAR,  # one year of sessions (trading alignment, daily bars)
    "band_lookback_calendar": CALENDAR_DAYS_PER_YEAR,  # one year of days (calendar alignment, daily bars)
    "band_min_obs": 40,  # past correlations needed before the band means anything
}

# Placeholders: asset, proxy and DEFAULTS keys only (k, asset_drop, gold_rise, flat, index_drop, window,
# band_k, sign_threshold), so ``RULES[flag].format(asset=..., proxy=..., **thresholds)`` always fills them.
RULES: dict[str, str] = {
    "flight_to_safety": ("{asset} down ≥ {asset_drop:.1%} while {proxy} up ≥ {gold_rise:.1%} over {k} "
                         "observations (cumulative log returns)"),
    "risk_rotation": ("{asset} sideways (within ±{flat:.1%}) while {proxy} down ≥ {index_drop:.1%} over {k} "
                      "observations (cumulative log returns)"),
    "band_exit": ("{window}-observation correlation of {asset} and {proxy} outside its long-run band: the "
                  "trailing mean ± {band_k:g} std of its own past values"),
    "sign_change": ("correlation of {asset} and {proxy} changes sign: from ≥ +{sign_threshold:.2f} to "
                    "≤ −{sign_threshold:.2f} or back (wiggles around zero ignored); news for {window} "
                    "observations"),
}

# Counts among DEFAULTS: shown as "5 sessions", never "5.0 sessions".
_COUNT_PARAMS: frozenset[str] = frozenset({"window", "k", "band_lookback", "band_lookback_calendar", "band_min_obs"})
# Zero variance: float noise leaves a constant window's centred values at ~1e-17 of its level, never 0.
_FLAT_TOLERANCE = 1e-12
# Thresholds compare k-moves after allowing for summation noise (-0.06 + 0.01 must still be <= -0.05).
_COMPARE_TOLERANCE = 1e-12


# ---------------------------------------------------------------------------------------------------------
# Returns and alignment


def log_returns(prices: pd.Series) -> pd.Series:
    """Log returns ``ln(p_t / p_{t-1})`` of a price series.

    Parameters
    ----------
    prices : Series
        Prices (any currency) in time order.

    Returns
    -------
    Series
        Unitless log returns on ``prices.index[1:]`` (the first observation has no return). NaN where
        either price is NaN, zero or negative: a gap is never bridged. Fewer than two prices give an empty
        Series with ``attrs["reason"]``.
    """
    p = as_float(prices)
    out = pd.Series(_log_ratio(p), index=prices.index[1:], name=prices.name, dtype="float64")
    if p.size < 2:
        out.attrs["reason"] = f"needs 2 prices, has {p.size}"
    return out


def align_closes(closes: Mapping[str, pd.Series], *, bar: pd.Timedelta = DAY, alignment: str,
                 sessions: pd.DataFrame | None = None, calendar_name: str | None = None) -> pd.DataFrame:
    """Closes of several series on the instants they all share.

    Parameters
    ----------
    closes : mapping of name -> Series
        Close prices indexed by the bar's open time (UTC, tz-aware; unique). NaN, zero and negative closes
        are not closes and are dropped first.
    bar : Timedelta, keyword-only
        Bar length (1 day or 4 hours); a bar opened at ``t`` closes at ``t + bar``.
    alignment : {"trading", "calendar"}, keyword-only
        ``trading``: keep only bars whose ``[open, open + bar)`` overlaps a session ``[open, close)`` of
        ``sessions``. ``calendar``: every instant all series share.
    sessions : DataFrame, keyword-only
        Trading sessions with tz-aware ``open`` and ``close`` columns (e.g. ``exchange_calendars``' XNYS
        schedule); required for ``trading``.
    calendar_name : str, keyword-only
        Name of the sessions' market for the ``attrs["alignment"]`` sentence (e.g. "NYSE").

    Returns
    -------
    DataFrame
        One float64 column per name (price), indexed ``ts`` = the close instant (UTC), ascending; only
        instants where every series has a close (inner join, never forward-filled). ``attrs``:
        ``alignment`` (a sentence for the page), ``alignment_kind``, ``bar``; ``reason`` when empty.

    Raises
    ------
    ValueError
        Unknown ``alignment``, ``trading`` without ``sessions``, a non-positive ``bar``, a naive or
        duplicated index.
    """
    if alignment not in ALIGNMENTS:
        raise ValueError(f"alignment must be one of {ALIGNMENTS}, not {alignment!r}")
    if alignment == "trading" and sessions is None:
        raise ValueError("the trading alignment needs sessions: a frame with UTC 'open' and 'close' columns, "
                         "e.g. exchange_calendars.get_calendar('XNYS').schedule")
    bar = pd.Timedelta(bar)
    if bar <= pd.Timedelta(0):
        raise ValueError(f"bar must be a positive duration, not {bar!r}")
    parts = {name: _valid_closes(s, str(name)) for name, s in closes.items()}
    if parts:
        frame = pd.concat(parts, axis=1, join="inner").sort_index()
    else:
        frame = pd.DataFrame(index=pd.DatetimeIndex([], tz="UTC", dtype="datetime64[ns, UTC]"))
    common = len(frame)
    if alignment == "trading" and common:
        assert sessions is not None
        frame = frame.loc[_overlaps_session(frame.index, bar, sessions)]
    frame.index = pd.DatetimeIndex(frame.index + bar, name="ts")
    frame.attrs = {"alignment": _alignment_sentence(alignment, bar, calendar_name), "alignment_kind": alignment,
                   "bar": bar}
    if frame.empty:
        frame.attrs["reason"] = ("no series given" if not parts else "no close instant common to all series"
                                 if not common else "no common bar overlaps a trading session")
    return frame


def aligned_returns(aligned: pd.DataFrame) -> pd.DataFrame:
    """Log returns of every column of an ``align_closes`` frame, its ``attrs`` kept.

    Returns
    -------
    DataFrame
        Unitless log returns on ``aligned.index[1:]``: each row is the return from the previous aligned
        close to this one, the same span for every column. Fewer than two rows give an empty frame with
        ``attrs["reason"]``.
    """
    values = aligned.to_numpy(dtype="float64", na_value=np.nan)
    out = pd.DataFrame(_log_ratio(values), index=aligned.index[1:], columns=aligned.columns, dtype="float64")
    out.attrs = dict(aligned.attrs)
    if len(out) == 0:
        out.attrs["reason"] = f"needs 2 aligned closes, has {len(aligned)}"
    return out


def _log_ratio(p: np.ndarray) -> np.ndarray:
    """``ln(p[t] / p[t-1])`` along the first axis; NaN unless both prices are finite and positive.

    The log of the ratio, not a difference of logs: at BTC's price level ln(p) - ln(q) loses ~1e-15 to
    cancellation, ln(p / q) only the ratio's rounding.
    """
    if len(p) < 2:
        return p[:0]
    ok = positive(p)
    both = ok[1:] & ok[:-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(both, p[1:] / np.where(ok[:-1], p[:-1], 1.0), 1.0)
        return np.where(both, np.log(ratio), np.nan)


def _valid_closes(s: pd.Series, name: str) -> pd.Series:
    if not isinstance(s.index, pd.DatetimeIndex) or s.index.tz is None:
        raise ValueError(f"closes of {name!r} need a tz-aware (UTC) DatetimeIndex of bar open times")
    if not s.index.is_unique:
        raise ValueError(f"closes of {name!r} have duplicate timestamps")
    values = as_float(s)
    keep = positive(values)
    index = s.index.tz_convert("UTC").as_unit("ns")
    return pd.Series(values[keep], index=index[keep], dtype="float64").sort_index()


def _utc_ns(times: Any, what: str) -> np.ndarray:
    t = pd.DatetimeIndex(times)
    if t.tz is None:
        raise ValueError(f"sessions' {what!r} column must be tz-aware (UTC)")
    return np.asarray(t.tz_convert("UTC").as_unit("ns").asi8)


def _overlaps_session(opens: pd.DatetimeIndex, bar: pd.Timedelta, sessions: pd.DataFrame) -> np.ndarray:
    """Mask of bars ``[open, open + bar)`` overlapping some session ``[s_open, s_close)``."""
    if "open" not in sessions or "close" not in sessions:
        raise ValueError("sessions need 'open' and 'close' columns (UTC)")
    s_open, s_close = _utc_ns(sessions["open"], "open"), _utc_ns(sessions["close"], "close")
    ok = (s_open != np.iinfo(np.int64).min) & (s_close != np.iinfo(np.int64).min)  # NaT rows are no session
    order = np.argsort(s_close[ok], kind="stable")
    s_open, s_close = s_open[ok][order], s_close[ok][order]
    if s_close.size == 0:
        return np.zeros(len(opens), dtype=bool)
    t0 = np.asarray(opens.as_unit("ns").asi8)
    t1 = t0 + bar.as_unit("ns").value
    # Sessions never overlap, so the first one closing after the bar opens is the only candidate: any
    # later session opens later still.
    i = np.searchsorted(s_close, t0, side="right")
    found = i < s_close.size
    return found & (s_open[np.minimum(i, s_close.size - 1)] < t1)


def _bar_text(bar: pd.Timedelta) -> str:
    if bar % DAY == pd.Timedelta(0):
        return f"{bar // DAY}-day"
    hour = pd.Timedelta(hours=1)
    if bar % hour == pd.Timedelta(0):
        return f"{bar // hour}-hour"
    return str(bar)


def _alignment_sentence(alignment: str, bar: pd.Timedelta, calendar_name: str | None) -> str:
    bars = _bar_text(bar)
    if alignment == "trading":
        market = f"{calendar_name} " if calendar_name else ""
        return (f"Trading-day alignment: {bars} bars overlapping a {market}trading session, returns from one "
                f"session's close to the next for every series (weekends and holidays fold into the next "
                f"session's return; nothing forward-filled).")
    return (f"Calendar alignment: every {bars} close all series share, weekends and holidays included (no "
            f"trading calendar; nothing forward-filled).")


# ---------------------------------------------------------------------------------------------------------
# Pairs, windows, moments


def _check_window(window: int) -> None:
    if int(window) != window or window < MIN_OBSERVATIONS:
        raise ValueError(f"window must be an integer >= {MIN_OBSERVATIONS} observations, not {window!r}")


def _pair(a: pd.Series, b: pd.Series) -> tuple[pd.Index, np.ndarray, np.ndarray]:
    """The pair on its common index, ascending, as float64 arrays."""
    if not (a.index.is_unique and b.index.is_unique):
        raise ValueError("return series need unique index values")
    if not a.index.equals(b.index):
        a, b = a.align(b, join="inner")
    if not a.index.is_monotonic_increasing:
        order = np.argsort(a.index.to_numpy(), kind="stable")
        a, b = a.iloc[order], b.iloc[order]
    return a.index, as_float(a), as_float(b)


def _moments(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, ...]:
    """Centred sums ``sxx, syy, sxy`` over the last axis (two-pass, exact to rounding) and zero-variance
    masks of x and y."""
    w = x.shape[-1]
    mx, my = x.mean(axis=-1, keepdims=True), y.mean(axis=-1, keepdims=True)
    xc, yc = x - mx, y - my
    sxx = np.einsum("...i,...i->...", xc, xc)
    syy = np.einsum("...i,...i->...", yc, yc)
    sxy = np.einsum("...i,...i->...", xc, yc)
    # zero variance relative to the raw second moment (sxx + w * mean**2), which needs no extra pass
    flat_x = sxx <= _FLAT_TOLERANCE**2 * (sxx + w * mx[..., 0] ** 2)
    flat_y = syy <= _FLAT_TOLERANCE**2 * (syy + w * my[..., 0] ** 2)
    return sxx, syy, sxy, flat_x, flat_y


def _pearson(sxx: np.ndarray, syy: np.ndarray, sxy: np.ndarray, flat: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.clip(sxy / np.sqrt(sxx * syy), -1.0, 1.0)
    return np.where(flat, np.nan, r)


def _slope(syy: np.ndarray, sxy: np.ndarray, flat_y: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(flat_y, np.nan, sxy / syy)


def _rolling(a: pd.Series, b: pd.Series, window: int, name: str) -> pd.Series:
    _check_window(window)
    index, x, y = _pair(a, b)
    ok = np.isfinite(x) & np.isfinite(y)
    pos = np.flatnonzero(ok)
    out = np.full(len(index), np.nan)
    if pos.size >= window:
        sxx, syy, sxy, flat_x, flat_y = _moments(sliding_window_view(x[pos], window),
                                                 sliding_window_view(y[pos], window))
        if name == "correlation":
            out[pos[window - 1:]] = _pearson(sxx, syy, sxy, flat_x | flat_y)
        else:
            out[pos[window - 1:]] = _slope(syy, sxy, flat_y)
    result = pd.Series(out, index=index, name=name, dtype="float64")
    result.attrs["window"] = int(window)
    if pos.size < window:
        result.attrs["reason"] = f"needs {window} observations, has {pos.size}"
    elif not np.isfinite(out).any():
        result.attrs["reason"] = "zero variance in every window"
    return result


def rolling_correlation(a: pd.Series, b: pd.Series, *, window: int) -> pd.Series:
    """Rolling Pearson correlation of two return series over the last ``window`` observations.

    Parameters
    ----------
    a, b : Series
        Returns (unitless), aligned on their common index (inner join).
    window : int, keyword-only
        Observations per window (>= 3). A window is ``window`` consecutive pairs where both returns are
        finite; rows where either is NaN get NaN and are skipped.

    Returns
    -------
    Series
        Correlation in [-1, 1] on the common index, named ``correlation``; NaN until a full window (and
        for a window where either series has zero variance). Too-short input: all NaN with
        ``attrs["reason"]`` (e.g. "needs 30 observations, has 12"). ``attrs["window"]`` = window.

    Raises
    ------
    ValueError
        ``window`` < 3 or not an integer.
    """
    return _rolling(a, b, window, "correlation")


def rolling_beta(a: pd.Series, b: pd.Series, *, window: int) -> pd.Series:
    """Rolling beta of ``a`` on ``b``: ``cov(a, b) / var(b)`` over the last ``window`` observations.

    Same windows, alignment and NaN rules as ``rolling_correlation``; beta is in units of a per unit of b
    (the hedge ratio in notional: short ``beta`` of b per 1 of a). NaN where ``b`` has zero variance.
    """
    return _rolling(a, b, window, "beta")


# ---------------------------------------------------------------------------------------------------------
# Point estimates


@dataclass(frozen=True)
class Estimate:
    """A statistic over a window of observations.

    ``value`` is NaN (and ``reason`` says why) when the window is too short or degenerate; ``n``, ``start``
    and ``end`` then describe what was available (``None`` when nothing was).
    """

    value: float
    n: int  # observations (pairs with both returns finite) in the window
    start: pd.Timestamp | None  # index of the window's first observation
    end: pd.Timestamp | None  # ... and of its last
    reason: str | None  # why ``value`` is NaN; None when it is a number

    def as_dict(self) -> dict[str, object]:
        return {"value": self.value, "n": self.n, "start": self.start, "end": self.end, "reason": self.reason}


def _stop(index: pd.Index, end: pd.Timestamp | None) -> int:
    """Position after the last index value at or before ``end`` (a naive ``end`` is taken as UTC)."""
    if end is None:
        return len(index)
    t: Any = end
    if isinstance(index, pd.DatetimeIndex):
        t = pd.Timestamp(end)
        if index.tz is not None and t.tzinfo is None:
            t = t.tz_localize("UTC")
    return int(index.searchsorted(t, side="right"))


def _window(a: pd.Series, b: pd.Series, window: int | None, end: pd.Timestamp | None
            ) -> tuple[np.ndarray, np.ndarray, pd.Index, str | None]:
    if window is not None:
        _check_window(window)
    index, x, y = _pair(a, b)
    stop = _stop(index, end)
    x, y, index = x[:stop], y[:stop], index[:stop]
    ok = np.isfinite(x) & np.isfinite(y)
    x, y, index = x[ok], y[ok], index[ok]
    need = MIN_OBSERVATIONS if window is None else int(window)
    if x.size < need:
        where = "" if end is None else f" at or before {end}"
        return x, y, index, f"needs {need} observations{where}, has {x.size}"
    if window is not None:
        x, y, index = x[-window:], y[-window:], index[-window:]
    return x, y, index, None


def _estimate(value: float, index: pd.Index, reason: str | None) -> Estimate:
    n = len(index)
    return Estimate(value=float("nan") if reason else float(value), n=n,
                    start=index[0] if n else None, end=index[-1] if n else None, reason=reason)


def _zero_variance(a: pd.Series, b: pd.Series, flat_x: bool, flat_y: bool) -> str | None:
    names = [str(s.name) if s.name is not None else w for s, w, f in ((a, "a", flat_x), (b, "b", flat_y)) if f]
    return f"zero variance of {' and '.join(names)} over the window" if names else None


def correlation(a: pd.Series, b: pd.Series, *, window: int | None = None, end: pd.Timestamp | None = None
                ) -> Estimate:
    """Pearson correlation of two return series over one window.

    Parameters
    ----------
    a, b : Series
        Returns (unitless) on a common index (inner join; pairs with a NaN are skipped).
    window : int, keyword-only
        The last ``window`` observations (>= 3) ending at or before ``end``; None: all of them (>= 3).
    end : Timestamp, keyword-only
        Last index value the window may use; None: the last observation.

    Returns
    -------
    Estimate
        ``value`` in [-1, 1]; NaN with a ``reason`` when fewer observations exist than needed or either
        series has zero variance over the window.
    """
    x, y, index, reason = _window(a, b, window, end)
    value = float("nan")
    if reason is None:
        sxx, syy, sxy, fx, fy = _moments(x, y)
        reason = _zero_variance(a, b, bool(fx), bool(fy))
        value = float(_pearson(sxx, syy, sxy, fx | fy))
    return _estimate(value, index, reason)


def beta(a: pd.Series, b: pd.Series, *, window: int | None = None, end: pd.Timestamp | None = None) -> Estimate:
    """Beta of ``a`` on ``b`` = ``cov(a, b) / var(b)`` over one window (as ``correlation``).

    ``value`` is in units of a per unit of b; NaN with a reason when ``b`` has zero variance.
    """
    x, y, index, reason = _window(a, b, window, end)
    value = float("nan")
    if reason is None:
        _, syy, sxy, _, fy = _moments(x, y)
        reason = _zero_variance(a, b, False, bool(fy))
        value = float(_slope(syy, sxy, fy))
    return _estimate(value, index, reason)


def residual_std(a: pd.Series, b: pd.Series, *, window: int | None = None, end: pd.Timestamp | None = None
                 ) -> Estimate:
    """Standard deviation of ``a - beta * b`` over one window: what a beta hedge leaves.

    ``beta`` is ``beta(a, b)`` over the same window. The value is the sample std (ddof = 1) per
    observation, in a's return units (log return per bar; not annualized), so
    ``residual_std**2 == var(a) * (1 - corr**2)``. NaN with a reason as ``beta``.
    """
    x, y, index, reason = _window(a, b, window, end)
    value = float("nan")
    if reason is None:
        _, syy, sxy, _, fy = _moments(x, y)
        reason = _zero_variance(a, b, False, bool(fy))
        if reason is None:
            value = float(np.std(x - float(sxy / syy) * y, ddof=1))
    return _estimate(value, index, reason)


# ---------------------------------------------------------------------------------------------------------
# Band and matrix


def correlation_band(corr: pd.Series, *, lookback: int, min_obs: int, k: float = 2.0) -> pd.DataFrame:
    """The rolling correlation's own long-run band, judged on history only.

    Parameters
    ----------
    corr : Series
        A rolling correlation (``rolling_correlation``).
    lookback : int, keyword-only
        Trailing observations BEFORE each point (the point itself is excluded, so a break is measured
        against the past, not against itself); e.g. 252 sessions = one year of trading days.
    min_obs : int, keyword-only
        Past finite correlations needed in the lookback (>= 2, <= lookback); NaN before.
    k : float, keyword-only
        Half-width in standard deviations (>= 0).

    Returns
    -------
    DataFrame
        ``BAND_COLUMNS`` on ``corr.index``: ``mean`` and ``std`` (sample, ddof = 1) of the past values,
        ``lo = mean - k * std`` and ``hi = mean + k * std`` (correlation units). All NaN with
        ``attrs["reason"]`` when no point has ``min_obs`` past values.
    """
    if int(min_obs) != min_obs or min_obs < 2 or int(lookback) != lookback or lookback < min_obs:
        raise ValueError(f"need integers 2 <= min_obs <= lookback, got min_obs={min_obs!r}, lookback={lookback!r}")
    if not (np.isfinite(k) and k >= 0):
        raise ValueError(f"k must be a finite number of standard deviations >= 0, not {k!r}")
    past = pd.Series(as_float(corr), index=corr.index).shift(1)
    roll = past.rolling(int(lookback), min_periods=int(min_obs))
    mean, std = roll.mean(), roll.std(ddof=1)
    out = pd.DataFrame({"mean": mean, "std": std, "lo": mean - k * std, "hi": mean + k * std},
                       index=corr.index, dtype="float64")
    out.attrs.update(lookback=int(lookback), min_obs=int(min_obs), k=float(k))
    if not np.isfinite(out["mean"].to_numpy()).any():
        have = int(np.isfinite(past.to_numpy()).sum())
        out.attrs["reason"] = f"needs {min_obs} past correlations, has {have}"
    return out


def correlation_matrix(returns: pd.DataFrame, *, window: int, end: pd.Timestamp | None = None) -> pd.DataFrame:
    """Pearson correlation of every pair of columns over the last ``window`` rows ending at ``end``.

    Parameters
    ----------
    returns : DataFrame
        Returns (unitless), one column per series (``aligned_returns``).
    window : int, keyword-only
        Rows (>= 3); each pair uses the rows of the window where both are finite (at least 3).
    end : Timestamp, keyword-only
        Last index value used; None: the last row.

    Returns
    -------
    DataFrame
        Square, columns x columns, values in [-1, 1] (1 on the diagonal); NaN for a pair with fewer than
        3 finite rows or zero variance. ``attrs``: ``n`` (rows in the window), ``start``, ``end``,
        ``window``, ``reason`` (None, or why everything is NaN: fewer rows than ``window``).
    """
    _check_window(window)
    cols = list(returns.columns)
    rows = returns.iloc[:_stop(returns.index, end)]
    tail = rows.iloc[-int(window):] if len(rows) >= window else rows
    out = np.full((len(cols), len(cols)), np.nan)
    reason: str | None = f"needs {window} rows, has {len(rows)}" if len(rows) < window else None
    if reason is None:
        values = tail.to_numpy(dtype="float64", na_value=np.nan)
        finite = np.isfinite(values)
        for i in range(len(cols)):
            for j in range(i, len(cols)):
                ok = finite[:, i] & finite[:, j]
                if ok.sum() >= MIN_OBSERVATIONS:
                    sxx, syy, sxy, fx, fy = _moments(values[ok, i], values[ok, j])
                    out[i, j] = out[j, i] = float(_pearson(sxx, syy, sxy, fx | fy))
    matrix = pd.DataFrame(out, index=pd.Index(cols), columns=pd.Index(cols), dtype="float64")
    matrix.attrs = {"n": len(tail), "start": tail.index[0] if len(tail) else None,
                    "end": tail.index[-1] if len(tail) else None, "window": int(window), "reason": reason}
    return matrix


# ---------------------------------------------------------------------------------------------------------
# Decoupling flags (seed 001, table 1)


def empty_episodes() -> pd.DataFrame:
    """An episodes frame with no rows and the right dtypes (``EPISODE_COLUMNS``)."""
    none = np.zeros(0, dtype=np.int64)
    return _episode_frame("", "", "", pd.DatetimeIndex([], tz="UTC").as_unit("ns"), none, none)


def _episode_frame(flag: str | np.ndarray, asset: str, proxy: str, index: pd.Index, starts: np.ndarray,
                   ends: np.ndarray, **values: np.ndarray) -> pd.DataFrame:
    """Episodes from run positions (``starts``/``ends`` into ``index``); missing value columns are NaN."""
    n = len(starts)
    flags = np.full(n, flag, dtype=object) if isinstance(flag, str) else np.asarray(flag, dtype=object)
    data: dict[str, Any] = {
        "flag": pd.array(flags, dtype="str"),
        "asset": pd.array(np.full(n, asset, dtype=object), dtype="str"),
        "proxy": pd.array(np.full(n, proxy, dtype=object), dtype="str"),
        "start": index[starts],
        "end": index[ends],
        "observations": (ends - starts + 1).astype(np.int64),
        "active": ends == len(index) - 1,
    }
    for col in EPISODE_COLUMNS[7:]:
        data[col] = np.asarray(values.get(col, np.full(n, np.nan)), dtype="float64")
    return pd.DataFrame(data, columns=list(EPISODE_COLUMNS))


def _no_episodes(reason: str) -> pd.DataFrame:
    out = empty_episodes()
    out.attrs["reason"] = reason
    return out


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First and last positions of each maximal run of True."""
    edges = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1


def _k_moves(x: np.ndarray, k: int) -> np.ndarray:
    """Sum of the trailing ``k`` values at each position (NaN before k values or with a NaN among them)."""
    out = np.full(x.size, np.nan)
    if x.size >= k:
        out[k - 1:] = sliding_window_view(x, k).sum(axis=1)
    return out


def _check_moves(k: int, **thresholds: float) -> None:
    if int(k) != k or k < 1:
        raise ValueError(f"k must be an integer >= 1 observations, not {k!r}")
    for name, value in thresholds.items():
        if not (np.isfinite(value) and value >= 0):
            raise ValueError(f"{name} must be a finite fraction >= 0, not {value!r}")


def _move_episodes(flag: str, a: pd.Series, b: pd.Series, k: int, rule: Any, asset: str, proxy: str
                   ) -> pd.DataFrame:
    index, x, y = _pair(a, b)
    if len(index) < k:
        return _no_episodes(f"needs {k} observations, has {len(index)}")
    mx, my = _k_moves(x, int(k)), _k_moves(y, int(k))
    with np.errstate(invalid="ignore"):
        starts, ends = _runs(rule(mx, my) & np.isfinite(mx) & np.isfinite(my))
    return _episode_frame(flag, asset, proxy, index, starts, ends, asset_move=mx[starts], proxy_move=my[starts])


def flight_to_safety(asset_returns: pd.Series, gold_returns: pd.Series, *, k: int, asset_drop: float,
                     gold_rise: float, asset: str = "BTC", proxy: str = "Gold") -> pd.DataFrame:
    """Episodes where the asset falls while gold rises over the same k observations (seed 001, table 1).

    Parameters
    ----------
    asset_returns, gold_returns : Series
        Log returns on a common index (e.g. ``aligned_returns`` columns).
    k : int, keyword-only
        Observations (>= 1) each move is measured over: the trailing k returns, summed.
    asset_drop, gold_rise : float, keyword-only
        Fractions >= 0 (log): the rule holds at an observation when the asset's k-move <= -asset_drop and
        gold's k-move >= +gold_rise.
    asset, proxy : str, keyword-only
        Names for the frame.

    Returns
    -------
    DataFrame
        ``EPISODE_COLUMNS``, flag ``flight_to_safety``, one row per maximal run of observations where the
        rule holds; ``asset_move``/``proxy_move`` are the k-moves at the episode's start (log). Fewer than
        k observations: no rows and ``attrs["reason"]``.
    """
    _check_moves(k, asset_drop=asset_drop, gold_rise=gold_rise)

    def rule(mx: np.ndarray, my: np.ndarray) -> np.ndarray:
        return (mx <= -asset_drop + _COMPARE_TOLERANCE) & (my >= gold_rise - _COMPARE_TOLERANCE)

    return _move_episodes("flight_to_safety", asset_returns, gold_returns, k, rule, asset, proxy)


def risk_rotation(asset_returns: pd.Series, index_returns: pd.Series, *, k: int, flat: float,
                  index_drop: float, asset: str = "BTC", proxy: str = "Nasdaq-100") -> pd.DataFrame:
    """Episodes where the asset trades sideways while the equity index falls (seed 001, table 1).

    The rule holds when ``|asset k-move| <= flat`` and the index's k-move ``<= -index_drop`` (fractions,
    log, >= 0). Otherwise as ``flight_to_safety`` (flag ``risk_rotation``).
    """
    _check_moves(k, flat=flat, index_drop=index_drop)

    def rule(mx: np.ndarray, my: np.ndarray) -> np.ndarray:
        return (np.abs(mx) <= flat + _COMPARE_TOLERANCE) & (my <= -index_drop + _COMPARE_TOLERANCE)

    return _move_episodes("risk_rotation", asset_returns, index_returns, k, rule, asset, proxy)


Runs = tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]  # starts, ends, value columns


def _band_exits(c: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> Runs:
    with np.errstate(invalid="ignore"):
        outside = np.fmax(c - hi, lo - c)  # > 0 outside the band; NaN where corr or band is missing
        mask = outside > 0
    members = np.flatnonzero(mask)
    starts, ends = _runs(mask)
    # the member farthest outside the band in each run: sort members by (run, -distance), take each first
    run = np.searchsorted(starts, members, side="right") - 1
    order = np.lexsort((-outside[members], run))
    firsts = np.flatnonzero(np.diff(run[order], prepend=-1))
    extreme = c[members[order][firsts]]
    return starts, ends, {"corr_start": c[starts], "corr_extreme": extreme, "band_lo": lo[starts],
                          "band_hi": hi[starts]}


def _sign_changes(c: np.ndarray, lo: np.ndarray, hi: np.ndarray, threshold: float, hold: int | None) -> Runs:
    # Hysteresis: the state is +1 once corr reaches +threshold and stays so until it reaches -threshold.
    with np.errstate(invalid="ignore"):
        state = np.where(c >= threshold, 1.0, np.where(c <= -threshold, -1.0, np.nan))
    known = np.flatnonzero(np.isfinite(state))
    # forward-fill the state: each position takes the latest decided state at or before it
    at = np.searchsorted(known, np.arange(c.size), side="right") - 1
    s = np.where(at >= 0, state[known[np.maximum(at, 0)]], np.nan) if known.size else state
    prev = np.concatenate(([np.nan], s[:-1]))
    starts = np.flatnonzero(np.isfinite(prev) & (s != prev))
    ends = np.append(starts[1:] - 1, c.size - 1).astype(np.int64) if starts.size else starts
    if hold is not None and starts.size:
        ends = np.minimum(ends, starts + hold - 1)
    if starts.size:
        high, low = np.fmax.reduceat(c, starts), np.fmin.reduceat(c, starts)
        extreme = np.where(np.abs(high) >= np.abs(low), high, low)
    else:
        extreme = np.zeros(0)
    return starts, ends, {"corr_start": c[starts], "corr_extreme": extreme, "band_lo": lo[starts],
                          "band_hi": hi[starts]}


def correlation_breaks(corr: pd.Series, band: pd.DataFrame, *, sign_threshold: float, asset: str, proxy: str,
                       sign_hold: int | None = None) -> pd.DataFrame:
    """Episodes where a rolling correlation leaves its own band or changes sign (seed 001, table 1).

    Parameters
    ----------
    corr : Series
        Rolling correlation (``rolling_correlation``).
    band : DataFrame
        ``correlation_band(corr, ...)`` (columns ``lo``/``hi``; aligned to ``corr.index``).
    sign_threshold : float, keyword-only
        In [0, 1): the sign state becomes + once corr >= +threshold and - once corr <= -threshold;
        values in between keep the previous state, so wiggles around zero are no sign change.
    asset, proxy : str, keyword-only
        Names for the frame.
    sign_hold : int, keyword-only
        A sign change is news for this many observations (e.g. the rolling window: by then every return in
        the window is from the new regime); its episode ends then, or at the next flip if sooner. None: it
        lasts until the next flip.

    Returns
    -------
    DataFrame
        ``EPISODE_COLUMNS``, ordered by start:

        - ``band_exit``: maximal runs where corr is outside ``[lo, hi]`` (a finite band only);
          ``corr_extreme`` is the value farthest outside the band.
        - ``sign_change``: each flip of the sign state starts an episode lasting until the next flip or the
          end, at most ``sign_hold`` observations (the first state, the sign of the first corr beyond
          ±threshold, starts none);
          ``corr_start`` is corr at the flip, ``corr_extreme`` the value farthest from zero in the episode.

        ``band_lo``/``band_hi`` are the band at each episode's start; the move columns are NaN. No finite
        correlation: no rows and ``attrs["reason"]``.
    """
    if not (np.isfinite(sign_threshold) and 0 <= sign_threshold < 1):
        raise ValueError(f"sign_threshold must be in [0, 1), not {sign_threshold!r}")
    c = as_float(corr)
    if not np.isfinite(c).any():
        return _no_episodes(corr.attrs.get("reason") or "no correlation values")
    aligned = band.reindex(corr.index)
    lo, hi = as_float(aligned["lo"]), as_float(aligned["hi"])
    parts = {"band_exit": _band_exits(c, lo, hi), "sign_change": _sign_changes(c, lo, hi, float(sign_threshold),
                                                                                sign_hold)}
    flags = np.concatenate([np.full(len(st), f, dtype=object) for f, (st, _, _) in parts.items()])
    starts = np.concatenate([st for st, _, _ in parts.values()]).astype(np.int64)
    ends = np.concatenate([en for _, en, _ in parts.values()]).astype(np.int64)
    values = {col: np.concatenate([v[col] for _, _, v in parts.values()]) for col in EPISODE_COLUMNS[9:]}
    order = np.lexsort((flags.astype(str), starts))  # by start, then flag
    return _episode_frame(flags[order], asset, proxy, corr.index, starts[order], ends[order],
                          **{col: v[order] for col, v in values.items()})


def _combine(parts: list[pd.DataFrame]) -> pd.DataFrame:
    parts = [p for p in parts if len(p)]
    if not parts:
        return empty_episodes()
    out = pd.concat(parts, ignore_index=True)
    return out.sort_values(["start", "flag"], kind="stable").reset_index(drop=True)


def rule_text(flag: str, *, asset: str, proxy: str, **params: float) -> str:
    """``RULES[flag]`` filled with the names and ``params`` over ``DEFAULTS`` (counts shown as integers)."""
    if flag not in RULES:
        raise ValueError(f"flag must be one of {tuple(RULES)}, not {flag!r}")
    values = {name: int(v) if name in _COUNT_PARAMS and float(v).is_integer() else v
              for name, v in {**DEFAULTS, **params}.items()}
    return RULES[flag].format(asset=asset, proxy=proxy, **values)


def all_flags(returns: pd.DataFrame, *, asset: str, gold: str | None = None, index: str | None = None,
              params: Mapping[str, float] | None = None) -> pd.DataFrame:
    """Every decoupling flag of ``asset`` against the gold and the equity-index columns of ``returns``.

    Parameters
    ----------
    returns : DataFrame
        ``aligned_returns`` frame holding the ``asset``, ``gold`` and ``index`` columns.
    asset, gold, index : str, keyword-only
        Column names; a proxy left None is skipped.
    params : mapping, keyword-only
        Overrides of ``DEFAULTS``. Without ``band_lookback``, a calendar-aligned frame
        (``attrs["alignment_kind"] == "calendar"``) uses ``band_lookback_calendar``.

    Returns
    -------
    DataFrame
        ``EPISODE_COLUMNS`` plus ``rule`` (the filled ``RULES`` text), ordered by start.
    """
    p: dict[str, float] = {**DEFAULTS, **(params or {})}
    if "band_lookback" not in (params or {}) and returns.attrs.get("alignment_kind") == "calendar":
        p["band_lookback"] = p["band_lookback_calendar"]
    a = returns[asset]
    parts = []
    for proxy, moves in ((gold, "gold"), (index, "index")):
        if proxy is None:
            continue
        b = returns[proxy]
        if moves == "gold":
            parts.append(flight_to_safety(a, b, k=int(p["k"]), asset_drop=p["asset_drop"], gold_rise=p["gold_rise"],
                                          asset=asset, proxy=proxy))
        else:
            parts.append(risk_rotation(a, b, k=int(p["k"]), flat=p["flat"], index_drop=p["index_drop"],
                                       asset=asset, proxy=proxy))
        corr = rolling_correlation(a, b, window=int(p["window"]))
        band = correlation_band(corr, lookback=int(p["band_lookback"]), min_obs=int(p["band_min_obs"]),
                                k=p["band_k"])
        parts.append(correlation_breaks(corr, band, sign_threshold=p["sign_threshold"], asset=asset, proxy=proxy,
                                        sign_hold=int(p["window"])))
    out = _combine(parts)
    out["rule"] = pd.Series([rule_text(f, asset=s, proxy=x, **p)
                             for f, s, x in zip(out["flag"], out["asset"], out["proxy"], strict=True)],
                            index=out.index, dtype="object")
    return out
