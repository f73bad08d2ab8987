"""Plotly figures of the Funding page: pure builders, frames in, ``go.Figure`` out (no streamlit).

Every trace is named (a series label such as ``"BTC · OKX"``, or the heatmap's title) so tests and users
find it. Values are fractions; axes and hovers format them as percentages. Each figure plots exactly the
rows it is given, so the page's CSV of the same frame is the charted data.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from components.charts_layout import TRANSPARENT, side_legend_layout, time_axis

# One colour per exchange, one dash per asset: 5 exchanges x 3 assets stay tellable apart.
EXCHANGE_COLORS: tuple[str, ...] = (
    "#4c9aff", "#f5a623", "#2ecc71", "#e8575a", "#b07cf7", "#1abc9c", "#f06292", "#cddc39", "#90a4ae",
)
BASE_DASHES: tuple[str, ...] = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")
# Diverging scale with a dark middle (our theme's background): blue = shorts pay, red = longs pay.
DIVERGING: list[list[float | str]] = [[0.0, "#2c7bd6"], [0.5, "#1b2130"], [1.0, "#e8575a"]]
BAND_COLOR = "rgba(245, 166, 35, 0.10)"
BAND_LINE = "rgba(245, 166, 35, 0.75)"

# Name of the invisible two-point trace that makes plotly draw the notional axis (not data: CSVs skip it).
AXIS_HELPER = "_notional_axis"

UNIT_TITLES: dict[str, str] = {
    "interval": "Funding per interval",
    "8h": "Funding per 8h",
    "apr": "Funding APR (simple)",
    "apy": "Funding APY (compounded)",
}


def percent_format(unit: str) -> str:
    """d3 hover format of a value in ``unit``: rates per interval/8h need 4 decimals of a percent, APR/APY 2."""
    return ".4%" if unit in ("interval", "8h") else ".2%"


def tick_format(unit: str) -> str:
    """d3 axis tick format of a value in ``unit`` (one decimal less than the hover)."""
    return ".3%" if unit in ("interval", "8h") else ".1%"


def _layout(fig: go.Figure, *, title: str, height: int = 460, legend: bool = True) -> go.Figure:
    # Outside the plot on the right, one entry per line: up to 18 series never cover the data.
    return side_legend_layout(fig, title=title, height=height, hovermode="closest", showlegend=legend,
                              legend={"bgcolor": TRANSPARENT, "tracegroupgap": 6})


def _styles(frame: pd.DataFrame) -> dict[str, dict[str, str]]:
    """Line colour (by exchange) and dash (by base) of each series, in order of appearance."""
    exchanges = list(dict.fromkeys(frame["exchange"])) if "exchange" in frame else []
    bases = list(dict.fromkeys(frame["base"])) if "base" in frame else []
    styles: dict[str, dict[str, str]] = {}
    for row in frame[["series", *[c for c in ("exchange", "base") if c in frame]]].drop_duplicates("series") \
            .itertuples(index=False):
        ex = getattr(row, "exchange", None)
        base = getattr(row, "base", None)
        color = EXCHANGE_COLORS[(exchanges.index(ex) if ex in exchanges else len(styles)) % len(EXCHANGE_COLORS)]
        dash = BASE_DASHES[(bases.index(base) if base in bases else 0) % len(BASE_DASHES)]
        styles[str(row.series)] = {"color": color, "dash": dash}
    return styles


def history_figure(hist: pd.DataFrame, *, unit: str,
                   bands: Sequence[tuple[Sequence[float], float, float]] = (),
                   band_label: str = "threshold") -> go.Figure:
    """Funding history: one line per series (``series`` column), ``value`` in ``unit`` over ``ts``.

    Parameters
    ----------
    hist : DataFrame
        ``series``, ``ts``, ``value`` (fraction in ``unit``), optionally ``exchange``/``base`` for styling
        and ``interval_hours`` for the hover.
    unit : str
        One of ``analytics.funding_stats.UNITS`` (titles and number formats).
    bands : sequence of (intervals, low, high)
        Threshold bands (``analytics.funding_stats.threshold_bands``). One band is drawn shaded; several
        (per-interval units) as dashed line pairs, each named with its interval.
    band_label : str
        Legend text of the band(s), e.g. ``"±0.0100% per 8h"``.
    """
    fig = go.Figure()
    fmt = percent_format(unit)
    styles = _styles(hist)
    for series, g in hist.groupby("series", sort=False):
        hours = g["interval_hours"].to_numpy(dtype="float64") if "interval_hours" in g else np.full(len(g), np.nan)
        fig.add_trace(go.Scatter(
            x=time_axis(g["ts"]), y=g["value"], name=str(series), mode="lines",
            line={"width": 1.4, **styles[str(series)]},
            customdata=hours,
            hovertemplate=(f"<b>{series}</b><br>%{{x|%Y-%m-%d %H:%M}} UTC<br>%{{y:{fmt}}}"
                           " · %{customdata:g}h interval<extra></extra>"),
        ))
    for i, (intervals, lo, hi) in enumerate(bands):
        name = band_label if len(bands) == 1 else f"{band_label} ({', '.join(f'{h:g}h' for h in intervals)})"
        if len(bands) == 1:
            fig.add_shape(type="rect", xref="paper", x0=0, x1=1, y0=lo, y1=hi, fillcolor=BAND_COLOR,
                          line={"width": 1, "color": BAND_LINE, "dash": "dot"}, layer="below", name=name,
                          showlegend=True)
        else:
            for j, y in enumerate((lo, hi)):
                fig.add_shape(type="line", xref="paper", x0=0, x1=1, y0=y, y1=y, name=name,
                              line={"width": 1, "color": BAND_LINE, "dash": BASE_DASHES[(i + 1) % len(BASE_DASHES)]},
                              legendgroup=name, showlegend=j == 0, layer="below")
    fig.add_hline(y=0, line={"width": 1, "color": "rgba(230,233,239,0.35)"})
    fig.update_yaxes(title={"text": UNIT_TITLES[unit]}, tickformat=tick_format(unit), hoverformat=fmt,
                     zeroline=False)
    fig.update_xaxes(title=None)
    return _layout(fig, title=f"{UNIT_TITLES[unit]} by exchange and symbol")


def cumulative_figure(cum: pd.DataFrame, *, side: str = "short", notional: float = 1.0,
                      currency: str = "USD", compounded: bool = False) -> go.Figure:
    """Cumulative funding P&L of a long or a short on each series, in % (left axis) and on the notional.

    Parameters
    ----------
    cum : DataFrame
        ``analytics.funding_stats.cumulative_frame``: ``series``, ``ts``, ``long_pnl``/``short_pnl``
        (fractions) and ``long_amount``/``short_amount``.
    side : {"long", "short"}
        Whose P&L to plot (a short receives positive funding, a long pays it).
    notional : float
        The position size; the right axis shows ``pnl * notional`` in ``currency``, on the same scale.
    """
    if side not in ("long", "short"):
        raise ValueError(f"side must be 'long' or 'short', not {side!r}")
    fig = go.Figure()
    styles = _styles(cum)
    col, amount = f"{side}_pnl", f"{side}_amount"
    for series, g in cum.groupby("series", sort=False):
        fig.add_trace(go.Scatter(
            x=time_axis(g["ts"]), y=g[col], name=str(series), mode="lines", line={"width": 1.6, **styles[str(series)]},
            customdata=g[amount].to_numpy(dtype="float64"),
            hovertemplate=(f"<b>{series}</b><br>%{{x|%Y-%m-%d %H:%M}} UTC<br>{side}: %{{y:+.3%}}"
                           f" · %{{customdata:+,.2f}} {currency}<extra></extra>"),
        ))
    values = cum[col].to_numpy(dtype="float64") if col in cum else np.array([])
    values = values[np.isfinite(values)]
    lo, hi = (float(min(values.min(), 0.0)), float(max(values.max(), 0.0))) if values.size else (-0.01, 0.01)
    pad = 0.06 * (hi - lo) if hi > lo else 0.001
    lo, hi = lo - pad, hi + pad
    # The right axis is the left one times the notional: same range, so both read off the same line.
    fig.update_layout(
        yaxis={"title": {"text": f"{side.capitalize()} P&L (% of notional)"}, "tickformat": ".2%",
               "range": [lo, hi], "zeroline": True, "zerolinecolor": "rgba(230,233,239,0.35)"},
        yaxis2={"title": {"text": f"{currency} on {notional:,.0f}"}, "overlaying": "y", "side": "right",
                "range": [lo * notional, hi * notional], "tickformat": ",.0f", "showgrid": False,
                "anchor": "x"},
    )
    # an invisible, unhoverable trace makes plotly draw the right axis (axes without data are hidden)
    if len(fig.data):
        first = fig.data[0]
        fig.add_trace(go.Scatter(x=[first.x[0], first.x[-1]] if len(first.x) else [], y=[lo * notional, hi * notional],
                                 yaxis="y2", mode="markers", marker={"opacity": 0}, hoverinfo="skip",
                                 showlegend=False, name=AXIS_HELPER))
    convention = "compounded" if compounded else "simple"
    verb = "earned by a short" if side == "short" else "paid by a long (negative = paid)"
    fig = _layout(fig, title=f"Cumulative funding {verb} ({convention})")
    # The notional axis sits right of the plot: anchor the legend to the figure's right edge instead, so
    # plotly reserves room for both and the legend never covers the axis labels.
    fig.update_layout(legend={"xref": "container", "x": 1.0, "xanchor": "right"},
                      yaxis2={"automargin": True})
    return fig


def current_heatmap_figure(matrix: pd.DataFrame, *, title: str = "Current funding APR") -> go.Figure:
    """Heatmap of current APR: exchanges (rows, top to bottom) x symbols (columns); blank = not listed."""
    z = matrix.to_numpy(dtype="float64")
    fig = go.Figure(go.Heatmap(
        z=z, x=[str(c) for c in matrix.columns], y=[str(i) for i in matrix.index], name=title,
        colorscale=DIVERGING, zmid=0.0, xgap=2, ygap=2,
        texttemplate="%{z:+.2%}", textfont={"size": 13},
        hovertemplate="%{y} · %{x}<br>APR %{z:+.2%}<extra></extra>",
        colorbar={"tickformat": ".0%", "title": {"text": "APR"}, "thickness": 12},
    ))
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(type="category", side="top")
    height = max(220, 60 + 46 * len(matrix.index))
    return _layout(fig, title=title, height=height, legend=False)


def history_heatmap_figure(matrix: pd.DataFrame, *, unit: str, title: str) -> go.Figure:
    """Heatmap of normalized funding over time: exchanges (rows) x time bins (columns, bin end times)."""
    fmt = percent_format(unit)
    z = matrix.to_numpy(dtype="float64")
    fig = go.Figure(go.Heatmap(
        z=z, x=time_axis(matrix.columns), y=[str(i) for i in matrix.index], name=title,
        colorscale=DIVERGING, zmid=0.0, ygap=2,
        hovertemplate=f"%{{y}}<br>bin ending %{{x|%Y-%m-%d %H:%M}} UTC<br>%{{z:{fmt}}}<extra></extra>",
        colorbar={"tickformat": tick_format(unit), "thickness": 12},
    ))
    fig.update_yaxes(autorange="reversed", type="category")
    height = max(220, 80 + 40 * len(matrix.index))
    return _layout(fig, title=title, height=height, legend=False)
