"""ccxt clients: construction, a thread-safe rate limiter, and the per-process client pool.

One sync ccxt client per venue serves every session of the server (STYLE.md convention 8). ccxt's own
sync ``throttle`` is not safe across threads (ccxt-notes.md section 3: 8 threads produced bursts), so each
pool client gets a ``LockedThrottle`` in its place. Markets are loaded once per client and reloaded on a
schedule; a failed reload keeps the markets we have.
"""

from __future__ import annotations

import copy
import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import ccxt

from data_sources.errors import BadResponseError, DataSourceError, TemporaryError, translate
from data_sources.venues import VENUES, VenueSpec, family_of

log = logging.getLogger(__name__)
T = TypeVar("T")


def client_options(spec: VenueSpec, user_options: dict[str, Any] | None = None) -> dict[str, Any]:
    """ccxt constructor options for ``spec``: our defaults, the family's, then the user's."""
    opts: dict[str, Any] = {
        "enableRateLimit": True,
        "timeout": 10_000,
        "options": {"fetchMarkets": {"types": list(spec.market_types)}},
    }
    opts = _deep_merge(opts, copy.deepcopy(spec.options))
    family_opts = getattr(family_of(spec), "CCXT_OPTIONS", {}).get(spec.id, {})
    opts = _deep_merge(opts, copy.deepcopy(family_opts))
    if user_options:
        opts = _deep_merge(opts, copy.deepcopy(user_options))
    return opts


def build_client(venue: str, user_options: dict[str, Any] | None = None) -> Any:
    """A fresh ccxt client for ``venue`` (no network I/O), with the proxyUrl workaround applied."""
    spec = VENUES[venue]
    cls = getattr(ccxt, spec.ccxt_class)
    ex = cls(client_options(spec, user_options))
    _fix_proxy_url_check(ex)
    ex.on_rest_response = strict_json_body
    return ex


def strict_json_body(
    code: int,
    reason: str,
    url: str,
    method: str,
    response_headers: Any,
    response_body: str,
    request_headers: Any,
    request_body: Any,
) -> str:
    """ccxt's ``on_rest_response`` hook, made strict for successful answers.

    ccxt hands a 2xx body that is not JSON back as a string, and the Binance and Bybit parsers then read
    it as rows or an empty result: a truncated or proxy-mangled answer would silently become "no data".
    Every public endpoint we use answers JSON, so anything else on a 2xx is a ``BadResponse``. Error
    statuses pass through untouched: ccxt maps HTML ban and gateway pages by status code.
    """
    body = response_body.strip()
    if 200 <= int(code) < 300:
        try:
            json.loads(body)
        except ValueError as e:
            raise ccxt.BadResponse(f"{method} {url}: {code} answer is not JSON: {body[:120]!r}") from e
    return body


def _deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in extra.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = v
    return out


def _fix_proxy_url_check(ex: Any) -> None:
    """Work around ccxt 4.5.90 rejecting every ``proxyUrl`` (ccxt-notes.md section 7).

    ``Exchange.fetch`` passes ``proxyAgentSet = proxies is not None`` -- a bool -- to
    ``check_conflicting_proxies``, which counts any non-None value as "set", so ``False`` looks like a
    second proxy and every request raises InvalidProxySettings. We treat ``False`` as "not set" and keep
    the real conflict check otherwise. ``tests/data_sources/test_clients.py`` has a test that fails once
    ccxt fixes the bug, so this can then be dropped.
    """
    original = ex.check_conflicting_proxies

    def check_conflicting_proxies(proxy_agent_set: object, proxy_url_set: object) -> Any:
        return original(None if proxy_agent_set is False else proxy_agent_set, proxy_url_set)

    ex.check_conflicting_proxies = check_conflicting_proxies


