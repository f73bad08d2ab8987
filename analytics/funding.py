"""Funding-rate normalization and accumulation (DOMAIN.md "Funding").

A funding rate is a fraction of notional paid per funding interval of ``h`` hours; > 0 means longs pay
shorts (a short hedge receives it). Intervals differ by exchange and symbol (1, 4 or 8 h), so rates are
compared in 8h-equivalent units or annualized. Functions are pure and vectorized over scalars, ndarrays
and Series (same shape back). Invalid inputs (NaN, a non-positive interval) give NaN.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analytics._arrays import ArrayLike, Result, as_float, wrap

HOURS_PER_DAY = 24.0
HOURS_PER_YEAR = 24.0 * 365.0  # crypto funding settles every day of the year
STANDARD_INTERVAL_HOURS = 8.0  # the industry's common unit for comparing rates
# 0.01 % per 8 h is Binance's default interest component: above it, funding is "elevated" (seeds 000/004).
ELEVATED_RATE_8H = 0.0001
KNOWN_INTERVALS_HOURS: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0)


def _interval(interval_hours: ArrayLike) -> np.ndarray:
    h = as_float(interval_hours)
    with np.errstate(invalid="ignore"):
        return np.where(np.isfinite(h) & (h > 0), h, np.nan)


def rate_8h(rate: ArrayLike, interval_hours: ArrayLike) -> Result:
    """Rate in 8h-equivalent units: ``rate * 8 / h``.

    Parameters
    ----------
    rate : float or array-like
        Funding rate per interval, fraction (0.0001 = 0.01 %).
    interval_hours : float or array-like
        Funding interval h in hours (> 0).

    Returns
    -------
    float, ndarray or Series
        Fraction per 8 hours.
    """
    out = as_float(rate) * STANDARD_INTERVAL_HOURS / _interval(interval_hours)
    return wrap(out, rate, interval_hours, name="rate_8h")


def apr(rate: ArrayLike, interval_hours: ArrayLike) -> Result:
    """Simple annualized funding: ``rate * 24 * 365 / h`` (fraction per year).

    Parameters
    ----------
    rate : float or array-like
        Funding rate per interval, fraction.
    interval_hours : float or array-like
        Funding interval h in hours (> 0).
    """
    out = as_float(rate) * HOURS_PER_YEAR / _interval(interval_hours)
    return wrap(out, rate, interval_hours, name="apr")


def apy(rate: ArrayLike, interval_hours: ArrayLike) -> Result:
    """Compounded annualized funding: ``(1 + rate) ** (24 * 365 / h) - 1`` (fraction per year).

    NaN where ``rate <= -1`` (not a rate) or the interval is invalid; may overflow to +inf for absurd
    rates, which is the honest answer.
    """
    r, h = as_float(rate), _interval(interval_hours)
    with np.errstate(invalid="ignore", over="ignore"):
        ok = np.isfinite(r) & (r > -1.0)
        out = np.where(ok, np.power(np.where(ok, 1.0 + r, 1.0), HOURS_PER_YEAR / h) - 1.0, np.nan)
    return wrap(out, rate, interval_hours, name="apy")


def cumulative_funding(rates: ArrayLike, *, compounded: bool = False) -> Result:
    """Running cumulative funding over settled rates, in order.

    Parameters
    ----------
    rates : array-like
        Settled rates per interval (fractions), ascending in time. Do not pass Deribit's hourly rows of
        8h-equivalent rates: they are not per-settlement amounts.
    compounded : bool, keyword-only
        False: running sum ``cumsum(r)``. True: ``cumprod(1 + r) - 1``.

    Returns
    -------
    ndarray or Series
        Cumulative funding as a fraction of notional after each settlement (same length as ``rates``).
        A NaN rate (a missing settlement) adds nothing; positions before any valid rate are NaN.
    """
    r = np.atleast_1d(as_float(rates))
    valid = np.isfinite(r)
    filled = np.where(valid, r, 0.0)
    out = np.cumprod(1.0 + filled) - 1.0 if compounded else np.cumsum(filled)
    out = np.where(np.cumsum(valid) > 0, out, np.nan)
    return wrap(out, rates, name="cumulative_funding") if isinstance(rates, pd.Series) else out


def total_funding(rates: ArrayLike, *, compounded: bool = False) -> float:
    """Total funding over a window: ``sum(r)`` or ``prod(1 + r) - 1`` (fraction of notional).

    Paid on a notional N, the amount is ``N * total`` (a short receives it when > 0). NaN when the window
    holds no valid rate (not enough data); NaN rates are skipped.
    """
    r = np.atleast_1d(as_float(rates))
    r = r[np.isfinite(r)]
    if r.size == 0:
        return float("nan")
    return float(np.prod(1.0 + r) - 1.0) if compounded else float(np.sum(r))


def _to_epoch_hours(timestamps: ArrayLike | pd.DatetimeIndex) -> np.ndarray:
    if isinstance(timestamps, pd.DatetimeIndex) or (
        isinstance(timestamps, pd.Series) and pd.api.types.is_datetime64_any_dtype(timestamps)
    ):
        idx = pd.DatetimeIndex(timestamps).dropna()
        epoch = pd.Timestamp(0, tz=idx.tz)
        return np.asarray((idx - epoch) / pd.Timedelta(hours=1), dtype="float64")
    ms = as_float(timestamps)  # numbers are epoch milliseconds (ccxt's unit)
    return ms[np.isfinite(ms)] / 3_600_000.0


def infer_interval_hours(timestamps: ArrayLike | pd.DatetimeIndex, *,
                         snap_to: tuple[float, ...] = KNOWN_INTERVALS_HOURS,
                         tolerance: float = 0.1) -> float:
    """Funding interval inferred from the spacing of settlement times (for exchanges that omit it).

    Parameters
    ----------
    timestamps : DatetimeIndex, datetime Series, or array of epoch milliseconds
        Settlement times, any order; duplicates are ignored.
    snap_to : tuple of float, keyword-only
        Known intervals in hours; the median spacing snaps to one within ``tolerance`` (relative).
    tolerance : float, keyword-only
        Relative distance allowed for snapping (0.1 = 10 %).

    Returns
    -------
    float
        Hours. The median spacing is used, so a missing settlement (a double gap) does not move it. NaN
        for fewer than two distinct timestamps.
    """
    hours = np.unique(_to_epoch_hours(timestamps))
    if hours.size < 2:
        return float("nan")
    spacing = float(np.median(np.diff(hours)))
    for known in snap_to:
        if abs(spacing - known) <= tolerance * known:
            return float(known)
    return spacing
