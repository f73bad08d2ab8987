"""The dark, transparent layout every Carry Desk chart shares: title top-left, legend outside on the right.

Pure (plotly only). Chart modules call ``side_legend_layout`` instead of repeating the ``update_layout``
block, and pass what differs (hover mode, the legend's group gap and background, axes).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

TEMPLATE = "plotly_dark"
TRANSPARENT = "rgba(0,0,0,0)"
TITLE_FONT_SIZE = 15
LEGEND_FONT_SIZE = 11
MARGIN = {"l": 10, "r": 10, "t": 48, "b": 10}


def side_legend_layout(fig: go.Figure, *, title: str, height: int, hovermode: str,
                       showlegend: bool | None = None, legend: Mapping[str, Any] | None = None,
                       **layout: Any) -> go.Figure:
    """Apply the shared layout to ``fig`` (in place) and return it.

    ``legend`` adds to the right-hand legend (e.g. ``bgcolor``, ``tracegroupgap``); ``showlegend`` None
    leaves plotly's default; ``layout`` passes anything else (axes) to ``update_layout``.
    """
    extra: dict[str, Any] = dict(layout)
    if showlegend is not None:
        extra["showlegend"] = showlegend
    fig.update_layout(
        template=TEMPLATE,
        paper_bgcolor=TRANSPARENT,
        plot_bgcolor=TRANSPARENT,
        title={"text": title, "x": 0.0, "xanchor": "left", "font": {"size": TITLE_FONT_SIZE}},
        height=height,
        margin=dict(MARGIN),
        hovermode=hovermode,
        legend={"x": 1.02, "xanchor": "left", "y": 1.0, "yanchor": "top", "font": {"size": LEGEND_FONT_SIZE},
                **(legend or {})},
        **extra,
    )
    return fig


def time_axis(values: Iterable[Any]) -> np.ndarray:
    """Times for a date axis, as ISO-8601 UTC strings without offset (plotly.js draws dates as given and
    ignores offsets); missing times are None (a gap).

    A figure holding pandas timestamps is serialized one Timestamp at a time (each deep-copied, then
    formatted) every time a page draws it: 34 ms for 5,400 points against 6 ms for the same points as
    strings, formatted here once when the figure is built (figures are built once per version of their
    data, ``components.derived``, and drawn on every view). Seconds, or microseconds where any time has them.
    """
    times = pd.DatetimeIndex(pd.to_datetime(pd.Index(values), utc=True))
    naive = times.tz_localize(None).to_numpy(dtype="datetime64[us]")
    valid = ~np.isnat(naive)
    whole = bool((naive[valid].astype("int64") % 1_000_000 == 0).all()) if valid.any() else True
    text = np.datetime_as_string(naive, unit="s" if whole else "us")
    out = text.astype(object)
    out[~valid] = None
    return out
