"""Funding over a window, across exchanges and symbols: what the Funding page shows (DOMAIN.md "Funding").

Builds on ``analytics.funding`` (rate_8h, apr, apy, cumulative/total funding, interval inference) and adds
the frame-level pieces: per-row normalization to a display unit, cumulative P&L of a long and a short,
window statistics, cross-exchange spreads, flags and heatmap matrices.

Frames
------
A *history* frame is long: one row per funding settlement of one *series* (one perp on one exchange), with
at least ``series`` (the key), ``ts`` (UTC settlement time, ascending within a series), ``rate`` (per
interval, fraction; > 0: longs pay shorts) and ``interval_hours``. A settlement stamped ``ts`` pays for the
interval ``(ts - h, ts]``, so a window ``(start, end]`` holds exactly the settlements paying for it.
Deribit rows are hourly accruals (``interval_hours`` = 1, ``rate`` = the hour's accrual): every function
here treats them like any other 1h series, so they are summed once and never as 8h-equivalents.

Units (``UNITS``): ``interval`` (the rate as paid), ``8h`` (``rate * 8 / h``), ``apr`` (simple,
``rate * 24 * 365 / h``) and ``apy`` (compounded, ``(1 + rate) ** (24 * 365 / h) - 1``); all fractions.
Functions are pure and never mutate their inputs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from analytics import contracts
from analytics import funding as af
from analytics._arrays import ArrayLike, Result, as_float, wrap

UNITS: tuple[str, ...] = ("interval", "8h", "apr", "apy")
UNIT_LABELS: dict[str, str] = {
    "interval": "per interval",
    "8h": "per 8h",
    "apr": "APR (simple)",
    "apy": "APY (compounded)",
}
HOUR_MS = 3_600_000
# 0.1 % per 8 h (~110 % APR): ten times the seeds' warning level, where funding is "extreme", not merely
# elevated. Normal markets stay below it; squeezes and crashes go through it. Configurable on the page.
EXTREME_RATE_8H = 0.001
FLAG_LEVELS: tuple[str, ...] = (
    "extreme negative",
    "elevated negative",
    "normal",
    "elevated positive",
    "extreme positive",
)
# Which perp stands for an (exchange, base) pair when it lists several.
PERP_PREFERENCES: tuple[str, ...] = ("usdt", "coin", "all")

HISTORY_COLUMNS: tuple[str, ...] = (
    "series",  # display key: "<base> · <exchange>"
    "venue",
    "symbol",
    "base",
    "exchange",  # exchange label (with a margin tag when the exchange shows several perps of a base)
    "ts",  # settlement time (UTC)
    "rate",  # per interval, fraction
    "interval_hours",
    "interval_inferred",  # True where the interval was inferred from the spacing of ``ts``
)
META_COLUMNS: tuple[str, ...] = ("series", "venue", "symbol", "base", "exchange")

STATS_COLUMNS: tuple[str, ...] = (
    *META_COLUMNS,
    "interval_hours",  # the series' interval (NaN if it changed within the window)
    "interval_inferred",  # True if any of its intervals was inferred from timestamp spacing
    "periods",  # settlements in the window
    "expected",  # settlements the interval grid holds in the window (NaN without a window or one interval)
    "mean",  # in the chosen unit
    "median",
    "std",  # sample standard deviation (ddof 1); NaN below two periods
    "min",
    "max",
    "pct_positive",  # fraction of periods with rate > 0 (longs paid)
    "above",  # periods with rate_8h > +threshold
    "below",  # periods with rate_8h < -threshold
    "apr_mean",  # time-weighted mean as simple APR: sum(rate) * 8760 / sum(h)
    "apy_realized",  # compounded over the window, annualized: prod(1 + r) ** (8760 / sum(h)) - 1
    "flips",  # sign changes of the rate (zeros skipped)
    "last_flip",  # settlement time of the latest sign change (NaT if none)
)

SPREAD_COLUMNS: tuple[str, ...] = ("base", "highest", "highest_value", "lowest", "lowest_value", "spread", "n")


# Rates are compared with thresholds after rounding to 1e-12 (8h units): exchanges publish 8 decimals, and
# float noise (0.0001 * 4 / 4 * 8 / 4 ...) must not turn the common 0.01 % default into "elevated".
_COMPARE_DECIMALS = 12


def _rounded_8h(rate: np.ndarray, hours: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(af.rate_8h(rate, hours), dtype="float64"), _COMPARE_DECIMALS)


def _check_unit(unit: str) -> None:
    if unit not in UNITS:
        raise ValueError(f"unit must be one of {UNITS}, not {unit!r}")


def _hours(interval_hours: ArrayLike) -> np.ndarray:
    h = as_float(interval_hours)
    with np.errstate(invalid="ignore"):
        return np.where(np.isfinite(h) & (h > 0), h, np.nan)


# ---------------------------------------------------------------------------------------------------------
# Units


def normalize(rate: ArrayLike, interval_hours: ArrayLike, *, unit: str) -> Result:
    """A rate per interval expressed in ``unit``, row by row with each row's own interval.

    Parameters
    ----------
    rate : float or array-like
        Funding rate per interval, fraction.
    interval_hours : float or array-like
        Each rate's interval h in hours (> 0); Deribit's hourly accruals have h = 1.
    unit : {"interval", "8h", "apr", "apy"}, keyword-only
        ``interval`` returns the rate unchanged; the others call ``analytics.funding``.

    Returns
    -------
    float, ndarray or Series
        Fraction per interval, per 8 hours, or per year. NaN where the interval is invalid (except for
        ``interval``, which needs none) or the rate is NaN.
    """
    _check_unit(unit)
    if unit == "8h":
        return af.rate_8h(rate, interval_hours)
    if unit == "apr":
        return af.apr(rate, interval_hours)
    if unit == "apy":
        return af.apy(rate, interval_hours)
    return wrap(as_float(rate), rate, interval_hours, name="interval")


def denormalize(value: ArrayLike, interval_hours: ArrayLike, *, unit: str) -> Result:
    """The rate per interval of h hours that ``normalize`` turns into ``value`` (its inverse).

    ``8h``: ``value * h / 8``; ``apr``: ``value * h / 8760``; ``apy``: ``(1 + value) ** (h / 8760) - 1``
    (NaN where ``value <= -1``); ``interval``: unchanged. NaN where the interval is invalid.
    """
    _check_unit(unit)
    v, h = as_float(value), _hours(interval_hours)
    if unit == "interval":
        out = v
    elif unit == "8h":
        out = v * h / af.STANDARD_INTERVAL_HOURS
    elif unit == "apr":
        out = v * h / af.HOURS_PER_YEAR
    else:
        with np.errstate(invalid="ignore"):
            ok = np.isfinite(v) & (v > -1.0)
            out = np.where(ok, np.power(np.where(ok, 1.0 + v, 1.0), h / af.HOURS_PER_YEAR) - 1.0, np.nan)
    return wrap(out, value, interval_hours, name="rate")


def normalize_frame(hist: pd.DataFrame, *, unit: str) -> pd.DataFrame:
    """A copy of ``hist`` with a ``value`` column: each row's rate in ``unit`` using its own interval."""
    out = hist.copy()
    out["value"] = np.asarray(normalize(hist["rate"], hist["interval_hours"], unit=unit), dtype="float64")
    return out


