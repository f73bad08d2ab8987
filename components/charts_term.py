"""Figure builders of the Term structure page: the curve by expiry and the basis history (pure plotly).

Each chart has a ``*_points``/``*_data`` function giving exactly the data it draws (the page offers it as
CSV) and a builder turning that frame into a ``go.Figure`` with named traces. Values are fractions
(annualized basis, basis %) or prices; the axes format them. Near-expiry points (annualized figures
explode there) are drawn but flagged, and the y-range is computed here from the other points only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from analytics import term_structure as ts
from components.charts_layout import time_axis
from components.formatting import fmt_pct, fmt_price

Y_ANNUALIZED = "ann"
Y_PRICE = "price"
Y_MODES = (Y_ANNUALIZED, Y_PRICE)

PERP_TRACE = "Perps (tenor 0)"
NEAR_TRACE = f"Near expiry (≤ {ts.NEAR_EXPIRY_DAYS:g} d, flagged)"
FAIR_PREFIX = "Fair value"
REFERENCE_PREFIX = "Reference"
CM_PREFIX = "constant maturity"

RANGE_PAD = 0.08  # fraction of the span added above and below the autoscaled range
TICK_MIN_GAP = 0.05  # tick labels closer than this fraction of the x-span are dropped (they would overlap)
FAIR_GRID_POINTS = 60

# One colour per exchange, the same on every chart (readable on the dark theme).
VENUE_COLORS: dict[str, str] = {
    "binanceusdm": "#f0b90b",
    "binancecoinm": "#ff8c42",
    "okx": "#4da3ff",
    "bybit": "#c77dff",
    "deribit": "#2fd3a7",
}
OTHER_COLORS = ("#ff6b6b", "#a0e85b", "#ffd6a5", "#9bf6ff")
FAIR_COLOR = "#e6e6e6"
REFERENCE_COLOR = "#9aa0a6"
NEAR_COLOR = "#ff5c5c"

POINT_COLUMNS: tuple[str, ...] = (
    "series",  # the trace the point is drawn in
    "curve",  # curve key (venue:linear|inverse); empty for fair value / reference
    "symbol",
    "kind",  # future | perp | fair value | reference
    "days",  # x: days to expiry (0 for perps)
    "expiry",  # UTC; NaT for perps and lines
    "value",  # y: fraction (annualized basis, or a perp's premium) or price, per ``y_mode``
    "flagged",  # near expiry: drawn, kept out of the y-range
)


def venue_color(venue: str) -> str:
    if venue in VENUE_COLORS:
        return VENUE_COLORS[venue]
    return OTHER_COLORS[sum(map(ord, venue)) % len(OTHER_COLORS)]


def curve_names(curves: Iterable[str], label: Callable[[str], str] = str) -> dict[str, str]:
    """Display name per curve key: the exchange's name, plus "linear"/"inverse" where it lists both."""
    curves = list(dict.fromkeys(curves))
    venues = [ts.curve_venue(c) for c in curves]
    both = {v for v in venues if venues.count(v) > 1}
    return {c: f"{label(v)} {c.rsplit(':', 1)[1]}" if v in both else label(v)
            for c, v in zip(curves, venues, strict=True)}


def y_range(values: Iterable[float], flagged: Iterable[bool] | None = None, *,
            pad: float = RANGE_PAD) -> list[float] | None:
    """[low, high] covering the finite, unflagged ``values`` plus ``pad`` of their span; None if none."""
    v = np.asarray(list(values), dtype="float64")
    keep = np.isfinite(v)
    if flagged is not None:
        keep &= ~np.asarray(list(flagged), dtype=bool)
    if not keep.any():
        return None
    lo, hi = float(v[keep].min()), float(v[keep].max())
    span = hi - lo
    margin = pad * span if span > 0 else max(abs(hi) * pad, 1e-4)
    return [lo - margin, hi + margin]


def _fmt_date(t: object) -> str:
    if t is None or pd.isna(t):  # type: ignore[arg-type]
        return ""
    s = pd.Timestamp(t)
    return f"{s.day} {s.strftime('%b %Y')}"


def _tick_date(t: object) -> str:
    s = pd.Timestamp(t)  # type: ignore[arg-type]
    return f"{s.day} {s.strftime('%b')} '{s.strftime('%y')}"


