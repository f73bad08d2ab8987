"""Client pool: thread-safe rate limit, markets loaded once and refreshed, bounded retries, proxyUrl."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, unquote, urlsplit

import ccxt
import pytest

from data_sources.clients import ClientPool, LockedThrottle, build_client
from data_sources.config import load_settings
from data_sources.errors import InvalidQueryError, TemporaryError
from data_sources.simulated import Fault, FaultPlan, RequestLog, SimMarket, SimRequest, make_handler
from data_sources.source import build_live, demo_factory


def _pool(market: SimMarket, *, faults: FaultPlan | None = None, log: RequestLog | None = None,
          clock=time.monotonic, markets_ttl_s: float = 3600.0) -> ClientPool:
    return ClientPool(demo_factory(market, faults=faults, log_=log), markets_ttl_s=markets_ttl_s,
                      max_retries=2, retry_backoff_s=0.001, clock=clock)


# -- rate limit ---------------------------------------------------------------------------------------------


def test_locked_throttle_spaces_slots_across_threads() -> None:
    now = [0.0]
    slept: list[float] = []
    lock = threading.Lock()

    def sleep(s: float) -> None:
        with lock:
            slept.append(s)

    throttle = LockedThrottle(100.0, clock=lambda: now[0], sleep=sleep)
    threads = [threading.Thread(target=lambda: [throttle() for _ in range(5)]) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # 20 calls at a frozen clock: slots at 0, 0.1, ..., 1.9 s -> waits are exactly those offsets
    assert sorted(round(s, 6) for s in slept) == [round(0.1 * i, 6) for i in range(1, 20)]


def test_eight_threads_on_one_client_keep_the_configured_rate(market: SimMarket) -> None:
    """8 threads x 40 real requests on one shared client: never faster than the configured rate."""
    log = RequestLog()
    pool = _pool(market, log=log)
    ex = pool.client("binanceusdm")
    rate_ms = 4.0
    ex.throttle.rate_limit_ms = rate_ms  # premiumIndex with symbol costs 1 on fapi

    def worker() -> None:
        for _ in range(40):
            ex.fapiPublicGetPremiumIndex({"symbol": "BTCUSDT"})

    t0 = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    times = sorted(r.at for r in log.rows("binanceusdm", "*/premiumIndex"))
    assert len(times) == 320
    # ccxt's own unlocked throttle lets 8 threads finish ~8x faster than this (ccxt-notes section 3)
    assert elapsed >= 0.95 * 319 * rate_ms / 1000
    # No burst: slots are reserved under the lock, so a window of N slots holds at most N + 1 requests
    # plus one late-scheduled request per thread (each thread has at most one reserved slot pending).
    slots = 50
    window = slots * rate_ms / 1000
    j = 0
    worst = 0
    for i, t in enumerate(times):
        while times[j] < t - window:
            j += 1
        worst = max(worst, i - j + 1)
    assert worst <= slots + 1 + 8, f"burst of {worst} requests within {window * 1000:.0f} ms"


# -- markets ------------------------------------------------------------------------------------------------


def test_markets_load_once_for_many_threads(market: SimMarket) -> None:
    log = RequestLog()
    pool = _pool(market, log=log)
    threads = [threading.Thread(target=pool.markets, args=("binanceusdm",)) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert log.count("binanceusdm", "*/exchangeInfo") == 1
    assert "BTC/USDT:USDT" in pool.client("binanceusdm").markets


def test_markets_refresh_on_schedule_and_keep_old_on_failure(market: SimMarket) -> None:
    log = RequestLog()
    faults = FaultPlan()
    now = [1000.0]
    pool = _pool(market, log=log, faults=faults, clock=lambda: now[0], markets_ttl_s=3600)
    pool.markets("okx")
    first = log.count("okx")
    now[0] += 3599
    pool.markets("okx")
    assert log.count("okx") == first  # still fresh
    now[0] += 2
    pool.markets("okx")
    assert log.count("okx") == 2 * first  # reloaded
    now[0] += 3601
    faults.add(Fault("server_error", venue="okx"))
    ex = pool.markets("okx")  # reload fails: old markets kept, no exception
    assert "BTC/USDT:USDT" in ex.markets


# -- retries ------------------------------------------------------------------------------------------------


def test_temporary_errors_are_retried_a_bounded_number_of_times(market: SimMarket) -> None:
    log = RequestLog()
    faults = FaultPlan()
    pool = _pool(market, log=log, faults=faults)
    pool.markets("binanceusdm")
    faults.add(Fault("server_error", venue="binanceusdm", path="*/premiumIndex", times=2))
    out = pool.call("binanceusdm", lambda ex: ex.fetch_mark_prices())
    assert out  # third attempt answered
    assert log.count("binanceusdm", "*/premiumIndex") == 3

    faults.add(Fault("timeout", venue="binanceusdm", path="*/premiumIndex"))
    with pytest.raises(TemporaryError):
        pool.call("binanceusdm", lambda ex: ex.fetch_mark_prices())
    assert log.count("binanceusdm", "*/premiumIndex") == 3 + 3  # 1 try + 2 retries


def test_invalid_queries_are_not_retried(market: SimMarket) -> None:
    log = RequestLog()
    pool = _pool(market, log=log)
    pool.markets("binanceusdm")
    before = log.count("binanceusdm")
    with pytest.raises(InvalidQueryError):
        pool.call("binanceusdm", lambda ex: ex.fapiPublicGetPremiumIndex({"symbol": "NOPEUSDT"}))
    assert log.count("binanceusdm") == before + 1


# -- proxyUrl -----------------------------------------------------------------------------------------------

HOSTS = {
    "fapi.binance.com": "binanceusdm",
    "dapi.binance.com": "binancecoinm",
    "api.binance.com": "binance",
    "www.okx.com": "okx",
    "api.bybit.com": "bybit",
    "www.deribit.com": "deribit",
}


class _ProxyServer:
    """A CORS-style proxy on loopback that answers from the simulated exchanges (no internet here)."""

    def __init__(self, market: SimMarket) -> None:
        self.targets: list[str] = []
        handlers = {venue: make_handler(venue, market) for venue in set(HOSTS.values())}
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                raw = self.path[1:]
                target = unquote(raw) if raw.lower().startswith("https%3a") else raw
                outer.targets.append(target)
                parts = urlsplit(target)
                venue = HOSTS.get(parts.hostname or "")
                if venue is None:
                    self.send_response(502)
                    self.end_headers()
                    return
                req = SimRequest(venue, "GET", parts.path, dict(parse_qsl(parts.query)), None)
                resp = handlers[venue].handle(req)
                body = resp.text().encode()
                self.send_response(resp.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def proxy_server() -> Iterator[_ProxyServer]:
    server = _ProxyServer(SimMarket(seed=7, scenario="normal"))  # wall clock, like the live clients
    yield server
    server.close()


def test_ccxt_proxy_url_bug_still_present(proxy_server: _ProxyServer) -> None:
    """Canary: ccxt 4.5.90 rejects any proxyUrl. When this fails, ccxt fixed it: drop the workaround in
    ``clients._fix_proxy_url_check``."""
    ex = ccxt.binanceusdm({"proxyUrl": f"http://127.0.0.1:{proxy_server.port}/"})
    with pytest.raises(ccxt.InvalidProxySettings):
        ex.fetch_time()
    assert proxy_server.targets == []


def test_live_requests_go_through_the_configured_proxy(proxy_server: _ProxyServer) -> None:
    env = {"CARRYDESK_SOURCE": "live",
           "CARRYDESK_CCXT_OPTIONS": json.dumps({"*": {"proxyUrl": f"http://127.0.0.1:{proxy_server.port}/"}})}
    md = build_live(load_settings(env))
    try:
        res = md.term_structure("BTC", venues=["binanceusdm"])
    finally:
        md.close()
    assert not res.errors
    assert set(res.frame["kind"]) == {"perp", "future"}
    assert res.frame["mark"].notna().all()
    assert any(t.startswith("https://fapi.binance.com/fapi/v1/exchangeInfo") for t in proxy_server.targets)
    assert any("/fapi/v1/premiumIndex" in t for t in proxy_server.targets)
    assert all(urlsplit(t).hostname == "fapi.binance.com" for t in proxy_server.targets)


def test_build_client_applies_user_options() -> None:
    ex = build_client("okx", {"timeout": 4321})
    assert ex.timeout == 4321
    assert ex.options["fetchMarkets"]["types"]  # narrowed market types survive the merge
