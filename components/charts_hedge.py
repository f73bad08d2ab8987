"""Plotly figures of the hedge calculator: pure builders, frames in, ``go.Figure`` out (no streamlit).

Input is ``components.hedge_view.scenario_tables``' frame (labelled columns, moves in %, money in USD). Every
trace is named so tests and users find it.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from components.charts_layout import side_legend_layout

COLORS = {"Spot P&L": "#e8575a", "Hedge P&L": "#4c9aff", "Funding/basis + fees": "#f5a623", "Net": "#2ecc71"}
GAIN, LOSS = "#2ecc71", "#e8575a"  # net bars: what the book makes, what it loses
HOLDING_COLORS = ("#b07cf7", "#1abc9c", "#f06292", "#cddc39", "#90a4ae", "#f5a623")
TOTAL = "Total"


def scenario_figure(scenarios: pd.DataFrame, *, title: str) -> go.Figure:
    """The book's P&L across price moves: spot, hedge, carry + fees and net (total), and each holding's net.

    Traces: "Spot P&L", "Hedge P&L", "Funding/basis + fees", "Net" (the Total rows, absent when there are none),
    then "Net · <asset>" (dotted) per holding when there are several (each over its own range), and "Net ±1sd
    beta residual" band edges for a proxy hedge (over the Total's moves).
    """
    fig = go.Figure()
    total = scenarios[scenarios["Asset"] == TOTAL].sort_values("Move %")
    x = total["Move %"]
    series = {
        "Spot P&L": total["Spot P&L"], "Hedge P&L": total["Hedge P&L"],
        "Funding/basis + fees": total["Funding/basis"] + total["Fees"], "Net": total["Net"],
    }
    for name, y in series.items() if not total.empty else ():  # no Total: ranges share no move
        fig.add_trace(go.Scatter(x=x, y=y, name=name, mode="lines+markers" if name == "Net" else "lines",
                                 line={"color": COLORS[name], "width": 3 if name == "Net" else 2},
                                 hovertemplate="%{x:+.0f}%: %{y:,.2f} USD<extra>" + name + "</extra>"))
    assets = [a for a in dict.fromkeys(scenarios["Asset"]) if a != TOTAL]
    if len(assets) > 1:
        for i, asset in enumerate(assets):
            part = scenarios[scenarios["Asset"] == asset].sort_values("Move %")
            fig.add_trace(go.Scatter(x=part["Move %"], y=part["Net"], name=f"Net · {asset}", mode="lines",
                                     line={"color": HOLDING_COLORS[i % len(HOLDING_COLORS)], "dash": "dot"},
                                     hovertemplate="%{x:+.0f}%: %{y:,.2f} USD<extra>" + asset + "</extra>"))
    resid = scenarios.loc[scenarios["Asset"] != TOTAL, ["Move %", "Beta residual ±1sd"]].dropna()
    if not resid.empty:
        band = resid.groupby("Move %")["Beta residual ±1sd"].sum().reindex(x).to_numpy()
        for sign, label in ((1, "Net +1sd beta residual"), (-1, "Net −1sd beta residual")):
            fig.add_trace(go.Scatter(x=x, y=total["Net"].to_numpy() + sign * band, name=label, mode="lines",
                                     line={"color": COLORS["Net"], "dash": "dash", "width": 1},
                                     hovertemplate="%{x:+.0f}%: %{y:,.2f} USD<extra>" + label + "</extra>"))
    fig.add_hline(y=0, line={"color": "rgba(255,255,255,0.35)", "width": 1})
    return side_legend_layout(
        fig, title=title, height=440, hovermode="x unified",
        xaxis={"title": "Price move of the hedged asset (%)", "ticksuffix": "%", "zeroline": False},
        yaxis={"title": "P&L over the horizon (USD)", "tickformat": ",.0f"},
    )


def net_figure(scenarios: pd.DataFrame, *, title: str) -> go.Figure:
    """Net P&L alone, on its own scale: "Net · Total" and "Net · <asset>" per holding (bars: the total, green
    where the book gains and red where it loses)."""
    fig = go.Figure()
    total = scenarios[scenarios["Asset"] == TOTAL].sort_values("Move %")
    colors = [LOSS if v < 0 else GAIN for v in total["Net"]]
    fig.add_trace(go.Bar(x=total["Move %"], y=total["Net"], name="Net · Total", marker={"color": colors},
                         hovertemplate="%{x:+.0f}%: %{y:,.2f} USD<extra>Total</extra>"))
    for i, asset in enumerate(a for a in dict.fromkeys(scenarios["Asset"]) if a != TOTAL):
        part = scenarios[scenarios["Asset"] == asset].sort_values("Move %")
        fig.add_trace(go.Scatter(x=part["Move %"], y=part["Net"], name=f"Net · {asset}", mode="lines+markers",
                                 line={"color": HOLDING_COLORS[i % len(HOLDING_COLORS)]},
                                 hovertemplate="%{x:+.0f}%: %{y:,.2f} USD<extra>" + asset + "</extra>"))
    return side_legend_layout(
        fig, title=title, height=360, hovermode="x unified",
        xaxis={"title": "Price move of the hedged asset (%)", "ticksuffix": "%"},
        yaxis={"title": "Net P&L (USD)", "tickformat": ",.0f"},
    )
