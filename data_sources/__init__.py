"""All market-data I/O of Carry Desk: venues over ccxt, caching, config, simulated exchanges.

Pages use ``get_market_data()`` and catch ``DataSourceError``; nothing else here is their business.
"""

from __future__ import annotations

from data_sources.errors import (
    BadResponseError,
    DataSourceError,
    EmptyResultError,
    InvalidQueryError,
    RateLimitedError,
    TemporaryError,
    UnsupportedError,
)
from data_sources.facade import FrameResult, MarketData
from data_sources.source import get_market_data, reset_market_data

__all__ = [
    "BadResponseError",
    "DataSourceError",
    "EmptyResultError",
    "FrameResult",
    "InvalidQueryError",
    "MarketData",
    "RateLimitedError",
    "TemporaryError",
    "UnsupportedError",
    "get_market_data",
    "reset_market_data",
]
