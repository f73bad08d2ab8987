"""The data-source cache: per-kind TTLs, single flight, stale on error, copies out.

Every upstream read in ``data_sources/`` goes through :meth:`DataCache.get_or_fetch`:

- one cachetools cache per *data kind* (markets, quotes, funding, candles, ...), each behind its own lock
  because cachetools is not thread-safe, each with the TTL that suits how fast that data changes;
- per-entry expiry, so a caller can cache e.g. funding history "until the next settlement" instead of the
  kind's default;
- single flight: while one thread fetches a (kind, key), identical requests wait for that fetch and share
  its result or its exception, so 25 sessions opening the same view cost one upstream call;
- stale on error: the last good value of each key is kept (bounded) beyond its TTL, and served, marked
  stale with its age and the error text, when a refresh fails with a data-source error;
- callers always get a copy, so mutating a returned DataFrame or dict never changes the cache.

All durations are in seconds on the injectable monotonic ``timer``; ``fetched_at`` is wall-clock UTC.
"""

from __future__ import annotations

import copy
import itertools
import logging
import math
import threading
import time
import weakref
from collections import Counter
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar, cast

import pandas as pd
from cachetools import LRUCache, TLRUCache

from data_sources.errors import DataSourceError

log = logging.getLogger(__name__)

T = TypeVar("T")

KindConfig = tuple[float, int]
"""``(ttl_seconds, maxsize)`` of one data kind. The TTL values, each with its reason, live in one place:
``data_sources.config.DEFAULT_TTLS`` (overridable by the user's config)."""

DEFAULT_STALE_ON: tuple[type[BaseException], ...] = (DataSourceError,)


@dataclass(frozen=True, slots=True)
class Cached(Generic[T]):
    """A value handed out by the cache.

    Attributes
    ----------
    value : T
        A copy of the cached value (the caller owns it and may mutate it).
    fetched_at : datetime
        Wall-clock UTC time at which the value was fetched upstream.
    age_s : float
        Seconds since the fetch, on the cache's monotonic timer.
    stale : bool
        True when the refresh failed and this is the last good value instead.
    error : str | None
        The text of the refresh error when ``stale``, else None.
    version : int
        Which upstream fetch this value came from: unique per fetch in the process (a refetch, even of
        equal data at an equal clock, gets a new one), so results derived from it can be cached under it.
    """

    value: T
    fetched_at: datetime
    age_s: float
    stale: bool = False
    error: str | None = None
    version: int = 0


@dataclass(frozen=True, slots=True)
class CacheStats:
    """Counters since construction or the last :meth:`DataCache.clear`.

    ``hits + misses`` is the number of calls; ``misses == fetches + shared_waits`` (each miss either
    fetched itself or waited for another caller's fetch).
    """

    hits: int = 0
    misses: int = 0
    fetches: int = 0
    errors: int = 0
    stale_served: int = 0
    shared_waits: int = 0


@dataclass(frozen=True, slots=True)
class _Entry:
    """A cached value with its fetch time (wall and monotonic), its own expiry (monotonic, s) and the
    process-unique number of the fetch that produced it."""

    value: Any
    fetched_at: datetime
    fetched_mono: float
    expires_mono: float
    version: int = 0


# Numbers every successful fetch of every cache in the process (``Cached.version``). itertools.count's
# __next__ is atomic under the GIL, so concurrent fetches never share a number.
_FETCH_VERSIONS = itertools.count(1)


class _Kind:
    """One data kind's fresh store and the lock around it."""

    def __init__(self, name: str, ttl: float, maxsize: int, timer: Callable[[], float]) -> None:
        self.name = name
        self.ttl = ttl
        self.lock = threading.Lock()
        # TLRUCache is cachetools' TTL cache with a per-item expiry: each entry carries its own
        # expires_mono (the kind's TTL or the caller's override), and expired entries are evicted at
        # their own time rather than after the longest TTL any caller asked for.
        self.store: TLRUCache[Hashable, _Entry] = TLRUCache(
            maxsize=maxsize, ttu=lambda _key, entry, _now: entry.expires_mono, timer=timer
        )
        # Bumped by invalidate/clear so a fetch that started before them does not store its result.
        self.generation = 0


class _Flight:
    """One in-flight fetch of a (kind, key); waiters block on ``done`` and then read the outcome."""

    __slots__ = ("done", "entry", "error", "generation")

    def __init__(self, generation: int) -> None:
        self.done = threading.Event()
        self.entry: _Entry | None = None
        self.error: BaseException | None = None
        self.generation = generation


_REGISTRY: weakref.WeakSet[DataCache] = weakref.WeakSet()


def clear_all() -> None:
    """Clear every live :class:`DataCache` (for the autouse test fixture that isolates tests)."""
    for cache in list(_REGISTRY):
        cache.clear()


def copy_value(value: T) -> T:
    """A copy the caller may mutate freely: pandas objects deep-copied, anything else ``deepcopy``-ed.

    ``copy.deepcopy`` also reaches pandas objects nested in containers through their ``__deepcopy__``.
    """
    if isinstance(value, pd.DataFrame | pd.Series | pd.Index):
        return cast(T, value.copy(deep=True))
    return copy.deepcopy(value)


