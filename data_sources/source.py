"""Which source a view gets (live or demo), and the process-wide facades behind ``get_market_data``.

``auto`` goes live when any exchange answers a cheap public request within a short deadline and falls
back to demo when none does; the decision is cached and re-checked every ``ttl.probe`` seconds. A view asks
once per run, so simulated and live data are never mixed on one view.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from typing import Any

from data_sources.cache import DataCache
from data_sources.clients import ClientPool, build_client
from data_sources.config import DEFAULT_TTLS, Settings, load_settings
from data_sources.errors import translate
from data_sources.facade import MarketData
from data_sources.simulated import Fault, FaultPlan, RequestLog, SimMarket, SimTransport, make_handler, mount
from data_sources.simulated.market import shared_market
from data_sources.venues import VENUES

log = logging.getLogger(__name__)

CACHE_MAXSIZE = 512


def make_cache(settings: Settings, **kwargs: Any) -> DataCache:
    ttls = {kind: (settings.ttls.get(kind, ttl), CACHE_MAXSIZE) for kind, ttl in DEFAULT_TTLS.items()}
    return DataCache(ttls, **kwargs)


def demo_factory(market: SimMarket, *, faults: FaultPlan | None = None,
                 log_: RequestLog | None = None, settings: Settings | None = None) -> Callable[[str], Any]:
    """Builds real ccxt clients wired to the simulated exchanges (clock = the market's clock).

    The user's proxy settings are not applied: no request leaves the process in demo mode.
    """
    request_log = log_ or RequestLog()
    plan = faults or FaultPlan()

    def make(venue: str) -> Any:
        user = {}
        if settings is not None:
            user = {k: v for k, v in settings.options_for(venue).items()
                    if k not in ("proxyUrl", "httpProxy", "httpsProxy", "socksProxy", "proxies")}
        ex = build_client(venue, user)
        ex.milliseconds = market.now_ms  # ccxt reads its clock for windows and pagination
        mount(ex, SimTransport(make_handler(venue, market), faults=plan, log=request_log))
        return ex

    return make


def live_factory(settings: Settings) -> Callable[[str], Any]:
    def make(venue: str) -> Any:
        return build_client(venue, settings.options_for(venue))

    return make


def build_demo(settings: Settings, *, market: SimMarket | None = None, faults: FaultPlan | None = None,
               request_log: RequestLog | None = None, cache: DataCache | None = None) -> MarketData:
    """A demo facade (the shared wall-clock market unless one is given)."""
    market = market or shared_market(settings.demo_seed, settings.demo_scenario)
    if faults is None:
        faults = FaultPlan([Fault(**f) for f in settings.demo_faults])
    if request_log is None:  # a file sink only when CARRYDESK_DEMO_REQUEST_LOG asks for one
        request_log = RequestLog(sink=settings.demo_request_log)
    pool = ClientPool(
        demo_factory(market, faults=faults, log_=request_log, settings=settings),
        markets_ttl_s=settings.ttls["markets"],
        max_retries=settings.max_retries,
        retry_backoff_s=settings.retry_backoff_s,
    )
    md = MarketData(source="demo", pool=pool, cache=cache or make_cache(settings), settings=settings,
                    market=market)
    md.request_log = request_log  # type: ignore[attr-defined]
    md.faults = faults  # type: ignore[attr-defined]
    return md


def build_live(settings: Settings, *, cache: DataCache | None = None) -> MarketData:
    pool = ClientPool(
        live_factory(settings),
        markets_ttl_s=settings.ttls["markets"],
        max_retries=settings.max_retries,
        retry_backoff_s=settings.retry_backoff_s,
    )
    return MarketData(source="live", pool=pool, cache=cache or make_cache(settings), settings=settings)


def probe_live(settings: Settings, *, venues: tuple[str, ...] | None = None) -> tuple[bool, dict[str, str]]:
    """Does any exchange answer? Returns (reachable, venue -> outcome). Bounded by ``probe_timeout_s``.

    Each venue gets one ``fetch_time`` with a short timeout; the first success ends the wait. A refused
    connection or failed DNS lookup fails within milliseconds, so an offline machine decides fast.
    """
    venues = venues or tuple(v for v in settings.venues if v in VENUES)
    timeout_ms = int(settings.probe_timeout_s * 1000)
    outcomes: dict[str, str] = {}

    def one(venue: str) -> str:
        ex = build_client(venue, {**settings.options_for(venue), "timeout": timeout_ms})
        try:
            ex.fetch_time()
            return "ok"
        finally:
            if ex.session is not None:
                ex.session.close()

    pool = ThreadPoolExecutor(max_workers=len(venues) or 1, thread_name_prefix="carrydesk-probe")
    try:
        futures = {pool.submit(one, v): v for v in venues}
        deadline = time.monotonic() + settings.probe_timeout_s + 0.5
        pending = set(futures)
        while pending:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            done, pending = wait(pending, timeout=left, return_when=FIRST_COMPLETED)
            for fut in done:
                venue = futures[fut]
                try:
                    outcomes[venue] = fut.result()
                except Exception as e:  # any failure means "not reachable"; the reason is reported
                    outcomes[venue] = str(translate(e, venue=venue))[:300]
                if outcomes[venue] == "ok":
                    return True, outcomes
        for fut in pending:
            outcomes[futures[fut]] = "no answer within the probe deadline"
        return False, outcomes
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


class SourceSelector:
    """Holds the facades of this process and resolves ``auto`` (cached, re-checked every probe TTL)."""

    def __init__(self, settings: Settings, *, probe: Callable[[Settings], tuple[bool, dict[str, str]]] = probe_live,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self._probe = probe
        self._clock = clock
        self._lock = threading.Lock()
        self._facades: dict[str, MarketData] = {}
        self._decided: tuple[str, float] | None = None
        self.last_probe: dict[str, str] = {}

    def mode(self) -> str:
        if self.settings.source != "auto":
            return self.settings.source
        with self._lock:
            if self._decided is not None and self._clock() - self._decided[1] < self.settings.ttls["probe"]:
                return self._decided[0]
            reachable, outcomes = self._probe(self.settings)
            self.last_probe = outcomes
            mode = "live" if reachable else "demo"
            if self._decided is None or self._decided[0] != mode:
                log.info("data source: %s (probe: %s)", mode, outcomes)
            self._decided = (mode, self._clock())
            return mode

    def facade(self) -> MarketData:
        mode = self.mode()
        with self._lock:
            md = self._facades.get(mode)
            if md is None:
                md = build_demo(self.settings) if mode == "demo" else build_live(self.settings)
                self._facades[mode] = md
            return md


_SELECTORS: dict[tuple[tuple[str, str], ...], SourceSelector] = {}
_SELECTORS_LOCK = threading.Lock()
_ENV_KEYS = ("CARRYDESK_SOURCE", "CARRYDESK_CCXT_OPTIONS", "CARRYDESK_DEMO_SCENARIO", "CARRYDESK_DEMO_SEED",
             "CARRYDESK_DEMO_FAULTS", "CARRYDESK_CONFIG", "CARRYDESK_PROXY_GOLD", "CARRYDESK_PROXY_NASDAQ",
             "CARRYDESK_DEMO_REQUEST_LOG")


def get_market_data() -> MarketData:
    """The process-wide facade for the current configuration (environment + TOML)."""
    import os

    key = tuple((k, os.environ.get(k, "")) for k in _ENV_KEYS)
    with _SELECTORS_LOCK:
        selector = _SELECTORS.get(key)
        if selector is None:
            selector = SourceSelector(load_settings())
            _SELECTORS[key] = selector
    return selector.facade()


def reset_market_data() -> None:
    """Forget every facade (tests; a config change)."""
    with _SELECTORS_LOCK:
        for selector in _SELECTORS.values():
            for md in selector._facades.values():
                md.close()
        _SELECTORS.clear()