class LockedThrottle:
    """Spacing of requests that holds across threads: one slot every ``rate_limit_ms * cost``.

    Each caller reserves its slot under the lock and sleeps outside it, so N threads get N evenly spaced
    slots instead of ccxt's unlocked check-then-sleep race (which let 8 threads burst).
    """

    def __init__(self, rate_limit_ms: float, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.rate_limit_ms = float(rate_limit_ms)
        self._lock = threading.Lock()
        self._next_at = 0.0
        self._clock = clock
        self._sleep = sleep

    def __call__(self, cost: float | None = None) -> None:
        interval = self.rate_limit_ms * (1.0 if cost is None else float(cost)) / 1000.0
        with self._lock:
            now = self._clock()
            start = max(now, self._next_at)
            self._next_at = start + interval
        wait = start - now
        if wait > 0:
            self._sleep(wait)


def install_throttle(ex: Any) -> LockedThrottle:
    """Replace the client's unlocked throttle by a ``LockedThrottle`` at the client's ``rateLimit``."""
    throttle = LockedThrottle(float(ex.rateLimit))
    ex.throttle = throttle
    ex.enableRateLimit = True
    return throttle


class ClientPool:
    """One ccxt client per venue for the whole process, markets loaded once and refreshed on schedule.

    Parameters
    ----------
    factory : callable venue -> ccxt client
        Builds a client (live: ``build_client`` with the user's options; demo: also mounts the simulated
        exchange).
    markets_ttl_s : float
        Markets older than this are reloaded on next use (a failed reload keeps the old ones).
    max_retries, retry_backoff_s : int, float
        Bounded retries of temporary errors only; backoff doubles and stays short (sessions wait on it).
    """

    def __init__(
        self,
        factory: Callable[[str], Any],
        *,
        markets_ttl_s: float = 3600.0,
        max_retries: int = 2,
        retry_backoff_s: float = 0.25,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._factory = factory
        self._markets_ttl_s = markets_ttl_s
        self._max_retries = max_retries
        self._retry_backoff_s = retry_backoff_s
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._clients: dict[str, Any] = {}
        self._venue_locks: dict[str, threading.Lock] = {}
        self._markets_loaded_at: dict[str, float] = {}

    def _venue_lock(self, venue: str) -> threading.Lock:
        with self._lock:
            return self._venue_locks.setdefault(venue, threading.Lock())

    def client(self, venue: str) -> Any:
        """The venue's shared client, created on first use (no I/O)."""
        if venue not in VENUES:
            raise DataSourceError(f"unknown venue {venue!r}; known: {sorted(VENUES)}")
        with self._lock:
            ex = self._clients.get(venue)
            if ex is None:
                ex = self._factory(venue)
                install_throttle(ex)
                self._clients[venue] = ex
            return ex

    def markets(self, venue: str) -> Any:
        """The venue's client with markets loaded (and reloaded when older than the markets TTL)."""
        ex = self.client(venue)
        loaded_at = self._markets_loaded_at.get(venue)
        if loaded_at is not None and self._clock() - loaded_at < self._markets_ttl_s:
            return ex
        with self._venue_lock(venue):  # one load per venue, however many sessions ask at once
            loaded_at = self._markets_loaded_at.get(venue)
            if loaded_at is not None and self._clock() - loaded_at < self._markets_ttl_s:
                return ex
            old_markets, old_currencies = ex.markets, ex.currencies
            try:
                self._with_retries(venue, lambda: self._load(ex, venue, reload=loaded_at is not None))
            except DataSourceError:
                if loaded_at is None or not old_markets:
                    raise
                if ex.markets is not old_markets:  # a half-failed reload may have replaced them
                    ex.set_markets(old_markets, old_currencies)
                log.warning("%s: markets reload failed; keeping markets loaded %.0f s ago", venue,
                            self._clock() - loaded_at)
            self._markets_loaded_at[venue] = self._clock()
        return ex

    @staticmethod
    def _load(ex: Any, venue: str, *, reload: bool) -> None:
        try:
            markets = ex.load_markets(reload=reload)
        except (KeyError, IndexError, TypeError, ValueError) as e:
            # ccxt's market parsers index into the answer (e.g. Hyperliquid's perpDexs by dex name): an empty
            # or cut answer surfaces as a lookup error, which alone would tell the user nothing.
            raise BadResponseError(f"the markets answer was empty or malformed ({type(e).__name__}: {e})",
                                   venue=venue) from e
        if not markets:
            # Some ccxt parsers turn a malformed or empty body into "no markets" without an error.
            raise BadResponseError("the exchange listed no markets (empty or malformed answer)", venue=venue)

    def call(self, venue: str, fn: Callable[[Any], T], *, load_markets: bool = True) -> T:
        """Run ``fn(client)`` with errors translated and temporary errors retried a bounded number of times."""
        ex = self.markets(venue) if load_markets else self.client(venue)
        return self._with_retries(venue, lambda: fn(ex))

    def _with_retries(self, venue: str, thunk: Callable[[], T]) -> T:
        delay = self._retry_backoff_s
        attempt = 0
        while True:
            try:
                return thunk()
            except Exception as e:  # every failure is translated at this boundary
                err = translate(e, venue=venue)
                if isinstance(err, TemporaryError) and attempt < self._max_retries:
                    attempt += 1
                    log.info("%s: temporary error (%s), retry %d/%d", venue, err, attempt, self._max_retries)
                    self._sleep(delay)
                    delay *= 2
                    continue
                raise err from e

    def loaded_venues(self) -> list[str]:
        return sorted(self._markets_loaded_at)

    def close(self) -> None:
        with self._lock:
            for ex in self._clients.values():
                session = getattr(ex, "session", None)
                if session is not None:
                    session.close()
            self._clients.clear()
            self._markets_loaded_at.clear()
