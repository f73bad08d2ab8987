"""The venues Carry Desk knows, as config over their ccxt classes."""

from __future__ import annotations

import importlib
from types import ModuleType

from data_sources.venues.base import (
    Contract,
    Family,
    FundingNow,
    FundingPoint,
    PriceField,
    Quote,
    VenueSpec,
)

# Market types are narrowed so load_markets makes one call per type (Bybit's defaults make 11).
VENUES: dict[str, VenueSpec] = {
    spec.id: spec
    for spec in (
        VenueSpec(
            id="binance",
            label="Binance spot",
            family="binance",
            ccxt_class="binance",
            market_types=("spot",),
            kinds=("spot",),
        ),
        VenueSpec(
            id="binanceusdm",
            label="Binance USDⓈ-M",
            family="binance",
            ccxt_class="binanceusdm",
            market_types=("linear",),
            kinds=("perp", "future"),
        ),
        VenueSpec(
            id="binancecoinm",
            label="Binance COIN-M",
            family="binance",
            ccxt_class="binancecoinm",
            market_types=("inverse",),
            kinds=("perp", "future"),
        ),
        VenueSpec(
            id="okx",
            label="OKX",
            family="okx",
            ccxt_class="okx",
            market_types=("swap", "future"),
            kinds=("perp", "future"),
        ),
        VenueSpec(
            id="bybit",
            label="Bybit",
            family="bybit",
            ccxt_class="bybit",
            market_types=("linear", "inverse"),
            kinds=("perp", "future"),
        ),
        VenueSpec(
            id="deribit",
            label="Deribit",
            family="deribit",
            ccxt_class="deribit",
            market_types=("future", "swap"),
            kinds=("perp", "future"),
        ),
        VenueSpec(
            id="hyperliquid",
            label="Hyperliquid",
            family="hyperliquid",
            ccxt_class="hyperliquid",
            # main-dex perps and HIP-3 dexes; which dexes: the family's CCXT_OPTIONS (hip3.dexes)
            market_types=("swap", "hip3"),
            kinds=("perp",),
        ),
    )
}

DERIVATIVE_VENUES: tuple[str, ...] = tuple(v for v, s in VENUES.items() if "perp" in s.kinds)


def family_of(spec: VenueSpec) -> ModuleType:
    """The module with the venue's quirk functions (see ``Family``)."""
    return importlib.import_module(f"data_sources.venues.{spec.family}")


__all__ = [
    "DERIVATIVE_VENUES",
    "VENUES",
    "Contract",
    "Family",
    "FundingNow",
    "FundingPoint",
    "PriceField",
    "Quote",
    "VenueSpec",
    "family_of",
]