def ttl_until(event_ms: int, now_ms: int, *, min_s: float = 5.0, max_s: float = 86400.0) -> float:
    """Seconds from ``now_ms`` until ``event_ms`` (both epoch ms), clamped to ``[min_s, max_s]``.

    For "cache funding history until the next settlement". The floor matters right after a settlement:
    venues publish the settled rate a little late, so a history fetched just after the boundary may not
    contain it yet, and the caller should then cache it for ``min_s`` rather than a whole interval.
    """
    if min_s < 0 or max_s < min_s:
        raise ValueError(f"need 0 <= min_s <= max_s, got {min_s}, {max_s}")
    return min(max((event_ms - now_ms) / 1000.0, min_s), max_s)


def _check_ttl(ttl: float, what: str) -> float:
    ttl = float(ttl)
    if not math.isfinite(ttl) or ttl < 0:
        raise ValueError(f"{what}: ttl must be a finite number of seconds >= 0, got {ttl!r}")
    return ttl


def _utc_now() -> datetime:
    return datetime.now(UTC)


class DataCache:
    """Thread-safe per-kind cache with single flight and stale-on-error (see the module docstring).

    Parameters
    ----------
    kinds : Mapping[str, tuple[float, int]]
        Data kind -> ``(ttl_seconds, maxsize)``, e.g. ``"quotes": (15.0, 512)``.
    timer : Callable[[], float]
        Monotonic clock in seconds; inject a fake one in tests to control expiry without sleeping.
    wall_clock : Callable[[], datetime]
        UTC wall clock for ``fetched_at`` (demo mode may pass the simulated market's clock).
    stale_on : tuple[type[BaseException], ...]
        Exceptions for which the last good value is served instead. Nothing else is ever masked.
    last_good_maxsize : int | None
        Bound of the last-good store (keys across all kinds); default the sum of the kinds' maxsizes.
    """

    def __init__(
        self,
        kinds: Mapping[str, KindConfig],
        *,
        timer: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] = _utc_now,
        stale_on: tuple[type[BaseException], ...] = DEFAULT_STALE_ON,
        last_good_maxsize: int | None = None,
    ) -> None:
        if not kinds:
            raise ValueError("at least one data kind is required")
        self._timer = timer
        self._wall_clock = wall_clock
        self._stale_on = tuple(stale_on)
        self._kinds: dict[str, _Kind] = {}
        for name, (ttl, maxsize) in kinds.items():
            if int(maxsize) < 1:
                raise ValueError(f"{name}: maxsize must be >= 1, got {maxsize!r}")
            self._kinds[name] = _Kind(name, _check_ttl(ttl, name), int(maxsize), timer)
        lg_size = last_good_maxsize
        if lg_size is None:
            lg_size = sum(int(k.store.maxsize) for k in self._kinds.values())
        if lg_size < 1:
            raise ValueError(f"last_good_maxsize must be >= 1, got {lg_size!r}")
        # Outlives the TTLs on purpose: it is what a failed refresh falls back to. LRU-bounded so keys
        # nobody asks for any more (old symbols, old windows) do not accumulate.
        self._last_good: LRUCache[tuple[str, Hashable], _Entry] = LRUCache(maxsize=lg_size)
        self._last_good_lock = threading.Lock()
        self._flights: dict[tuple[str, Hashable], _Flight] = {}
        self._flights_lock = threading.Lock()
        self._stats: Counter[str] = Counter()
        self._stats_lock = threading.Lock()
        _REGISTRY.add(self)

    # -- public API ---------------------------------------------------------------------------------

    @property
    def kinds(self) -> tuple[str, ...]:
        """The data kinds this cache knows."""
        return tuple(self._kinds)

    def ttl_of(self, kind: str) -> float:
        """The default TTL of ``kind`` in seconds."""
        return self._kind(kind).ttl

    def get_or_fetch(
        self, kind: str, key: Hashable, fetch: Callable[[], T], *, ttl: float | None = None
    ) -> Cached[T]:
        """The value of ``(kind, key)``: cached if fresh, else fetched once for all concurrent callers.

        Parameters
        ----------
        kind : str
            One of :attr:`kinds`.
        key : Hashable
            Identifies the request within its kind (venue, symbol, window, ...).
        fetch : Callable[[], T]
            Does the upstream I/O. It should be bounded in time (ccxt's timeout): waiters wait for it.
        ttl : float | None
            Seconds this result stays fresh, overriding the kind's TTL. Concurrent callers sharing one
            flight share the TTL of the caller that started it. ``0`` = never served fresh from cache
            (still single-flighted and kept as the last good value).

        Returns
        -------
        Cached[T]
            A copy of the value with its fetch time and age; ``stale=True`` when the refresh failed
            with one of ``stale_on`` and the last good value was served instead.

        Raises
        ------
        BaseException
            Whatever ``fetch`` raised, when it is not in ``stale_on`` or there is no last good value.
        """
        spec = self._kind(kind)
        entry_ttl = spec.ttl if ttl is None else _check_ttl(ttl, kind)
        entry = self._fresh(spec, key)
        flight, leading = None, False
        if entry is None:
            entry, flight, leading = self._join_or_lead(spec, key)
        if entry is not None:
            self._count("hits")
            return self._serve(entry)
        self._count("misses")
        assert flight is not None
        if leading:
            return self._lead(spec, key, fetch, entry_ttl, flight)
        return self._wait(spec, key, flight)

    def invalidate(self, kind: str | None = None) -> None:
        """Drop the fresh values of ``kind`` (all kinds if None); the next call fetches.

        Last good values are kept, so a refetch that fails can still serve them stale. Fetches already
        in flight finish for their waiters but do not store their (pre-invalidation) result, and new
        callers start a new fetch instead of joining them.
        """
        names = self.kinds if kind is None else (self._kind(kind).name,)
        with self._flights_lock:
            for flight_key in [fk for fk in self._flights if fk[0] in names]:
                del self._flights[flight_key]
            for name in names:
                spec = self._kinds[name]
                with spec.lock:
                    spec.generation += 1
                    spec.store.clear()

    def clear(self) -> None:
        """Drop everything: fresh values, last good values and the statistics."""
        self.invalidate()
        with self._last_good_lock:
            self._last_good.clear()
        with self._stats_lock:
            self._stats.clear()

    def stats(self) -> CacheStats:
        """A snapshot of the counters."""
        with self._stats_lock:
            return CacheStats(**{name: self._stats[name] for name in CacheStats.__dataclass_fields__})

    # -- internals ----------------------------------------------------------------------------------

    def _kind(self, kind: str) -> _Kind:
        try:
            return self._kinds[kind]
        except KeyError:
            raise ValueError(f"unknown cache kind {kind!r}; known: {', '.join(self._kinds)}") from None

    def _count(self, name: str) -> None:
        with self._stats_lock:
            self._stats[name] += 1

    @staticmethod
    def _fresh(spec: _Kind, key: Hashable) -> _Entry | None:
        with spec.lock:
            return spec.store.get(key)

    def _join_or_lead(self, spec: _Kind, key: Hashable) -> tuple[_Entry | None, _Flight | None, bool]:
        """``(entry, None, False)`` if the value became fresh meanwhile, else ``(None, flight, leading)``:
        a new flight this caller must fetch for, or another caller's flight to wait for."""
        flight_key = (spec.name, key)
        with self._flights_lock:
            flight = self._flights.get(flight_key)
            if flight is not None:
                return None, flight, False
            # Re-check under the flights lock: a leader stores its value before it retires its flight,
            # so a caller sees either the flight above or its value here, never neither.
            with spec.lock:
                entry = spec.store.get(key)
                generation = spec.generation
            if entry is not None:
                return entry, None, False
            flight = _Flight(generation)
            self._flights[flight_key] = flight
            return None, flight, True

    def _lead(
        self, spec: _Kind, key: Hashable, fetch: Callable[[], T], ttl: float, flight: _Flight
    ) -> Cached[T]:
        self._count("fetches")
        try:
            value = fetch()
            now = self._timer()
            flight.entry = _Entry(value, self._wall_clock(), now, now + ttl, next(_FETCH_VERSIONS))
            self._store(spec, key, flight.entry, flight.generation)
        except BaseException as exc:  # every outcome, even KeyboardInterrupt, must reach the waiters
            flight.error = exc
            self._count("errors")
        finally:
            with self._flights_lock:
                # invalidate() may already have detached this flight and a new one may have started.
                if self._flights.get((spec.name, key)) is flight:
                    del self._flights[(spec.name, key)]
            flight.done.set()
        return self._outcome(spec, key, flight)

    def _wait(self, spec: _Kind, key: Hashable, flight: _Flight) -> Cached[Any]:
        self._count("shared_waits")
        flight.done.wait()
        return self._outcome(spec, key, flight)

    def _outcome(self, spec: _Kind, key: Hashable, flight: _Flight) -> Cached[Any]:
        if flight.error is None:
            assert flight.entry is not None
            return self._serve(flight.entry)
        error = flight.error
        if isinstance(error, self._stale_on):
            with self._last_good_lock:
                last = self._last_good.get((spec.name, key))
            if last is not None:
                self._count("stale_served")
                log.warning("serving stale %s %r (age %.0f s): %s", spec.name, key,
                            self._timer() - last.fetched_mono, error)
                return self._serve(last, error=str(error) or type(error).__name__)
        raise error

    def _store(self, spec: _Kind, key: Hashable, entry: _Entry, generation: int) -> None:
        with spec.lock:
            if spec.generation != generation:
                return  # invalidated while fetching: the result predates the invalidation
            spec.store[key] = entry
            with self._last_good_lock:
                self._last_good[(spec.name, key)] = entry

    def _serve(self, entry: _Entry, *, error: str | None = None) -> Cached[Any]:
        # Copy outside every lock: entries are never mutated, and copying a large frame under a lock
        # would serialize all readers of the kind.
        age = max(0.0, self._timer() - entry.fetched_mono)
        return Cached(copy_value(entry.value), entry.fetched_at, age, stale=error is not None, error=error,
                      version=entry.version)

