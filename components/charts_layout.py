"""The dark, transparent layout every Carry Desk chart shares: title top-left, legend outside on the right.

Pure (plotly only). Chart modules call ``side_legend_layout`` instead of repeating the ``update_layout``
block, and pass what differs (hover mode, the legend's group gap and background, axes).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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
