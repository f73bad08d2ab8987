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


@dataclass(frozen=True)
class InstrumentSpec:
    """What sizing and margining a hedge needs about one perp or dated future (read off its listing).

    Units: ``contract_size`` base units per contract (linear) or USD per contract (inverse);
    ``amount_step`` and ``min_amount`` in contracts; ``taker``/``maker`` fractions of notional. Missing
    values are None. ``*_source`` say where a number came from (``exchange: ...``, ``config: ...``,
    ``documented: ...``, or ccxt's static fee schedule).
    """

    venue: str
    symbol: str
    base: str
    quote: str
    settle: str
    kind: Kind
    linear: bool
    contract_size: float
    amount_step: float | None
    min_amount: float | None
    max_leverage: float | None
    max_leverage_source: str
    expiry_ms: int | None
    taker: float | None
    maker: float | None
    fee_source: str


@dataclass(frozen=True)
class MarginTier:
    """One maintenance-margin tier of a contract.

    A position whose size is in ``(floor, cap]`` (``unit``: the currency its value is measured in, e.g.
    USDT for a linear notional, BTC for an inverse one; or ``contracts``) needs maintenance margin
    ``size * mmr - cum`` in that unit and can be opened at up to ``max_leverage``. ``cap`` is ``inf`` for
    an open-ended last tier. ``source`` starts with ``exchange:``, ``config:`` or ``documented:``.
    """

    tier: int
    floor: float
    cap: float
    unit: str
    mmr: float
    max_leverage: float | None
    cum: float
    source: str


class Family(Protocol):
    """The quirk functions each family module provides (module-level functions, not a class).

    Optional, for the hedge calculator: ``margin_tiers(ex, spec, symbol) -> list[MarginTier]`` where the
    exchange publishes its tiers on a public endpoint (OKX, Bybit), and ``amount_per_contract(market) ->
    float`` where ccxt's order amounts are not contracts (Deribit: USD or coin). The facade falls back to
    ``data_sources.margin`` (config tables, documented rules) and to 1.0.
    """

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
