"""Basis, term structure and perp premium (DOMAIN.md "Term structure and basis", "Perpetual premium").

Every function is pure and vectorized: arguments may be scalars, ndarrays or pandas Series and the answer
comes back in the same shape (see ``analytics._arrays``). Rates and percentages are *fractions*
(0.0385 means 3.85 %). Prices are in the contract's quote currency. Invalid inputs (a price that is NaN,
zero or negative, a non-positive time to expiry) give NaN, never an invented number.
"""

from __future__ import annotations

import calendar
from typing import Literal, TypeAlias

import numpy as np
import pandas as pd

from analytics._arrays import ArrayLike, Result, as_float, positive, wrap

DAYS_PER_YEAR = 365.0  # ACT/365: crypto trades every calendar day
SECONDS_PER_DAY = 86_400.0
# Annualized figures explode as expiry nears (a 0.1 % basis 1 day out is 36 % a year): contracts this close
# are flagged and never set the curve label or a chart's range.
NEAR_EXPIRY_DAYS = 3.0
QUARTERLY_MONTHS = (3, 6, 9, 12)
FRIDAY = 4  # datetime.weekday()

CONTANGO = "contango"
BACKWARDATION = "backwardation"
FLAT = "flat"
CarryLabel = Literal["contango", "backwardation", "flat"]

DatetimeLike: TypeAlias = pd.Timestamp | pd.Series | pd.DatetimeIndex | np.ndarray | str | None


def basis(future: ArrayLike, spot: ArrayLike) -> Result:
    """Outright basis ``F - S``.

    Parameters
    ----------
    future : float or array-like
        Future (or perp) price F, quote currency.
    spot : float or array-like
        Spot / index price S, same quote currency.

    Returns
    -------
    float, ndarray or Series
        ``F - S`` in quote currency; NaN where either price is missing, zero or negative.
    """
    f, s = as_float(future), as_float(spot)
    ok = positive(f) & positive(s)
    with np.errstate(invalid="ignore"):
        out = np.where(ok, f - s, np.nan)
    return wrap(out, future, spot, name="basis")


def basis_pct(future: ArrayLike, spot: ArrayLike) -> Result:
    """Relative basis ``F / S - 1`` as a fraction (0.0385 = 3.85 %).

    NaN where either price is missing, zero or negative.
    """
    f, s = as_float(future), as_float(spot)
    ok = positive(f) & positive(s)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(ok, f / np.where(ok, s, 1.0) - 1.0, np.nan)
    return wrap(out, future, spot, name="basis_pct")


def _as_utc(x: DatetimeLike, what: str) -> pd.Timestamp | pd.Series:
    """``x`` as tz-aware UTC timestamps; naive input is refused (it hides a local-time bug)."""
    if isinstance(x, pd.Series | pd.DatetimeIndex | np.ndarray | list):
        s = pd.Series(pd.to_datetime(x)) if not isinstance(x, pd.Series) else pd.to_datetime(x)
        if s.dt.tz is None:
            if s.notna().any():
                raise ValueError(f"{what} must be tz-aware (UTC); got naive datetimes")
            s = s.dt.tz_localize("UTC")
        return s.dt.tz_convert("UTC")
    t = pd.Timestamp(x) if x is not None else pd.NaT
    if t is pd.NaT:
        return t
    if t.tz is None:
        raise ValueError(f"{what} must be tz-aware (UTC); got naive {t!r}")
    return t.tz_convert("UTC")


def days_to_expiry(expiry: DatetimeLike, *, now: pd.Timestamp) -> Result:
    """Fractional days from ``now`` to ``expiry``: ``(T - now) / 86400 s``.

    Parameters
    ----------
    expiry : Timestamp, Series, DatetimeIndex or array of datetimes
        Expiry time(s) T, tz-aware. NaT (a perp) gives NaN.
    now : Timestamp
        The data clock, tz-aware (never a naive ``datetime.now()``).

    Returns
    -------
    float, ndarray or Series
        Days (may be negative once expired; ``annualized_basis`` treats <= 0 as NaN).

    Raises
    ------
    ValueError
        If ``now`` or ``expiry`` is tz-naive.
    """
    t_now = _as_utc(now, "now")
    if t_now is pd.NaT:
        raise ValueError("now must be a timestamp, not NaT")
    t_exp = _as_utc(expiry, "expiry")
    if isinstance(t_exp, pd.Series):
        days = ((t_exp - t_now) / pd.Timedelta(seconds=1)).to_numpy(dtype="float64", na_value=np.nan)
        days = days / SECONDS_PER_DAY
        if isinstance(expiry, pd.Series):
            return pd.Series(days, index=expiry.index, name="days_to_expiry")
        return days
    if t_exp is pd.NaT:
        return float("nan")
    return float((t_exp - t_now) / pd.Timedelta(seconds=1)) / SECONDS_PER_DAY