def threshold_bands(threshold_8h: float, *, unit: str, intervals: Iterable[float]
                    ) -> list[tuple[tuple[float, ...], float, float]]:
    """The ``±threshold_8h`` band in ``unit`` for each funding interval shown.

    In 8h and APR units the band is one for all intervals; per interval it scales with h, and in APY the
    compounding frequency moves it slightly. Bands within 0.1 % of each other (relative) are merged.

    Returns
    -------
    list of (intervals, low, high)
        ``intervals`` are the hours sharing the band, ascending; ``low``/``high`` are fractions in ``unit``.
    """
    _check_unit(unit)
    hours = sorted({float(h) for h in intervals if np.isfinite(h) and h > 0}) or [af.STANDARD_INTERVAL_HOURS]
    bands: list[tuple[tuple[float, ...], float, float]] = []
    for h in hours:
        per_interval = threshold_8h * h / af.STANDARD_INTERVAL_HOURS
        lo = float(normalize(-per_interval, h, unit=unit))  # type: ignore[arg-type]
        hi = float(normalize(per_interval, h, unit=unit))  # type: ignore[arg-type]
        for i, (hs, blo, bhi) in enumerate(bands):
            if np.isclose(lo, blo, rtol=1e-3, atol=0.0) and np.isclose(hi, bhi, rtol=1e-3, atol=0.0):
                bands[i] = ((*hs, h), blo, bhi)
                break
        else:
            bands.append(((h,), lo, hi))
    return bands


