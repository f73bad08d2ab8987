"""Simulated exchanges for demo mode and tests: one market, per-venue handlers in real API formats."""

from __future__ import annotations

import importlib

from data_sources.simulated.market import SCENARIOS, SimInstrument, SimMarket, shared_market
from data_sources.simulated.transport import (
    FAULT_KINDS,
    Fault,
    FaultPlan,
    RequestLog,
    SimRequest,
    SimResponse,
    SimTransport,
    VenueHandler,
    mount,
)
from data_sources.venues import VENUES


def make_handler(venue: str, market: SimMarket) -> VenueHandler:
    """The simulated exchange for ``venue`` (its family module's ``make_handler``)."""
    family = VENUES[venue].family
    module = importlib.import_module(f"data_sources.simulated.{family}")
    handler: VenueHandler = module.make_handler(venue, market)
    return handler


__all__ = [
    "FAULT_KINDS",
    "SCENARIOS",
    "Fault",
    "FaultPlan",
    "RequestLog",
    "SimInstrument",
    "SimMarket",
    "SimRequest",
    "SimResponse",
    "SimTransport",
    "VenueHandler",
    "make_handler",
    "mount",
    "shared_market",
]


def demo_client(venue: str, market: SimMarket, *, faults: FaultPlan | None = None,
                log: RequestLog | None = None) -> object:
    """A real ccxt client for ``venue`` wired to the simulated exchange, its clock set to the market's.

    Rate limiting is off here (the client pool installs its own thread-safe limiter).
    """
    from data_sources.clients import build_client

    ex = build_client(venue, {"enableRateLimit": False})
    ex.milliseconds = market.now_ms  # ccxt reads its clock for windows and pagination
    mount(ex, SimTransport(make_handler(venue, market), faults=faults, log=log))
    return ex


__all__ += ["demo_client"]