def annualized_basis(future: ArrayLike, spot: ArrayLike, days: ArrayLike, *, compounded: bool = False
                     ) -> Result:
    """Annualized basis (ACT/365): the carry a cash-and-carry position earns per year.

    Parameters
    ----------
    future, spot : float or array-like
        F and S, same quote currency.
    days : float or array-like
        Days to expiry (fractional), e.g. from ``days_to_expiry``.
    compounded : bool, keyword-only
        False (default): simple, ``basis_pct * 365 / days``.
        True: compounded, ``(F / S) ** (365 / days) - 1``.

    Returns
    -------
    float, ndarray or Series
        Fraction per year (0.15 = 15 % a year). NaN where a price is invalid or ``days <= 0``. Values
        explode near expiry: see ``is_near_expiry``.
    """
    f, s, d = as_float(future), as_float(spot), as_float(days)
    ok = positive(f) & positive(s) & positive(d)
    f, s, d = np.broadcast_arrays(f, s, d)
    ok = np.broadcast_to(ok, f.shape)
    safe_s = np.where(ok, s, 1.0)
    safe_d = np.where(ok, d, 1.0)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        if compounded:
            out = np.power(np.where(ok, f, 1.0) / safe_s, DAYS_PER_YEAR / safe_d) - 1.0
        else:
            out = (np.where(ok, f, 1.0) / safe_s - 1.0) * DAYS_PER_YEAR / safe_d
    out = np.where(ok, out, np.nan)
    return wrap(out, future, spot, days, name="annualized_basis")


def implied_rate(future: ArrayLike, spot: ArrayLike, days: ArrayLike) -> Result:
    """Implied carry rate of a dated future: its simple annualized basis (fraction per year)."""
    return annualized_basis(future, spot, days, compounded=False)


def fair_value(spot: ArrayLike, *, rate: float, days: ArrayLike) -> Result:
    """Cost-of-carry fair value ``F* = S * (1 + r * t / 365)`` (seed 002).

    Parameters
    ----------
    spot : float or array-like
        Spot / index price S.
    rate : float, keyword-only
        User-set annual carry rate r, fraction (0.05 = 5 % a year), simple, ACT/365.
    days : float or array-like, keyword-only
        Days to expiry t. Negative days give NaN.

    Returns
    -------
    float, ndarray or Series
        Fair future price, quote currency.
    """
    s, d = as_float(spot), as_float(days)
    with np.errstate(invalid="ignore"):
        ok = positive(s) & np.isfinite(d) & (d >= 0) & np.isfinite(rate)
        out = np.where(ok, s * (1.0 + rate * d / DAYS_PER_YEAR), np.nan)
    return wrap(out, spot, days, name="fair_value")


def perp_premium(perp: ArrayLike, index: ArrayLike) -> Result:
    """Perpetual premium ``(Fp - I) / I`` as a fraction; > 0 premium (longs crowded), < 0 discount.

    Parameters
    ----------
    perp : float or array-like
        Perp price Fp (mark by default on pages, or last), quote currency.
    index : float or array-like
        The exchange's index price I at the same timestamp(s).
    """
    out = basis_pct(perp, index)
    if isinstance(out, pd.Series):
        out.name = "premium"
    return out