# ---------------------------------------------------------------------------------------------------------
# Which perps, and their labels


def pick_perps(now: pd.DataFrame, *, prefer: str = "usdt") -> pd.DataFrame:
    """The perps that stand for each (venue, base) pair of a ``funding_now`` frame.

    Parameters
    ----------
    now : DataFrame
        Rows with ``venue``, ``base``, ``symbol``, ``quote``, ``linear`` (the facade's funding-now frame).
    prefer : {"usdt", "coin", "all"}, keyword-only
        ``usdt``: the linear perp, USDT before USDC before USD, else the venue's inverse one (Deribit,
        Binance COIN-M). ``coin``: the inverse (coin-margined) perp where listed, else the linear one.
        ``all``: every perp.

    Returns
    -------
    DataFrame
        The chosen rows in the input's column order, index reset.
    """
    if prefer not in PERP_PREFERENCES:
        raise ValueError(f"prefer must be one of {PERP_PREFERENCES}, not {prefer!r}")
    if now.empty or prefer == "all":
        return now.reset_index(drop=True)
    return contracts.primary_rows(now, by=("venue", "base"), prefer_linear=prefer == "usdt")


def margin_tag(linear: bool, settle: str) -> str:
    """Short margin label: ``USDT-M`` / ``USDC-M`` for linear perps, ``coin-M`` for inverse ones."""
    return f"{settle}-M" if linear else "coin-M"


def label_series(picked: pd.DataFrame, *, label: Callable[[str], str] = str,
                 venue_order: Sequence[str] = (), base_order: Sequence[str] = ()) -> pd.DataFrame:
    """Add ``exchange`` and ``series`` labels to chosen perps and order them by base, then venue.

    ``exchange`` is ``label(venue)``; when the venue shows several perps of one base (``prefer="all"``),
    every row of that venue gets its margin tag (``OKX · coin-M``) so rows stay distinct and consistent.
    ``series`` is ``"<base> · <exchange>"``. Order: ``base_order``, then ``venue_order``, linear first.
    """
    out = picked.copy()
    if out.empty:
        return out.assign(exchange=pd.Series(dtype="object"), series=pd.Series(dtype="object"))
    several = out.groupby(["venue", "base"])["symbol"].transform("size") > 1
    tagged_venues = set(out.loc[several, "venue"])
    out["exchange"] = [
        f"{label(v)} · {margin_tag(bool(lin), str(s))}" if v in tagged_venues else label(v)
        for v, lin, s in zip(out["venue"], out["linear"], out["settle"], strict=True)
    ]
    out["series"] = out["base"].astype(str) + " · " + out["exchange"]
    base_rank = {b: i for i, b in enumerate(base_order)}
    venue_rank = {v: i for i, v in enumerate(venue_order)}
    out = out.assign(
        _b=out["base"].map(base_rank).fillna(len(base_rank)),
        _v=out["venue"].map(venue_rank).fillna(len(venue_rank)),
        _inv=~out["linear"].astype(bool),  # the linear (primary) perp first within an exchange
    ).sort_values(["_b", "base", "_v", "venue", "_inv", "symbol"], kind="stable")
    return out.drop(columns=["_b", "_v", "_inv"]).reset_index(drop=True)


# ---------------------------------------------------------------------------------------------------------
# Histories


def empty_history() -> pd.DataFrame:
    """A history frame with no rows and the right dtypes."""
    return pd.DataFrame({
        "series": pd.Series(dtype="object"),
        "venue": pd.Series(dtype="object"),
        "symbol": pd.Series(dtype="object"),
        "base": pd.Series(dtype="object"),
        "exchange": pd.Series(dtype="object"),
        "ts": pd.Series(dtype="datetime64[ns, UTC]"),
        "rate": pd.Series(dtype="float64"),
        "interval_hours": pd.Series(dtype="float64"),
        "interval_inferred": pd.Series(dtype="bool"),
    })