def expiry_ticks(days: Sequence[float], expiries: Sequence[object], *, min_gap: float = TICK_MIN_GAP,
                 with_perp: bool = True) -> tuple[list[float], list[str]]:
    """Tick positions and labels ("25 Dec '26<br>33 d") at each distinct expiry; crowded ticks dropped.

    A tick closer than ``min_gap`` of the x-span to the previously kept one is dropped, so labels never
    overlap (every contract still carries its expiry in the hover).
    """
    pairs: dict[str, float] = {}
    for d, e in zip(days, expiries, strict=True):
        if e is None or pd.isna(e) or not np.isfinite(d):  # type: ignore[arg-type]
            continue
        key = _tick_date(e)
        pairs[key] = min(pairs.get(key, float(d)), float(d))
    items = sorted(((d, k) for k, d in pairs.items()), key=lambda x: x[0])
    span = max([d for d, _ in items], default=1.0) or 1.0
    vals: list[float] = [0.0] if with_perp else []
    text: list[str] = ["perp"] if with_perp else []
    for d, k in items:
        if vals and d - vals[-1] < min_gap * span:
            continue
        vals.append(d)
        text.append(f"{k}<br>{d:.0f} d")
    return vals, text


def curve_points(table: pd.DataFrame, *, y_mode: str = Y_ANNUALIZED, compounded: bool = False,
                 rate: float = 0.0, names: Mapping[str, str] | None = None,
                 reference_label: str = "index", fair_grid: int = FAIR_GRID_POINTS) -> pd.DataFrame:
    """Every point the curve chart draws (columns ``POINT_COLUMNS``); the page offers it as CSV.

    Parameters
    ----------
    table : DataFrame
        ``analytics.term_structure.term_table`` output of the chosen exchanges.
    y_mode : {"ann", "price"}, keyword-only
        ``"ann"``: futures at their annualized basis (simple or ``compounded``), perps at their premium
        (``basis_pct``, not annualized), the reference at 0. ``"price"``: every contract at its price, the
        reference at the mean reference price of the curves drawn.
    rate : float, keyword-only
        Fair-value carry r, fraction per year; the fair-value line is ``F* = S (1 + r t / 365)`` (price)
        or its annualized basis.
    names : mapping curve -> display name, keyword-only
        Series names (default: the curve keys).
    reference_label : str, keyword-only
        What S is ("index", "Binance spot last"): names the reference series.
    """
    if y_mode not in Y_MODES:
        raise ValueError(f"y_mode must be one of {Y_MODES}, not {y_mode!r}")
    names = dict(names or {})
    rows = table[np.isfinite(table["price"].to_numpy(dtype="float64"))] if not table.empty else table
    value_col = ts.ann_column(compounded) if y_mode == Y_ANNUALIZED else "price"
    fut = rows[rows["kind"] == "future"]
    perps = rows[rows["kind"] == "perp"]
    parts = []
    if not fut.empty:
        flagged = fut["near_expiry"].astype(bool)
        parts.append(pd.DataFrame({
            "series": np.where(flagged, NEAR_TRACE, fut["curve"].map(lambda c: names.get(c, c))),
            "curve": fut["curve"], "symbol": fut["symbol"], "kind": "future",
            "days": fut["days_to_expiry"], "expiry": fut["expiry"], "value": fut[value_col], "flagged": flagged,
        }))
    if not perps.empty:
        # one perp per curve at tenor 0 (a curve may list a USDT and a USDC perp: keep the first, as sorted)
        first = perps.drop_duplicates("curve")
        parts.append(pd.DataFrame({
            "series": PERP_TRACE, "curve": first["curve"], "symbol": first["symbol"], "kind": "perp",
            "days": 0.0, "expiry": pd.NaT,
            "value": first["basis_pct"] if y_mode == Y_ANNUALIZED else first["price"], "flagged": False,
        }))
    max_days = float(np.nanmax(fut["days_to_expiry"])) if not fut.empty else float("nan")
    ref = rows.drop_duplicates("curve")["reference"].to_numpy(dtype="float64") if not rows.empty else np.array([])
    ref_mean = float(np.mean(ref[np.isfinite(ref)])) if np.isfinite(ref).any() else float("nan")
    if np.isfinite(max_days):
        grid = np.linspace(0.0, max_days, fair_grid)
        fair = ts.fair_value_curve(ref_mean, rate=rate, days=grid)
        fair_values = fair["price"] if y_mode == Y_PRICE else fair[ts.ann_column(compounded)]
        parts.append(pd.DataFrame({
            "series": f"{FAIR_PREFIX} (r = {fmt_pct(rate)})", "curve": "", "symbol": "", "kind": "fair value",
            "days": grid, "expiry": pd.NaT, "value": fair_values, "flagged": False,
        }))
        ref_value = 0.0 if y_mode == Y_ANNUALIZED else ref_mean
        ref_name = f"{REFERENCE_PREFIX}: {reference_label}" + (" (basis 0)" if y_mode == Y_ANNUALIZED else "")
        if np.isfinite(ref_value):
            parts.append(pd.DataFrame({
                "series": ref_name, "curve": "", "symbol": "", "kind": "reference", "days": [0.0, max_days],
                "expiry": pd.NaT, "value": ref_value, "flagged": False,
            }))
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in POINT_COLUMNS})
    out = pd.concat([p.reset_index(drop=True) for p in parts], ignore_index=True)
    out["expiry"] = pd.to_datetime(out["expiry"], utc=True)
    out["days"] = out["days"].astype("float64")
    out["value"] = out["value"].astype("float64")
    out["flagged"] = out["flagged"].astype(bool)
    return out[list(POINT_COLUMNS)]


