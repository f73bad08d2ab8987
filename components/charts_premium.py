"""Plotly figures of the Perp premium page: pure builders (frames in, ``go.Figure`` out, no streamlit).

Every trace has a stable ``name`` (tests find traces by name and type). Values arrive as fractions (as the
analytics return them) and are plotted in percent.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from components.charts_layout import time_axis

TEMPLATE = "plotly_dark"
TRANSPARENT = "rgba(0,0,0,0)"
PALETTE: tuple[str, ...] = ("#4c9aff", "#ffb020", "#2fbf71", "#e5484d", "#b07cff", "#3dd6d0", "#ff7ac6",
                            "#c2c95b")
BAND_COLOR = "rgba(255, 176, 32, 0.9)"
BAND_FILL = "rgba(255, 176, 32, 0.08)"
ZERO_COLOR = "rgba(200, 200, 200, 0.45)"
FUNDING_COLOR = "#b07cff"
PREMIUM_COLOR = "#4c9aff"


def _pct(values: pd.Series | np.ndarray) -> np.ndarray:
    return np.asarray(values, dtype="float64") * 100.0


def band_names(band: float) -> tuple[str, str]:
    """Names of the upper and lower threshold traces for a band (fraction)."""
    return f"Upper threshold (+{band * 100:g}%)", f"Lower threshold (−{band * 100:g}%)"


def _layout(fig: go.Figure, *, title: str | None, y_title: str, height: int, legend_rows: int = 1) -> go.Figure:
    fig.update_layout(
        template=TEMPLATE,
        paper_bgcolor=TRANSPARENT,
        plot_bgcolor=TRANSPARENT,
        title={"text": title, "x": 0.0, "xanchor": "left"} if title else None,
        height=height,
        # the legend sits above the plot area (never on the data), leaving room for a title
        # traceorder: plotly reverses the legend when a trace has fill="tonexty" (the band); keep data order
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "left", "x": 0.0,
                "traceorder": "normal"},
        margin={"l": 60, "r": 30, "t": 60 + 22 * legend_rows + (30 if title else 0), "b": 40},
        hovermode="x unified",
    )
    fig.update_yaxes(title_text=y_title, ticksuffix="%", zeroline=True, zerolinecolor=ZERO_COLOR)
    return fig


def current_premium_bars(frame: pd.DataFrame, *, band: float, label: Callable[[str], str] = str,
                         price: str = "mark", title: str | None = None) -> go.Figure:
    """Horizontal bar per (exchange, perp) of the current premium, one trace per asset, threshold band lines.

    Bars run horizontally so that any number of perps keeps readable, non-overlapping labels; rows are in
    the frame's order, top to bottom.

    Parameters
    ----------
    frame : DataFrame
        ``analytics.premium.current_premiums`` output (venue, symbol, base, premium as a fraction).
    band : float
        Threshold band half-width (fraction), drawn at ``+band`` and ``-band``.
    label : callable
        Venue id -> display name (the row labels are "<exchange> · <symbol>").
    price : str
        The price field behind the premium (named in the traces and the axis).

    Traces
    ------
    ``"<BASE> premium (<price>)"`` horizontal bars per asset; ``band_names(band)`` dashed lines.
    """
    fig = go.Figure()
    groups = list(frame.groupby("base", sort=False))
    rows_y = [[f"{label(v)} · {s}" for v, s in zip(rows["venue"], rows["symbol"], strict=True)] for _, rows in groups]
    categories = [y for ys in rows_y for y in ys]
    upper, lower = band_names(band)
    if categories:  # first, so the bars and their value labels are drawn over the band lines
        for name, level in ((upper, band), (lower, -band)):
            fig.add_trace(go.Scatter(
                name=name, x=[level * 100.0] * 2, y=[categories[0], categories[-1]], mode="lines",
                line={"color": BAND_COLOR, "dash": "dash", "width": 1.5}, hoverinfo="skip", legendrank=2000,
            ))
    for i, ((base, rows), y) in enumerate(zip(groups, rows_y, strict=True)):
        x = _pct(rows["premium"])
        fig.add_trace(go.Bar(
            name=f"{base} premium ({price})", x=x, y=y, orientation="h", marker_color=PALETTE[i % len(PALETTE)],
            text=[f"{v:+.3f}%" if np.isfinite(v) else "n/a" for v in x], textposition="outside",
            cliponaxis=False, textfont={"size": 11},
            hovertemplate="%{y}<br>premium %{x:+.4f}%<extra>" + str(base) + "</extra>",
        ))
    fig.update_layout(barmode="relative", bargap=0.3)
    _layout(fig, title=title, y_title="", height=max(260, 110 + 26 * len(categories)))
    # rows in the frame's order (the band lines, drawn first, name only the first and last row)
    fig.update_yaxes(type="category", categoryorder="array", categoryarray=categories, autorange="reversed",
                     automargin=True, ticksuffix="", zeroline=False)
    fig.update_xaxes(title_text=f"Premium ({price} vs index)", ticksuffix="%", zeroline=True,
                     zerolinecolor=ZERO_COLOR)
    fig.update_layout(hovermode="closest")
    # keep the band in view and leave room for the value labels beside the bars
    values = np.concatenate([_pct(frame["premium"]), [band * 100.0, -band * 100.0]])
    values = values[np.isfinite(values)]
    lo, hi = float(values.min()), float(values.max())
    pad = 0.22 * max(hi - lo, 1e-6)
    fig.update_xaxes(range=[lo - pad, hi + pad])
    return fig


def _band_traces(fig: go.Figure, x0: pd.Timestamp, x1: pd.Timestamp, band: float, **kw: object) -> None:
    # Drawn first (the upper line fills down to the lower one, the trace just before it); legendrank puts
    # them after the data series in the legend.
    upper, lower = band_names(band)
    fig.add_trace(go.Scatter(name=lower, x=[x0, x1], y=[-band * 100.0] * 2, mode="lines", legendrank=2000,
                             line={"color": BAND_COLOR, "dash": "dash", "width": 1.2}, hoverinfo="skip"), **kw)
    fig.add_trace(go.Scatter(name=upper, x=[x0, x1], y=[band * 100.0] * 2, mode="lines", fill="tonexty",
                             fillcolor=BAND_FILL, line={"color": BAND_COLOR, "dash": "dash", "width": 1.2},
                             legendrank=1999, hoverinfo="skip"), **kw)


def premium_history_chart(history: pd.DataFrame, *, band: float, order: Sequence[str] | None = None,
                          title: str | None = None) -> go.Figure:
    """Premium history, one line per perp, with the threshold band shaded between its two lines.

    Parameters
    ----------
    history : DataFrame
        Long frame: ts (UTC), series (trace name, e.g. "Binance USDⓈ-M · BTC/USDT:USDT"), premium (fraction).
    band : float
        Threshold band half-width (fraction).
    order : sequence of str, optional
        Series order (and colours); default: order of first appearance.

    Traces
    ------
    One ``go.Scatter`` line per series, named by it; ``band_names(band)`` dashed lines (upper filled down to
    lower). Without data: only the band is absent and the figure says "no history".
    """
    fig = go.Figure()
    names = list(order) if order is not None else list(dict.fromkeys(history["series"]))
    present = [n for n in names if (history["series"] == n).any()]
    if present:
        _band_traces(fig, history["ts"].min(), history["ts"].max(), band)
    for i, name in enumerate(names):
        rows = history[history["series"] == name].sort_values("ts")
        if rows.empty:
            continue
        fig.add_trace(go.Scatter(
            name=name, x=time_axis(rows["ts"]), y=_pct(rows["premium"]), mode="lines",
            line={"color": PALETTE[i % len(PALETTE)], "width": 1.6},
            hovertemplate="%{y:+.4f}%",
        ))
    _layout(fig, title=title, y_title="Premium", height=440, legend_rows=1 + len(present) // 4)
    if not present:
        fig.add_annotation(text="no premium history for this choice", showarrow=False, x=0.5, y=0.5,
                           xref="paper", yref="paper", font={"size": 14})
    return fig


def _symmetric_range(values: np.ndarray) -> list[float] | None:
    v = values[np.isfinite(values)]
    if v.size == 0:
        return None
    m = float(np.max(np.abs(v))) * 1.15
    return [-m, m] if m > 0 else None


def premium_funding_chart(premium: pd.DataFrame, funding: pd.DataFrame, *, premium_name: str, funding_name: str,
                          funding_axis: str, band: float | None = None, title: str | None = None) -> go.Figure:
    """Premium (left axis) and funding (right axis) of one perp on one time axis.

    Both axes are symmetric around zero so their zero lines coincide: a premium and a funding rate of the
    same sign sit on the same side (the question is whether funding agrees with the premium).

    Parameters
    ----------
    premium : DataFrame
        ts, premium (fraction). May be empty (e.g. Deribit: no index candles).
    funding : DataFrame
        ts, value (fraction in the unit named by ``funding_axis``), e.g. ``normalized_funding`` output.
    premium_name, funding_name : str
        Trace names.
    funding_axis : str
        Right axis title, e.g. "Funding, % per 8h" or "Funding APR, %".
    band : float, optional
        Threshold band (fraction) drawn on the premium axis.

    Traces
    ------
    ``premium_name`` (scatter line, y), ``funding_name`` (scatter step line with markers at the settlements,
    each rate drawn over the interval it settled, y2), and the band's
    two lines when ``band`` is given and there is a premium.
    """
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    p = premium.sort_values("ts")
    f = funding.sort_values("ts")
    if band is not None and not p.empty:
        _band_traces(fig, p["ts"].min(), p["ts"].max(), band, secondary_y=False)
    fig.add_trace(go.Scatter(name=premium_name, x=time_axis(p["ts"]), y=_pct(p["premium"]), mode="lines",
                             line={"color": PREMIUM_COLOR, "width": 1.8}, hovertemplate="%{y:+.4f}%"),
                  secondary_y=False)
    fig.add_trace(go.Scatter(name=funding_name, x=time_axis(f["ts"]), y=_pct(f["value"]), mode="lines+markers",
                             # a settled rate covers the interval ending at its timestamp: draw it over that
                             # interval ("vh": rise at the previous settlement, hold until this one)
                             line={"color": FUNDING_COLOR, "width": 1.4, "shape": "vh"},
                             marker={"size": 4}, hovertemplate="%{y:+.4f}%"),
                  secondary_y=True)
    _layout(fig, title=title, y_title="Premium", height=440)
    fig.update_yaxes(title_text=funding_axis, ticksuffix="%", secondary_y=True, showgrid=False,
                     zeroline=False, tickmode="auto", nticks=7)
    band_pct = [] if band is None or p.empty else [band * 100.0]
    left = _symmetric_range(np.concatenate([_pct(p["premium"]), band_pct]))
    right = _symmetric_range(_pct(f["value"]))
    if left:
        fig.update_yaxes(range=left, secondary_y=False)
    if right:
        fig.update_yaxes(range=right, secondary_y=True)
    if p.empty:
        fig.add_annotation(text="no premium history for this perp", showarrow=False, x=0.5, y=0.9,
                           xref="paper", yref="paper", font={"size": 13})
    return fig