def combine_histories(parts: Mapping[str, pd.DataFrame], meta: pd.DataFrame) -> pd.DataFrame:
    """One long history frame from per-series frames (``ts``, ``rate``, ``interval_hours`` each).

    Parameters
    ----------
    parts : mapping of series -> DataFrame
        The facade's ``funding_history`` frame of each series.
    meta : DataFrame
        Rows with ``META_COLUMNS`` (from ``label_series``); it sets the series order.

    Returns
    -------
    DataFrame
        ``HISTORY_COLUMNS``; sorted by the order of ``meta``, then ``ts``; intervals still missing are
        inferred per series (``fill_intervals``).
    """
    frames = []
    for row in meta.itertuples(index=False):
        part = parts.get(str(row.series))
        if part is None or part.empty:
            continue
        f = part[["ts", "rate", "interval_hours"]].copy()
        for col in META_COLUMNS:
            f[col] = getattr(row, col)
        f["interval_inferred"] = False
        frames.append(f)
    if not frames:
        return empty_history()
    hist = pd.concat(frames, ignore_index=True)
    hist = hist.drop_duplicates(["series", "ts"], keep="last").sort_values("ts", kind="stable")
    order = {s: i for i, s in enumerate(meta["series"])}
    hist = hist.assign(_o=hist["series"].map(order)).sort_values(["_o", "ts"], kind="stable").drop(columns="_o")
    return fill_intervals(hist.reset_index(drop=True)[list(HISTORY_COLUMNS)])


def fill_intervals(hist: pd.DataFrame) -> pd.DataFrame:
    """Fill missing ``interval_hours`` per series from the spacing of its settlements.

    Uses ``analytics.funding.infer_interval_hours`` (median spacing, snapped to 1/2/4/8 h) on each series'
    timestamps and sets ``interval_inferred`` on the rows it filled. A series with fewer than two
    settlements and no stated interval keeps NaN (not enough data).
    """
    out = hist.copy()
    if "interval_inferred" not in out.columns:
        out["interval_inferred"] = False
    missing = ~np.isfinite(out["interval_hours"].to_numpy(dtype="float64"))
    if not missing.any():
        return out
    for series in out.loc[missing, "series"].unique():
        rows = out["series"] == series
        inferred = af.infer_interval_hours(out.loc[rows, "ts"])
        fill = rows & missing
        out.loc[fill, "interval_hours"] = inferred
        out.loc[fill, "interval_inferred"] = bool(np.isfinite(inferred))
    return out