def _layout(fig: go.Figure, *, title: str, x_title: str, y_title: str, y_format: str,
            y_rng: list[float] | None) -> None:
    fig.update_layout(
        template="plotly_dark", paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="rgba(0,0,0,0)",
        title={"text": title, "x": 0.0, "xanchor": "left", "font": {"size": 16}},
        margin={"l": 70, "r": 20, "t": 50, "b": 110},
        legend={"orientation": "h", "yanchor": "top", "y": -0.22, "xanchor": "left", "x": 0.0},
        hovermode="closest", height=520,
    )
    fig.update_xaxes(title_text=x_title, gridcolor="rgba(255,255,255,0.08)")
    fig.update_yaxes(title_text=y_title, tickformat=y_format, gridcolor="rgba(255,255,255,0.08)",
                     zeroline=True, zerolinecolor="rgba(255,255,255,0.25)")
    if y_rng is not None:
        fig.update_yaxes(range=y_rng, autorange=False)


def curve_chart(points: pd.DataFrame, *, y_mode: str = Y_ANNUALIZED, compounded: bool = False,
                colors: Mapping[str, str] | None = None, title: str = "") -> go.Figure:
    """The term-structure chart from ``curve_points``: one line per curve, perps at tenor 0, flagged points,
    fair value and reference.

    The y-range is set explicitly from every unflagged point (never from near-expiry ones); flagged points
    beyond it are pinned to the edge with an arrow marker and their true value as text and hover.
    """
    colors = dict(colors or {})
    ann = y_mode == Y_ANNUALIZED
    y_fmt = ".1%" if ann else ",.0f"
    val_fmt = ":.2%" if ann else ":,.2f"
    fig = go.Figure()
    if points.empty:
        _layout(fig, title=title, x_title="Days to expiry", y_title="", y_format=y_fmt, y_rng=None)
        return fig
    rng = y_range(points["value"], points["flagged"])
    curve_rows = points[points["kind"] == "future"]
    for series, part in curve_rows[~curve_rows["flagged"]].groupby("series", sort=False):
        part = part.sort_values("days")
        venue = ts.curve_venue(str(part["curve"].iloc[0]))
        inverse = str(part["curve"].iloc[0]).endswith(":inverse")
        color = colors.get(str(part["curve"].iloc[0]), venue_color(venue))
        fig.add_trace(go.Scatter(
            x=part["days"], y=part["value"], name=str(series), mode="lines+markers",
            line={"color": color, "width": 2, "dash": "dot" if inverse else "solid"},
            marker={"size": 8, "color": color},
            customdata=np.stack([part["symbol"], part["expiry"].map(_fmt_date)], axis=-1),
            hovertemplate=f"<b>%{{customdata[0]}}</b><br>expires %{{customdata[1]}} (%{{x:.1f}} d)<br>"
                          f"{'annualized' if ann else 'price'} %{{y{val_fmt}}}<extra>%{{fullData.name}}</extra>",
        ))
    perps = points[points["kind"] == "perp"]
    if not perps.empty:
        pcolors = [colors.get(c, venue_color(ts.curve_venue(c))) for c in perps["curve"]]
        what = "premium (not annualized)" if ann else "price"
        fig.add_trace(go.Scatter(
            x=perps["days"], y=perps["value"], name=PERP_TRACE, mode="markers",
            marker={"size": 11, "symbol": "diamond", "color": pcolors, "line": {"width": 1, "color": "#111"}},
            customdata=np.stack([perps["symbol"], perps["curve"]], axis=-1),
            hovertemplate=f"<b>%{{customdata[0]}}</b> (%{{customdata[1]}})<br>{what} %{{y{val_fmt}}}"
                          "<extra>perp</extra>",
        ))
    _add_flagged(fig, curve_rows[curve_rows["flagged"]], rng, ann=ann, val_fmt=val_fmt)
    for kind, dash, width in (("fair value", "dash", 1.5), ("reference", "dashdot", 1.2)):
        part = points[points["kind"] == kind]
        if part.empty:
            continue
        fig.add_trace(go.Scatter(
            x=part["days"], y=part["value"], name=str(part["series"].iloc[0]), mode="lines",
            line={"color": FAIR_COLOR if kind == "fair value" else REFERENCE_COLOR, "dash": dash, "width": width},
            hovertemplate=f"%{{x:.0f}} d: %{{y{val_fmt}}}<extra>%{{fullData.name}}</extra>",
        ))
    fut = points[points["kind"] == "future"]
    vals, text = expiry_ticks(fut["days"].tolist(), fut["expiry"].tolist(), with_perp=not perps.empty)
    _layout(fig, title=title, x_title="Days to expiry (tick: expiry date)",
            y_title=("Annualized basis (compounded)" if compounded else "Annualized basis (simple, ACT/365)")
            if ann else "Price", y_format=y_fmt, y_rng=rng)
    x_max = max(vals[-1] if vals else 0.0, float(np.nanmax(points["days"])) if points["days"].notna().any() else 0.0)
    pad = 0.03 * (x_max or 1.0)  # the perp markers at 0 and the last contract stay whole
    fig.update_xaxes(tickmode="array", tickvals=vals, ticktext=text, range=[-pad, x_max + pad])
    return fig


