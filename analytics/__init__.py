"""Pure finance math on pandas/numpy: basis and term structure, funding (DOMAIN.md).

No I/O, no streamlit, no plotly: pages and components call these with frames from ``data_sources``.
"""

from analytics import basis, funding

__all__ = ["basis", "funding"]
