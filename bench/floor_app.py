"""The benchmark's floor: a minimal Streamlit page of plotly line charts, served like Carry Desk.

``?charts=N&points=P`` draws N charts sharing P points (date on x, like the dashboard's histories). What a
Carry Desk page takes beyond this page's time, with as many charts and points, is the page's own cost;
the rest is Streamlit's and plotly's in this browser on this machine.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

MAX_CHARTS = 20
MAX_POINTS = 200_000


def _int(name: str, default: int, hi: int) -> int:
    try:
        return max(1, min(hi, int(st.query_params.get(name, default))))
    except ValueError:
        return default


st.set_page_config(page_title="Floor", layout="wide")
charts = _int("charts", 1, MAX_CHARTS)
points = _int("points", 100, MAX_POINTS)
st.title("Floor")
rng = np.random.default_rng(0)
per_chart = max(1, points // charts)
x = pd.date_range("2026-01-01", periods=per_chart, freq="h", tz="UTC")
for i in range(charts):
    fig = go.Figure(go.Scatter(x=x, y=rng.standard_normal(per_chart).cumsum(), mode="lines", name=f"series {i}"))
    fig.update_layout(title=f"Chart {i + 1} of {charts}", height=420)
    st.plotly_chart(fig, width="stretch", key=f"floor_{i}")