def is_near_expiry(days: ArrayLike, *, threshold_days: float = NEAR_EXPIRY_DAYS
                   ) -> np.ndarray | pd.Series | bool:
    """True where ``days <= threshold_days``: annualized figures explode there (flag, don't chart).

    Parameters
    ----------
    days : float or array-like
        Days to expiry. Already expired (``days <= 0``) counts as near; NaN (a perp) does not.
    threshold_days : float, keyword-only
        Days, default ``NEAR_EXPIRY_DAYS`` (3).
    """
    d = as_float(days)
    with np.errstate(invalid="ignore"):
        out = np.isfinite(d) & (d <= threshold_days)
    if isinstance(days, pd.Series):
        return pd.Series(out, index=days.index, name="near_expiry")
    return bool(out) if np.ndim(days) == 0 else out


def carry_label(basis_values: ArrayLike, *, flat_tolerance: float = 0.0
                ) -> str | None | np.ndarray | pd.Series:
    """Contango / backwardation label per contract from the sign of its basis.

    Parameters
    ----------
    basis_values : float or array-like
        ``basis`` or ``basis_pct`` (only the sign matters).
    flat_tolerance : float, keyword-only
        ``|basis| <= flat_tolerance`` is labelled "flat" (same unit as ``basis_values``).

    Returns
    -------
    str or None, or an object array/Series of them
        "contango" (F > S), "backwardation" (F < S), "flat"; None where the basis is NaN.
    """
    b = as_float(basis_values)
    labels = np.full(b.shape, None, dtype=object)
    with np.errstate(invalid="ignore"):
        labels[b > flat_tolerance] = CONTANGO
        labels[b < -flat_tolerance] = BACKWARDATION
        labels[np.isfinite(b) & (np.abs(b) <= flat_tolerance)] = FLAT
    if isinstance(basis_values, pd.Series):
        return pd.Series(labels, index=basis_values.index, name="carry", dtype=object)
    return labels.item() if np.ndim(basis_values) == 0 else labels


def curve_label(days: ArrayLike, basis_values: ArrayLike, *, min_days: float = NEAR_EXPIRY_DAYS,
                liquid: ArrayLike | None = None, flat_tolerance: float = 0.0) -> str | None:
    """Label of a whole curve: the sign of its longest liquid tenor (DOMAIN.md).

    Parameters
    ----------
    days : array-like
        Days to expiry per contract (NaN for perps, which are never the "longest tenor").
    basis_values : array-like
        ``basis`` or ``basis_pct`` per contract, aligned with ``days``.
    min_days : float, keyword-only
        Contracts with ``days <= min_days`` are too close to expiry to count as a liquid tenor.
    liquid : array of bool, optional, keyword-only
        Extra liquidity mask (e.g. volume above a floor); False rows are skipped.
    flat_tolerance : float, keyword-only
        Passed to ``carry_label``.

    Returns
    -------
    str or None
        "contango", "backwardation" or "flat"; None if no contract qualifies.
    """
    d = np.atleast_1d(as_float(days))
    b = np.atleast_1d(as_float(basis_values))
    if d.shape != b.shape:
        raise ValueError(f"days and basis_values differ in length: {d.shape} vs {b.shape}")
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(d) & (d > min_days) & np.isfinite(b)
    if liquid is not None:
        ok &= np.atleast_1d(np.asarray(liquid, dtype=bool))
    if not ok.any():
        return None
    longest = np.flatnonzero(ok)[np.argmax(d[ok])]
    label = carry_label(float(b[longest]), flat_tolerance=flat_tolerance)
    return label if isinstance(label, str) else None


def _is_quarterly(t: pd.Timestamp) -> bool:
    if t is pd.NaT or t.month not in QUARTERLY_MONTHS or t.weekday() != FRIDAY:
        return False
    return t.day + 7 > calendar.monthrange(t.year, t.month)[1]  # no Friday left in the month


def is_quarterly_expiry(expiry: DatetimeLike) -> bool | np.ndarray | pd.Series:
    """True for expiries on the quarterly calendar: the last Friday of Mar/Jun/Sep/Dec (UTC date).

    NaT (a perp) is False. Weeklies and monthlies that fall on that day *are* the quarterly contract
    (exchanges list one contract per expiry).
    """
    t = _as_utc(expiry, "expiry")
    if isinstance(t, pd.Series):
        out = np.array([_is_quarterly(x) for x in t], dtype=bool)
        if isinstance(expiry, pd.Series):
            return pd.Series(out, index=expiry.index, name="quarterly")
        return out
    return _is_quarterly(t)
