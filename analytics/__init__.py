"""Pure finance math on pandas/numpy (DOMAIN.md): basis and term structure, perpetual premium, funding.

No I/O, no streamlit, no plotly: pages and components call these with frames from ``data_sources``.
"""

from analytics import basis, contracts, funding, funding_stats, premium, term_structure

__all__ = ["basis", "contracts", "funding", "funding_stats", "premium", "term_structure"]