def _add_flagged(fig: go.Figure, rows: pd.DataFrame, rng: list[float] | None, *, ann: bool, val_fmt: str) -> None:
    """Near-expiry points: drawn in red; those beyond the range pinned to its edge with an arrow and text."""
    if rows.empty:
        return
    y = rows["value"].to_numpy(dtype="float64")
    shown = y.copy()
    symbols = np.array(["x"] * len(y), dtype=object)
    text = np.array([""] * len(y), dtype=object)
    if rng is not None:
        above, below = y > rng[1], y < rng[0]
        shown = np.clip(y, rng[0], rng[1])
        symbols[above], symbols[below] = "triangle-up", "triangle-down"
        fmt = (lambda v: fmt_pct(v, signed=True)) if ann else fmt_price
        text[above | below] = [fmt(v) for v in y[above | below]]
    fig.add_trace(go.Scatter(
        x=rows["days"], y=shown, name=NEAR_TRACE, mode="markers+text", text=text.tolist(),
        textposition="middle right", textfont={"color": NEAR_COLOR, "size": 11},
        marker={"size": 10, "symbol": symbols.tolist(), "color": NEAR_COLOR},
        customdata=np.stack([rows["symbol"], rows["expiry"].map(_fmt_date), y], axis=-1),
        hovertemplate=f"<b>%{{customdata[0]}}</b> (flagged: ≤ {ts.NEAR_EXPIRY_DAYS:g} d to expiry)<br>"
                      f"expires %{{customdata[1]}} (%{{x:.2f}} d)<br>value %{{customdata[2]{val_fmt}}}"
                      "<extra></extra>",
    ))


