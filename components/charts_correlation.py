"""Plotly figures of the Correlation page: pure builders, tidy frames in, ``go.Figure`` out (no streamlit).

Every trace is named so tests and users find it: ``"<pair> · <N>"`` for a rolling series over N
observations, ``"<pair> · band"`` / ``"<pair> · band mean"`` for the correlation's own long-run band,
``"<pair> · episodes"`` for decoupling-episode markers. Each figure plots exactly the rows it is given, so
the page's CSV of the same frame is the charted data.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from components.charts_layout import TRANSPARENT, side_legend_layout, time_axis

SERIES_COLORS: tuple[str, ...] = ("#f7931a", "#8c8cff", "#fff176", "#4fd1c5", "#e8575a", "#9ccc65", "#b07cf7")
PAIR_COLORS: tuple[str, ...] = ("#4c9aff", "#f5a623", "#2ecc71", "#e8575a", "#b07cf7", "#1abc9c", "#f06292")
BAND_FILL = "rgba(154, 160, 166, 0.16)"
BAND_LINE = "rgba(154, 160, 166, 0.55)"
EPISODE_COLOR = "#ff5c5c"
# A diverging scale with a dark middle (the theme's background): blue = negative, red = positive.
DIVERGING: list[list[float | str]] = [[0.0, "#2c7bd6"], [0.5, "#1b2130"], [1.0, "#e8575a"]]

PRICES_COLUMNS: tuple[str, ...] = ("ts", "series", "price", "rebased")
ROLLING_COLUMNS: tuple[str, ...] = ("ts", "pair", "asset", "proxy", "window", "correlation", "beta",
                                    "band_mean", "band_lo", "band_hi")


def _layout(fig: go.Figure, *, title: str, height: int, legend: bool = True) -> go.Figure:
    return side_legend_layout(fig, title=title, height=height, hovermode="x unified", showlegend=legend,
                              legend={"bgcolor": TRANSPARENT, "tracegroupgap": 4})


def rebased_figure(prices: pd.DataFrame, *, title: str = "Prices rebased to 100") -> go.Figure:
    """One line per series of ``prices`` (columns ``PRICES_COLUMNS``): price / first price * 100."""
    fig = go.Figure()
    for i, (name, rows) in enumerate(prices.groupby("series", sort=False)):
        fig.add_trace(go.Scatter(
            x=time_axis(rows["ts"]), y=rows["rebased"], name=str(name), mode="lines",
            line={"color": SERIES_COLORS[i % len(SERIES_COLORS)], "width": 1.6},
            customdata=rows["price"],
            hovertemplate="%{y:.1f} (price %{customdata:,.2f})<extra>%{fullData.name}</extra>",
        ))
    fig.add_hline(y=100, line={"color": BAND_LINE, "width": 1, "dash": "dot"})
    fig.update_yaxes(title="Rebased (first close in view = 100)")
    return _layout(fig, title=title, height=380)


def correlation_figure(rolling: pd.DataFrame, episodes: pd.DataFrame, *, pairs: Sequence[str],
                       windows: Sequence[int], band_window: int, title: str) -> go.Figure:
    """Rolling correlation per pair (one panel each): every window's line, the band of ``band_window``'s
    correlation shaded with its mean, and a marker at each decoupling episode's start.

    ``rolling``: columns ``ROLLING_COLUMNS``; ``episodes``: ``analytics.correlation.EPISODE_COLUMNS`` plus a
    ``pair`` and a ``rule`` text column.
    """
    pairs = [p for p in pairs if p in set(rolling["pair"])]
    rows = max(1, len(pairs))
    fig = make_subplots(rows=rows, cols=1, shared_xaxes=True, vertical_spacing=0.06 if rows > 1 else 0.0,
                        subplot_titles=list(pairs) or None)
    dashes = ("solid", "dash", "dot", "dashdot")
    for r, pair in enumerate(pairs, start=1):
        color = PAIR_COLORS[(r - 1) % len(PAIR_COLORS)]
        data = rolling[rolling["pair"] == pair]
        band = data[data["window"] == band_window]
        fig.add_trace(go.Scatter(x=time_axis(band["ts"]), y=band["band_hi"], name=f"{pair} · band", mode="lines",
                                 line={"width": 0.6, "color": BAND_LINE}, legendgroup=pair, showlegend=False,
                                 hoverinfo="skip"), row=r, col=1)
        fig.add_trace(go.Scatter(x=time_axis(band["ts"]), y=band["band_lo"], name=f"{pair} · band", mode="lines",
                                 line={"width": 0.6, "color": BAND_LINE}, fill="tonexty", fillcolor=BAND_FILL,
                                 legendgroup=pair, hoverinfo="skip",
                                 showlegend=r == 1), row=r, col=1)
        fig.add_trace(go.Scatter(x=time_axis(band["ts"]), y=band["band_mean"], name=f"{pair} · band mean", mode="lines",
                                 line={"width": 1, "color": BAND_LINE, "dash": "dot"}, legendgroup=pair,
                                 showlegend=False, hovertemplate="mean %{y:.2f}<extra></extra>"), row=r, col=1)
        for i, w in enumerate(windows):
            line = data[data["window"] == w]
            fig.add_trace(go.Scatter(
                x=time_axis(line["ts"]), y=line["correlation"], name=f"{pair} · {w}", mode="lines", legendgroup=pair,
                line={"color": color, "width": 1.8 if w == band_window else 1.2, "dash": dashes[i % len(dashes)]},
                hovertemplate=f"{w} obs: %{{y:.2f}}<extra>{pair}</extra>"), row=r, col=1)
        eps = episodes[episodes["pair"] == pair] if not episodes.empty else episodes
        if not eps.empty:
            at = band.set_index("ts")["correlation"].reindex(pd.DatetimeIndex(eps["start"]))
            y_at = at.to_numpy(dtype="float64")
            fig.add_trace(go.Scatter(
                x=time_axis(eps["start"]), y=np.where(np.isfinite(y_at), y_at, 0.0),
                name=f"{pair} · episodes", mode="markers", legendgroup=pair,
                marker={"symbol": "diamond", "size": 9, "color": EPISODE_COLOR, "line": {"width": 1, "color": "#fff"}},
                text=eps["rule"], hovertemplate="%{x|%Y-%m-%d}: %{text}<extra>episode</extra>"), row=r, col=1)
        fig.add_hline(y=0, line={"color": "rgba(255,255,255,0.25)", "width": 1}, row=r, col=1)
        fig.update_yaxes(range=[-1.05, 1.05], tickformat=".1f", row=r, col=1)
    return _layout(fig, title=title, height=140 + 230 * rows)


def beta_figure(rolling: pd.DataFrame, *, pairs: Sequence[str], window: int, title: str) -> go.Figure:
    """Rolling beta of each asset on each proxy over ``window`` observations (cov / var of the proxy)."""
    fig = go.Figure()
    for i, pair in enumerate(p for p in pairs if p in set(rolling["pair"])):
        data = rolling[(rolling["pair"] == pair) & (rolling["window"] == window)]
        fig.add_trace(go.Scatter(x=time_axis(data["ts"]), y=data["beta"], name=f"{pair} · {window}", mode="lines",
                                 line={"color": PAIR_COLORS[i % len(PAIR_COLORS)], "width": 1.5},
                                 hovertemplate="%{y:.2f}<extra>%{fullData.name}</extra>"))
    fig.add_hline(y=0, line={"color": "rgba(255,255,255,0.25)", "width": 1})
    fig.update_yaxes(title="Beta (asset on proxy)", tickformat=".2f")
    return _layout(fig, title=title, height=360)


def matrix_figure(matrix: pd.DataFrame, *, title: str) -> go.Figure:
    """Correlation matrix heatmap, each cell labelled with its value (NaN cells blank)."""
    z = matrix.to_numpy(dtype="float64")
    text = [["" if not np.isfinite(v) else f"{v:.2f}" for v in row] for row in z]
    fig = go.Figure(go.Heatmap(
        z=z, x=list(matrix.columns), y=list(matrix.index), zmin=-1, zmax=1, colorscale=DIVERGING,
        text=text, texttemplate="%{text}", name="correlation matrix",
        hovertemplate="%{y} / %{x}: %{z:.2f}<extra></extra>", colorbar={"title": "ρ", "thickness": 12},
    ))
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, title=title, height=120 + 60 * len(matrix), legend=False)
