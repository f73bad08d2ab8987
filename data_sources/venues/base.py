"""What a venue is (config) and what its exchange family's quirk code must provide (protocol).

A *venue* is one ccxt client: Binance spot, Binance USD-M, Binance COIN-M, OKX, Bybit, Deribit. Venues of
one exchange share a *family* module (``data_sources/venues/<family>.py``) holding the few functions where
exchanges really differ (which endpoint carries the index price, which way funding history pages, ...).
Everything generic -- caching, fan-out, frames, error translation, retries -- lives in the facade.

Family functions receive a ready ccxt client (markets loaded, rate limiter installed) and return plain
rows (the dataclasses below). They raise ccxt errors freely; the facade translates them.
All timestamps are integer milliseconds since the epoch, UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

Kind = Literal["spot", "perp", "future"]
PriceField = Literal["last", "mark", "index", "premium_index"]


@dataclass(frozen=True)
class VenueSpec:
    """Config of one venue: which ccxt class, which market types to load, its family's quirks.

    Attributes
    ----------
    id : str
        Our venue id, also the ccxt exchange id (``binance``, ``binanceusdm``, ...).
    label : str
        Human name shown on pages.
    family : str
        Module under ``data_sources/venues/`` with the quirk functions.
    market_types : tuple[str, ...]
        Passed as ``options.fetchMarkets.types`` so ``load_markets`` makes few calls.
    kinds : tuple[Kind, ...]
        Instrument kinds this venue serves to the facade.
    options : dict
        Extra ccxt constructor options (merged under the user's ``CARRYDESK_CCXT_OPTIONS``).
    """

    id: str
    label: str
    family: str
    ccxt_class: str
    market_types: tuple[str, ...]
    kinds: tuple[Kind, ...]
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Contract:
    """A perp or dated future as listed in the loaded markets (no prices)."""

    venue: str
    symbol: str  # ccxt unified symbol, e.g. BTC/USDT:USDT-260327
    base: str
    quote: str
    settle: str
    kind: Kind
    linear: bool
    contract_size: float
    expiry_ms: int | None


@dataclass(frozen=True)
class Quote:
    """Prices of one instrument at one moment. Missing values are None, never a sentinel."""

    symbol: str
    last: float | None
    mark: float | None
    index: float | None
    ts_ms: int | None


@dataclass(frozen=True)
class FundingNow:
    """Current funding of one perp.

    ``rate`` is the rate for the coming (or running) settlement as the venue reports it, per interval of
    ``interval_hours``. ``interval_inferred`` is True when the venue did not state the interval.
    """

    symbol: str
    rate: float | None
    interval_hours: float | None
    interval_inferred: bool
    next_funding_ms: int | None
    predicted_rate: float | None
    ts_ms: int | None


@dataclass(frozen=True)
class FundingPoint:
    """One settled funding row: ``rate`` per ``interval_hours`` (Deribit: hourly accrual, see family)."""

    ts_ms: int
    rate: float
    interval_hours: float


class Family(Protocol):
    """The quirk functions each family module provides (module-level functions, not a class)."""

    def contracts(self, ex: Any, spec: VenueSpec, base: str) -> list[Contract]:
        """Perps and unexpired dated futures for ``base`` from ``ex.markets`` (pure, no I/O)."""
        ...

    def quotes(self, ex: Any, spec: VenueSpec, base: str, contracts: list[Contract]) -> list[Quote]:
        """Last, mark and index for the given contracts (few calls: bulk endpoints)."""
        ...

    def funding_now(self, ex: Any, spec: VenueSpec, perps: list[Contract]) -> list[FundingNow]:
        """Current funding for the given perps."""
        ...

    def funding_history(
        self, ex: Any, spec: VenueSpec, symbol: str, start_ms: int, end_ms: int
    ) -> list[FundingPoint]:
        """Every settlement in [start_ms, end_ms], ascending, by a cursor loop (never ccxt paginate)."""
        ...

    def ohlcv(
        self,
        ex: Any,
        spec: VenueSpec,
        symbol: str,
        timeframe: str,
        price: PriceField,
        start_ms: int,
        end_ms: int,
    ) -> list[list[float]]:
        """Candles ``[ts, o, h, l, c, v]`` with open time in [start_ms, end_ms], ascending, complete."""
        ...