def clip_window(hist: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """Settlements paying for the window: ``start < ts <= end`` (a settlement at ``start`` pays for before)."""
    mask = (hist["ts"] > start) & (hist["ts"] <= end)
    return hist.loc[mask].reset_index(drop=True)


def expected_periods(start: pd.Timestamp, end: pd.Timestamp, interval_hours: float) -> float:
    """Settlements an ``interval_hours`` grid (anchored at 00:00 UTC) holds in ``(start, end]``.

    Exchanges settle on that grid (00/08/16 UTC for 8 h, every hour for 1 h). NaN for an invalid interval.
    """
    if not (np.isfinite(interval_hours) and interval_hours > 0):
        return float("nan")
    step = interval_hours * HOUR_MS
    start_ms = pd.Timestamp(start).value // 1_000_000
    end_ms = pd.Timestamp(end).value // 1_000_000
    return float(max(0, int(np.floor(end_ms / step)) - int(np.floor(start_ms / step))))


def sign_flips(rates: ArrayLike) -> tuple[int, int | None]:
    """Sign changes in a sequence of rates: (count, position of the latest flip or None).

    Zero and NaN rates carry no sign and are skipped: +, 0, + is no flip; +, 0, - is one, at the ``-``.
    """
    r = np.atleast_1d(as_float(rates))
    positions = np.flatnonzero(np.isfinite(r) & (r != 0))
    signs = np.sign(r[positions])
    changed = np.flatnonzero(signs[1:] != signs[:-1]) + 1
    if changed.size == 0:
        return 0, None
    return int(changed.size), int(positions[changed[-1]])


# ---------------------------------------------------------------------------------------------------------
# Cumulative


def cumulative_frame(hist: pd.DataFrame, *, compounded: bool = False, notional: float = 1.0) -> pd.DataFrame:
    """Running funding of each series over its settlements, for a long and a short.

    ``cum`` follows DOMAIN.md: ``cumsum(r)`` (simple) or ``cumprod(1 + r) - 1`` (compounded), the fraction of
    notional longs paid and shorts received (a negative value: shorts paid). ``long_pnl = -cum``,
    ``short_pnl = cum``; ``*_amount`` are those times ``notional`` (in the notional's currency).

    Returns
    -------
    DataFrame
        ``META_COLUMNS`` plus ``ts``, ``cum``, ``long_pnl``, ``short_pnl``, ``long_amount``, ``short_amount``;
        one row per settlement, in the input's order.
    """
    cols = [c for c in META_COLUMNS if c in hist.columns]
    out = hist[[*cols, "ts"]].copy()
    cum = np.full(len(hist), np.nan)
    positions = np.arange(len(hist))
    for _, idx in hist.groupby("series", sort=False).indices.items():
        idx = positions[idx]
        cum[idx] = af.cumulative_funding(hist["rate"].to_numpy(dtype="float64")[idx], compounded=compounded)
    out["cum"] = cum
    out["long_pnl"] = -cum
    out["short_pnl"] = cum
    out["long_amount"] = -cum * notional
    out["short_amount"] = cum * notional
    return out.reset_index(drop=True)


def cumulative_summary(hist: pd.DataFrame, *, compounded: bool = False, notional: float = 1.0) -> pd.DataFrame:
    """Funding over the whole window per series: what a long paid and a short earned, in % and on notional.

    Columns: ``META_COLUMNS``, ``periods``, ``total`` (``analytics.funding.total_funding``: sum or compounded;
    NaN without a settlement), ``long_pnl``, ``short_pnl`` (fractions), ``long_amount``, ``short_amount``.
    """
    rows = []
    for series, g in hist.groupby("series", sort=False):
        total = af.total_funding(g["rate"], compounded=compounded)
        meta = {c: g[c].iloc[0] for c in META_COLUMNS if c in g.columns}
        rows.append({**meta, "series": series, "periods": int(g["rate"].notna().sum()), "total": total,
                     "long_pnl": -total, "short_pnl": total,
                     "long_amount": -total * notional, "short_amount": total * notional})
    cols = [*META_COLUMNS, "periods", "total", "long_pnl", "short_pnl", "long_amount", "short_amount"]
    return pd.DataFrame(rows, columns=cols)


# ---------------------------------------------------------------------------------------------------------
# Statistics and flags


def _series_stats(g: pd.DataFrame, *, unit: str, threshold_8h: float,
                  window: tuple[pd.Timestamp, pd.Timestamp] | None) -> dict[str, object]:
    rate = g["rate"].to_numpy(dtype="float64")
    hours = g["interval_hours"].to_numpy(dtype="float64")
    ok = np.isfinite(rate) & np.isfinite(hours) & (hours > 0)
    r, h = rate[ok], hours[ok]
    value = np.asarray(normalize(r, h, unit=unit), dtype="float64")
    r8 = _rounded_8h(r, h)
    distinct = np.unique(h)
    interval = float(distinct[0]) if distinct.size == 1 else float("nan")
    n = int(r.size)
    total_hours = float(h.sum())
    flips, last = sign_flips(r)
    ts = g["ts"].loc[ok]
    compounded = af.total_funding(r, compounded=True)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        apy_realized = (float(np.power(1.0 + compounded, af.HOURS_PER_YEAR / total_hours) - 1.0)
                        if n and compounded > -1.0 else float("nan"))
    inferred = bool(g["interval_inferred"].astype(bool).any()) if "interval_inferred" in g else False
    return {
        "interval_hours": interval,
        "interval_inferred": inferred,
        "periods": n,
        "expected": expected_periods(*window, interval) if window is not None else float("nan"),
        "mean": float(value.mean()) if n else float("nan"),
        "median": float(np.median(value)) if n else float("nan"),
        "std": float(value.std(ddof=1)) if n > 1 else float("nan"),
        "min": float(value.min()) if n else float("nan"),
        "max": float(value.max()) if n else float("nan"),
        "pct_positive": float((r > 0).mean()) if n else float("nan"),
        "above": int((r8 > round(threshold_8h, _COMPARE_DECIMALS)).sum()),
        "below": int((r8 < -round(threshold_8h, _COMPARE_DECIMALS)).sum()),
        "apr_mean": float(r.sum() * af.HOURS_PER_YEAR / total_hours) if n else float("nan"),
        "apy_realized": apy_realized,
        "flips": flips,
        "last_flip": ts.iloc[last] if last is not None else pd.NaT,
    }


def window_stats(hist: pd.DataFrame, *, unit: str = "8h", threshold_8h: float = af.ELEVATED_RATE_8H,
                 start: pd.Timestamp | None = None, end: pd.Timestamp | None = None) -> pd.DataFrame:
    """Statistics of each series over the window (columns: ``STATS_COLUMNS``).

    Parameters
    ----------
    hist : DataFrame
        History frame (already clipped to the window).
    unit : str, keyword-only
        Unit of ``mean``, ``median``, ``std``, ``min`` and ``max`` (each row normalized with its interval).
    threshold_8h : float, keyword-only
        ``above``/``below`` count periods with ``rate_8h`` beyond ``±threshold_8h``.
    start, end : Timestamp, keyword-only
        The window ``(start, end]``; with both, ``expected`` counts the settlements the series' interval
        grid holds in it, so ``periods < expected`` reveals gaps.

    Notes
    -----
    ``apr_mean`` is time-weighted (``sum(rate) * 8760 / sum(h)``), so a series whose interval changed
    within the window is still annualized correctly. NaN rows are skipped; too few rows give NaN.
    """
    _check_unit(unit)
    window = (pd.Timestamp(start), pd.Timestamp(end)) if start is not None and end is not None else None
    rows = []
    for series, g in hist.groupby("series", sort=False):
        meta = {c: g[c].iloc[0] for c in META_COLUMNS if c in g.columns}
        rows.append({**meta, "series": series,
                     **_series_stats(g, unit=unit, threshold_8h=threshold_8h, window=window)})
    out = pd.DataFrame(rows, columns=list(STATS_COLUMNS))
    out["last_flip"] = pd.to_datetime(out["last_flip"], utc=True)
    return out


def flag_level(rate_8h: ArrayLike, *, threshold_8h: float = af.ELEVATED_RATE_8H,
               extreme_8h: float = EXTREME_RATE_8H) -> np.ndarray:
    """``FLAG_LEVELS`` label per rate (in 8h units): beyond ``±extreme_8h`` is extreme, beyond
    ``±threshold_8h`` elevated, else (and for NaN) ``normal``. Strictly beyond: the threshold itself is normal.
    """
    r8 = np.round(np.atleast_1d(as_float(rate_8h)), _COMPARE_DECIMALS)
    threshold_8h, extreme_8h = round(threshold_8h, _COMPARE_DECIMALS), round(extreme_8h, _COMPARE_DECIMALS)
    out = np.full(r8.shape, "normal", dtype=object)
    with np.errstate(invalid="ignore"):
        out[r8 > threshold_8h] = "elevated positive"
        out[r8 < -threshold_8h] = "elevated negative"
        out[r8 > extreme_8h] = "extreme positive"
        out[r8 < -extreme_8h] = "extreme negative"
    return out


def now_figures(now: pd.DataFrame, *, at: pd.Timestamp, threshold_8h: float = af.ELEVATED_RATE_8H,
                extreme_8h: float = EXTREME_RATE_8H) -> pd.DataFrame:
    """Current funding of chosen perps with its normalized forms, flag and time to the next settlement.

    Adds ``rate_8h``, ``apr``, ``apy``, ``predicted_apr`` (fractions), ``flag`` (``FLAG_LEVELS``) and
    ``seconds_to_next`` (``next_funding_time - at`` in seconds; NaN without a next time, e.g. Deribit's
    continuous funding) to a copy of ``now``.
    """
    out = now.copy()
    out["rate_8h"] = np.asarray(af.rate_8h(now["rate"], now["interval_hours"]), dtype="float64")
    out["apr"] = np.asarray(af.apr(now["rate"], now["interval_hours"]), dtype="float64")
    out["apy"] = np.asarray(af.apy(now["rate"], now["interval_hours"]), dtype="float64")
    out["predicted_apr"] = np.asarray(af.apr(now["predicted_rate"], now["interval_hours"]), dtype="float64")
    out["flag"] = flag_level(out["rate_8h"], threshold_8h=threshold_8h, extreme_8h=extreme_8h)
    nxt = pd.to_datetime(now["next_funding_time"], utc=True)
    out["seconds_to_next"] = ((nxt - pd.Timestamp(at)).dt.total_seconds()).astype("float64")
    return out


def spread_table(frame: pd.DataFrame, *, value: str, group: str = "base", name: str = "exchange",
                 order: Sequence[str] = ()) -> pd.DataFrame:
    """Per ``group``: the row with the highest and the lowest ``value`` and the spread between them.

    Returns
    -------
    DataFrame
        ``SPREAD_COLUMNS`` (``base`` holds the group): ``highest``/``lowest`` name the rows (``name``
        column), ``spread = highest_value - lowest_value``, ``n`` counts rows with a finite value. With fewer
        than two such rows the spread is NaN (nothing to compare).
    """
    rows = []
    keys = list(dict.fromkeys([*[o for o in order if o in set(frame[group])], *frame[group]]))
    for key in keys:
        g = frame[(frame[group] == key) & np.isfinite(frame[value].to_numpy(dtype="float64"))]
        if g.empty:
            rows.append({"base": key, "highest": None, "highest_value": np.nan, "lowest": None,
                         "lowest_value": np.nan, "spread": np.nan, "n": 0})
            continue
        hi = g.loc[g[value].idxmax()]
        lo = g.loc[g[value].idxmin()]
        n = len(g)
        rows.append({"base": key, "highest": hi[name], "highest_value": float(hi[value]),
                     "lowest": lo[name], "lowest_value": float(lo[value]),
                     "spread": float(hi[value] - lo[value]) if n > 1 else np.nan, "n": n})
    return pd.DataFrame(rows, columns=list(SPREAD_COLUMNS))


# ---------------------------------------------------------------------------------------------------------
# Heatmaps


def current_matrix(frame: pd.DataFrame, *, value: str = "apr", rows: str = "exchange", cols: str = "base",
                   row_order: Sequence[str] = (), col_order: Sequence[str] = ()) -> pd.DataFrame:
    """``value`` as a matrix: one row per ``rows`` label, one column per ``cols`` label; NaN where unlisted."""
    if frame.empty:
        return pd.DataFrame(index=pd.Index(list(row_order), name=rows), columns=pd.Index(list(col_order), name=cols),
                            dtype="float64")
    matrix = frame.pivot_table(index=rows, columns=cols, values=value, aggfunc="first", dropna=False)
    r = list(dict.fromkeys([*[x for x in row_order if x in matrix.index], *matrix.index]))
    c = list(dict.fromkeys([*[x for x in col_order if x in matrix.columns], *matrix.columns]))
    return matrix.reindex(index=r, columns=c).astype("float64")


def history_matrix(hist: pd.DataFrame, *, freq_hours: float, rows: str = "exchange",
                   row_order: Sequence[str] = ()) -> pd.DataFrame:
    """Normalized history as a matrix of ``rows`` x time bins (mean ``value`` per bin), for a heatmap.

    Bins are ``freq_hours`` wide on the 00:00 UTC grid, closed on the right and labelled by their end, so
    a settlement lands in the bin it pays for: the 8h settlement at 08:00 and the hourly ones at 01:00 ...
    08:00 share the bin ending 08:00. ``hist`` needs a ``value`` column (``normalize_frame``).

    Returns
    -------
    DataFrame
        Index: ``rows`` labels; columns: bin end times (UTC), ascending, every bin from the first to the
        last (empty bins are NaN).
    """
    if hist.empty:
        return pd.DataFrame(index=pd.Index(list(row_order), name=rows), dtype="float64")
    freq = pd.Timedelta(hours=freq_hours)
    bins = hist["ts"].dt.ceil(freq)
    matrix = hist.assign(_bin=bins).pivot_table(index=rows, columns="_bin", values="value", aggfunc="mean")
    full = pd.date_range(bins.min(), bins.max(), freq=freq)
    r = list(dict.fromkeys([*[x for x in row_order if x in matrix.index], *matrix.index]))
    out = matrix.reindex(index=r, columns=full).astype("float64")
    out.columns.name = "ts"
    return out