# -- basis history ----------------------------------------------------------------------------------------
HISTORY_DATA_COLUMNS: tuple[str, ...] = (*ts.HISTORY_COLUMNS, "cm", "cm_lower", "cm_upper")


def history_data(contract: pd.DataFrame, cm: pd.DataFrame | None) -> pd.DataFrame:
    """The history chart's data: the contract's ``basis_history`` and the constant maturity, on ``ts``.

    Both come from candles on the same timestamps; a timestamp present in only one keeps NaN in the other.
    """
    base = contract.copy() if not contract.empty else pd.DataFrame(
        {c: pd.Series(dtype="float64") for c in ts.HISTORY_COLUMNS})
    if cm is None or cm.empty:
        out = base.assign(cm=np.nan, cm_lower=None, cm_upper=None)
    else:
        right = cm.rename(columns={"value": "cm", "lower": "cm_lower", "upper": "cm_upper"})
        out = base.merge(right[["ts", "cm", "cm_lower", "cm_upper"]], on="ts", how="outer")
    out = out.sort_values("ts", kind="stable").reset_index(drop=True)
    out["near_expiry"] = out["near_expiry"].fillna(False).astype(bool)
    return out[list(HISTORY_DATA_COLUMNS)]


def history_chart(data: pd.DataFrame, *, contract_name: str, cm_name: str | None, compounded: bool = False,
                  title: str = "") -> go.Figure:
    """Annualized basis over time of one contract (line) and of a constant maturity (line).

    The contract's near-expiry candles are drawn as flagged markers and kept out of the y-range.
    """
    col = ts.ann_column(compounded)
    fig = go.Figure()
    has_contract = data[col].notna() if not data.empty else pd.Series(dtype=bool)
    rows = data[has_contract] if not data.empty else data
    normal = rows[~rows["near_expiry"]] if not rows.empty else rows
    flagged = rows[rows["near_expiry"]] if not rows.empty else rows
    if not normal.empty:
        fig.add_trace(go.Scatter(
            x=time_axis(normal["ts"]), y=normal[col], name=contract_name, mode="lines",
            line={"color": "#4da3ff", "width": 2},
            customdata=np.stack([normal["future"], normal["reference"], normal["basis"], normal["days"]], axis=-1),
            hovertemplate="%{x|%Y-%m-%d %H:%M} UTC<br>annualized %{y:.2%}<br>F %{customdata[0]:,.2f} · "
                          "S %{customdata[1]:,.2f} · basis %{customdata[2]:,.2f}<br>%{customdata[3]:.1f} d to expiry"
                          "<extra>%{fullData.name}</extra>",
        ))
    if not flagged.empty:
        fig.add_trace(go.Scatter(
            x=time_axis(flagged["ts"]), y=flagged[col], name=NEAR_TRACE, mode="markers",
            marker={"size": 6, "symbol": "x", "color": NEAR_COLOR},
            hovertemplate="%{x|%Y-%m-%d %H:%M} UTC<br>annualized %{y:.2%} (flagged)<extra></extra>",
        ))
    cm_rows = data[data["cm"].notna()] if not data.empty else data
    if cm_name and not cm_rows.empty:
        fig.add_trace(go.Scatter(
            x=time_axis(cm_rows["ts"]), y=cm_rows["cm"], name=cm_name, mode="lines",
            line={"color": "#f0b90b", "width": 2, "dash": "dash"},
            customdata=np.stack([cm_rows["cm_lower"].fillna(""), cm_rows["cm_upper"].fillna("")], axis=-1),
            hovertemplate="%{x|%Y-%m-%d %H:%M} UTC<br>annualized %{y:.2%}<br>between %{customdata[0]} and "
                          "%{customdata[1]}<extra>%{fullData.name}</extra>",
        ))
    values = pd.concat([normal[col], cm_rows["cm"]]) if not data.empty else pd.Series(dtype="float64")
    _layout(fig, title=title, x_title="Time (UTC)",
            y_title="Annualized basis (compounded)" if compounded else "Annualized basis (simple, ACT/365)",
            y_format=".1%", y_rng=y_range(values))
    fig.update_layout(hovermode="x unified")
    return fig
