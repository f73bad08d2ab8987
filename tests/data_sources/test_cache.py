"""DataCache: TTL per kind and per call, single flight, stale on error, copies, eviction, stats."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from data_sources.cache import (
    Cached,
    CacheStats,
    DataCache,
    clear_all,
    copy_value,
    ttl_until,
)
from data_sources.config import DEFAULT_TTLS
from data_sources.errors import DataSourceError, RateLimitedError, TemporaryError

T0_WALL = datetime(2026, 11, 25, 13, 57, tzinfo=UTC)
WAIT_S = 5.0  # upper bound for cross-thread waits; reached only when the code under test is broken


class FakeClock:
    """Monotonic seconds under test control, and a wall clock that moves with it."""

    def __init__(self, start: float = 1000.0) -> None:
        self.start = start
        self.now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds

    def wall(self) -> datetime:
        return T0_WALL + timedelta(seconds=self() - self.start)


class Fetcher:
    """A fetch callable that counts its calls and returns ``make(n)`` for the n-th call (1-based)."""

    def __init__(self, make: Callable[[int], Any] = lambda n: {"n": n}) -> None:
        self.calls = 0
        self.make = make
        self._lock = threading.Lock()

    def __call__(self) -> Any:
        with self._lock:
            self.calls += 1
            n = self.calls
        return self.make(n)


def _raise(exc: BaseException) -> Callable[[int], Any]:
    def make(_n: int) -> Any:
        raise exc

    return make


KINDS = {"quotes": (15.0, 8), "markets": (3600.0, 4), "funding_history": (3600.0, 8)}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def cache(clock: FakeClock) -> Iterator[DataCache]:
    c = DataCache(KINDS, timer=clock, wall_clock=clock.wall)
    yield c
    c.clear()


def _wait_until(cond: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.001)


# -- TTL ---------------------------------------------------------------------------------------------


def test_repeat_within_ttl_makes_no_fetch(cache: DataCache, clock: FakeClock) -> None:
    fetch = Fetcher()
    first = cache.get_or_fetch("quotes", ("okx", "BTC/USDT:USDT"), fetch)
    clock.advance(14.9)
    second = cache.get_or_fetch("quotes", ("okx", "BTC/USDT:USDT"), fetch)
    assert fetch.calls == 1
    assert first.value == second.value == {"n": 1}
    assert first.age_s == 0.0 and second.age_s == pytest.approx(14.9)
    assert first.fetched_at == second.fetched_at == T0_WALL
    assert not second.stale and second.error is None
    assert cache.stats() == CacheStats(hits=1, misses=1, fetches=1)


def test_after_ttl_refetches(cache: DataCache, clock: FakeClock) -> None:
    fetch = Fetcher()
    cache.get_or_fetch("quotes", "k", fetch)
    clock.advance(15.0)  # expiry is exclusive: at exactly ttl the entry is gone
    again = cache.get_or_fetch("quotes", "k", fetch)
    assert fetch.calls == 2
    assert again.value == {"n": 2}
    assert again.age_s == 0.0
    assert again.fetched_at == T0_WALL + timedelta(seconds=15)


def test_each_kind_has_its_own_ttl(cache: DataCache, clock: FakeClock) -> None:
    quotes, markets = Fetcher(), Fetcher()
    cache.get_or_fetch("quotes", "okx", quotes)
    cache.get_or_fetch("markets", "okx", markets)  # same key, different kind: separate entries
    clock.advance(60)
    cache.get_or_fetch("quotes", "okx", quotes)
    cache.get_or_fetch("markets", "okx", markets)
    assert (quotes.calls, markets.calls) == (2, 1)
    assert cache.ttl_of("quotes") == 15.0 and cache.ttl_of("markets") == 3600.0


def test_per_call_ttl_override(cache: DataCache, clock: FakeClock) -> None:
    longer, shorter, zero = Fetcher(), Fetcher(), Fetcher()
    cache.get_or_fetch("quotes", "long", longer, ttl=100)
    cache.get_or_fetch("funding_history", "short", shorter, ttl=2)  # "until the next settlement"
    clock.advance(50)  # beyond the quotes TTL (15 s), within the override
    assert cache.get_or_fetch("quotes", "long", longer, ttl=100).value == {"n": 1}
    assert cache.get_or_fetch("funding_history", "short", shorter, ttl=2).value == {"n": 2}
    assert (longer.calls, shorter.calls) == (1, 2)
    # The expiry belongs to the entry: a later caller with the kind's default does not shorten it...
    clock.advance(49)
    assert cache.get_or_fetch("quotes", "long", longer).value == {"n": 1}
    clock.advance(1)  # ...and it ends at its own 100 s
    assert cache.get_or_fetch("quotes", "long", longer).value == {"n": 2}
    # ttl=0: never fresh from the cache, but still fetched once per call
    for _ in range(3):
        cache.get_or_fetch("quotes", "zero", zero, ttl=0)
    assert zero.calls == 3


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf")])
def test_bad_ttl_rejected(cache: DataCache, bad: float) -> None:
    with pytest.raises(ValueError, match="ttl"):
        cache.get_or_fetch("quotes", "k", Fetcher(), ttl=bad)
    with pytest.raises(ValueError, match="ttl"):
        DataCache({"quotes": (bad, 8)})


def test_unknown_kind_and_bad_config() -> None:
    c = DataCache({"quotes": (1.0, 1)})
    with pytest.raises(ValueError, match="unknown cache kind 'candles'"):
        c.get_or_fetch("candles", "k", Fetcher())
    with pytest.raises(ValueError, match="maxsize"):
        DataCache({"quotes": (1.0, 0)})
    with pytest.raises(ValueError, match="kind"):
        DataCache({})


def test_builds_from_the_configured_ttls() -> None:
    """The TTLs (and their reasons) live in config.DEFAULT_TTLS; every DESIGN.md data kind is there."""
    c = DataCache({kind: (ttl, 16) for kind, ttl in DEFAULT_TTLS.items()})
    assert set(c.kinds) >= {"markets", "quotes", "funding_now", "funding_history", "ohlcv_closed",
                            "ohlcv_forming", "probe"}
    assert c.ttl_of("quotes") < c.ttl_of("markets") <= c.ttl_of("ohlcv_closed")
    assert c.ttl_of("ohlcv_forming") < c.ttl_of("ohlcv_closed")


# -- eviction ----------------------------------------------------------------------------------------


def test_maxsize_evicts_least_recently_used(cache: DataCache) -> None:
    fetch = {k: Fetcher() for k in "abcde"}
    for k in "abcd":  # markets holds 4
        cache.get_or_fetch("markets", k, fetch[k])
    cache.get_or_fetch("markets", "a", fetch["a"])  # touch a: b is now the least recently used
    cache.get_or_fetch("markets", "e", fetch["e"])  # evicts b
    for k in "acde":
        cache.get_or_fetch("markets", k, fetch[k])
    assert {k: f.calls for k, f in fetch.items()} == {"a": 1, "b": 1, "c": 1, "d": 1, "e": 1}
    cache.get_or_fetch("markets", "b", fetch["b"])
    assert fetch["b"].calls == 2
    # Filling one kind never evicts another kind's entries.
    q = Fetcher()
    cache.get_or_fetch("quotes", "x", q)
    for i in range(20):
        cache.get_or_fetch("markets", i, Fetcher())
    cache.get_or_fetch("quotes", "x", q)
    assert q.calls == 1


def test_last_good_store_is_bounded(clock: FakeClock) -> None:
    c = DataCache({"quotes": (1.0, 8)}, timer=clock, last_good_maxsize=1)
    c.get_or_fetch("quotes", "a", Fetcher())
    c.get_or_fetch("quotes", "b", Fetcher())  # pushes a out of the last-good store
    clock.advance(5)
    failing = Fetcher(_raise(TemporaryError("down", venue="okx")))
    with pytest.raises(TemporaryError):
        c.get_or_fetch("quotes", "a", failing)
    assert c.get_or_fetch("quotes", "b", failing).stale


# -- copies ------------------------------------------------------------------------------------------


def test_callers_get_copies_of_frames_and_dicts(cache: DataCache, clock: FakeClock) -> None:
    frame = pd.DataFrame({"close": [100.0, 101.0]}, index=pd.to_datetime([0, 3_600_000], unit="ms", utc=True))
    frame.attrs["source"] = {"exchange": "okx"}
    make_frame = Fetcher(lambda _n: frame)
    make_dict = Fetcher(lambda _n: {"BTC": {"bid": 1.0, "levels": [1, 2]}})

    got = cache.get_or_fetch("quotes", "frame", make_frame).value
    got.iloc[0, 0] = -1.0
    got["extra"] = 1.0
    got.attrs["source"]["exchange"] = "tampered"
    d = cache.get_or_fetch("quotes", "dict", make_dict).value
    d["BTC"]["bid"] = -1.0
    d["BTC"]["levels"].append(3)
    d["ETH"] = {}

    again = cache.get_or_fetch("quotes", "frame", make_frame).value
    pd.testing.assert_frame_equal(again, pd.DataFrame({"close": [100.0, 101.0]}, index=frame.index))
    assert again.attrs == {"source": {"exchange": "okx"}}
    assert cache.get_or_fetch("quotes", "dict", make_dict).value == {"BTC": {"bid": 1.0, "levels": [1, 2]}}
    assert (make_frame.calls, make_dict.calls) == (1, 1)  # the second reads were cache hits
    # Even the caller whose call did the fetch gets a copy, not the object fetch returned.
    assert frame.iloc[0, 0] == 100.0 and "extra" not in frame.columns


def test_stale_values_are_copies_too(cache: DataCache, clock: FakeClock) -> None:
    cache.get_or_fetch("quotes", "k", Fetcher(lambda _n: [1, 2]))
    clock.advance(20)
    failing = Fetcher(_raise(TemporaryError("down")))
    cache.get_or_fetch("quotes", "k", failing).value.append(99)
    assert cache.get_or_fetch("quotes", "k", failing).value == [1, 2]


def test_copy_value_reaches_frames_nested_in_containers() -> None:
    inner = pd.Series([1.0, 2.0], name="x")
    out = copy_value({"s": inner, "t": (inner,)})
    out["s"].iloc[0] = 5.0
    out["t"][0].iloc[1] = 5.0
    assert inner.tolist() == [1.0, 2.0]


# -- single flight -----------------------------------------------------------------------------------

N_THREADS = 20


def _run_concurrently(n: int, call: Callable[[], Any]) -> list[Any]:
    """Start ``n`` threads at once (barrier) and return each one's result or raised exception."""
    barrier = threading.Barrier(n)

    def worker() -> Any:
        barrier.wait(WAIT_S)
        try:
            return call()
        except BaseException as exc:  # the test inspects what each thread got
            return exc

    with ThreadPoolExecutor(n) as pool:
        futures = [pool.submit(worker) for _ in range(n)]
        return [f.result(WAIT_S * 2) for f in futures]


class BlockingFetcher(Fetcher):
    """A fetch that blocks until released, so the test decides when the flight ends."""

    def __init__(self, make: Callable[[int], Any] = lambda n: {"n": n}) -> None:
        super().__init__(make)
        self.started = threading.Event()
        self.release = threading.Event()

    def __call__(self) -> Any:
        self.started.set()
        if not self.release.wait(WAIT_S):
            raise AssertionError("fetch was never released")
        return super().__call__()


def _release_when_all_wait(cache: DataCache, fetch: BlockingFetcher, waiters: int) -> threading.Thread:
    def release() -> None:
        _wait_until(lambda: cache.stats().shared_waits == waiters, f"{waiters} waiters")
        fetch.release.set()

    t = threading.Thread(target=release, daemon=True)
    t.start()
    return t


def test_concurrent_identical_requests_make_one_fetch(cache: DataCache) -> None:
    fetch = BlockingFetcher(lambda n: pd.DataFrame({"n": [float(n)]}))
    releaser = _release_when_all_wait(cache, fetch, N_THREADS - 1)
    results = _run_concurrently(N_THREADS, lambda: cache.get_or_fetch("quotes", "BTC", fetch))
    releaser.join(WAIT_S)

    assert fetch.calls == 1
    assert all(isinstance(r, Cached) for r in results), results
    for r in results:
        pd.testing.assert_frame_equal(r.value, pd.DataFrame({"n": [1.0]}))
    assert len({id(r.value) for r in results}) == N_THREADS  # each caller got its own copy
    assert cache.stats() == CacheStats(misses=N_THREADS, fetches=1, shared_waits=N_THREADS - 1)


def test_exception_is_shared_by_all_waiters_and_not_cached(cache: DataCache) -> None:
    error = RateLimitedError("429 slow down", venue="binanceusdm")
    fetch = BlockingFetcher(_raise(error))
    releaser = _release_when_all_wait(cache, fetch, N_THREADS - 1)
    results = _run_concurrently(N_THREADS, lambda: cache.get_or_fetch("quotes", "BTC", fetch))
    releaser.join(WAIT_S)

    assert fetch.calls == 1
    assert all(r is error for r in results), results
    # Not cached: the next call fetches again, and succeeds.
    ok = Fetcher()
    assert cache.get_or_fetch("quotes", "BTC", ok).value == {"n": 1}
    assert ok.calls == 1
    assert cache.stats().errors == 1


def test_waiters_of_a_failed_refresh_all_get_the_stale_value(cache: DataCache, clock: FakeClock) -> None:
    cache.get_or_fetch("quotes", "BTC", Fetcher(lambda _n: {"px": 100.0}))
    clock.advance(40)
    fetch = BlockingFetcher(_raise(TemporaryError("timeout", venue="okx")))
    releaser = _release_when_all_wait(cache, fetch, N_THREADS - 1)
    results = _run_concurrently(N_THREADS, lambda: cache.get_or_fetch("quotes", "BTC", fetch))
    releaser.join(WAIT_S)

    assert fetch.calls == 1
    assert all(isinstance(r, Cached) and r.stale for r in results), results
    assert {(r.value["px"], r.age_s, r.error) for r in results} == {(100.0, 40.0, "okx: timeout")}
    assert cache.stats().stale_served == N_THREADS


def test_different_keys_fetch_concurrently(cache: DataCache) -> None:
    """Key a's fetch waits for key b's fetch to start: it would time out if flights were serialized."""
    b = BlockingFetcher(lambda _n: "b")
    b.release.set()

    def fetch_a() -> str:
        if not b.started.wait(WAIT_S):
            raise AssertionError("b did not start while a was fetching")
        return "a"

    hit = Fetcher(lambda _n: "cached")
    cache.get_or_fetch("quotes", "cached", hit)
    with ThreadPoolExecutor(2) as pool:
        fa = pool.submit(cache.get_or_fetch, "quotes", "a", fetch_a)
        pool.submit(cache.get_or_fetch, "quotes", "b", b).result(WAIT_S)
        assert fa.result(WAIT_S).value == "a"
    assert b.calls == 1


def test_a_slow_fetch_does_not_block_hits_on_other_keys(cache: DataCache) -> None:
    cache.get_or_fetch("quotes", "cached", Fetcher(lambda _n: "cached"))
    slow = BlockingFetcher()
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(cache.get_or_fetch, "quotes", "slow", slow)
        assert slow.started.wait(WAIT_S)
        start = time.monotonic()
        assert cache.get_or_fetch("quotes", "cached", Fetcher()).value == "cached"
        assert time.monotonic() - start < 0.2
        assert not pending.done()
        slow.release.set()
        assert pending.result(WAIT_S).value == {"n": 1}


def test_invalidate_during_flight_detaches_it(cache: DataCache) -> None:
    old = BlockingFetcher(lambda _n: "before")
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(cache.get_or_fetch, "quotes", "k", old)
        assert old.started.wait(WAIT_S)
        cache.invalidate("quotes")
        # A caller after the invalidation does not join the old flight: it fetches itself.
        new = Fetcher(lambda _n: "after")
        assert cache.get_or_fetch("quotes", "k", new).value == "after"
        old.release.set()
        assert pending.result(WAIT_S).value == "before"  # the old flight's caller still gets its value
    # ...but that pre-invalidation value did not overwrite the newer one.
    assert cache.get_or_fetch("quotes", "k", Fetcher()).value == "after"
    assert new.calls == 1


# -- stale on error ----------------------------------------------------------------------------------


def test_stale_on_error_after_ttl(cache: DataCache, clock: FakeClock) -> None:
    cache.get_or_fetch("quotes", "BTC", Fetcher(lambda _n: {"px": 100.0}))
    clock.advance(75.5)
    failing = Fetcher(_raise(TemporaryError("ReadTimeout: okx GET /api/v5/market/ticker", venue="okx")))
    got = cache.get_or_fetch("quotes", "BTC", failing)
    assert got.stale
    assert got.value == {"px": 100.0}
    assert got.age_s == pytest.approx(75.5)
    assert got.fetched_at == T0_WALL
    assert got.error == "okx: ReadTimeout: okx GET /api/v5/market/ticker"
    assert failing.calls == 1
    # Errors are not cached: the next call tries again, and a success replaces the stale value.
    clock.advance(1)
    assert cache.get_or_fetch("quotes", "BTC", failing).age_s == pytest.approx(76.5)
    fresh = cache.get_or_fetch("quotes", "BTC", Fetcher(lambda _n: {"px": 101.0}))
    assert (fresh.value, fresh.stale, fresh.error, fresh.age_s) == ({"px": 101.0}, False, None, 0.0)
    assert failing.calls == 2
    assert cache.stats().stale_served == 2


def test_error_without_last_good_value_is_raised(cache: DataCache) -> None:
    error = TemporaryError("down", venue="okx")
    with pytest.raises(TemporaryError) as caught:
        cache.get_or_fetch("quotes", "BTC", Fetcher(_raise(error)))
    assert caught.value is error
    assert cache.stats().stale_served == 0


@pytest.mark.parametrize("error", [ValueError("bug in a converter"), KeyError("bid"), KeyboardInterrupt()])
def test_errors_outside_the_tuple_are_never_masked(
    cache: DataCache, clock: FakeClock, error: BaseException
) -> None:
    cache.get_or_fetch("quotes", "BTC", Fetcher())
    clock.advance(20)
    with pytest.raises(type(error)):
        cache.get_or_fetch("quotes", "BTC", Fetcher(_raise(error)))
    # The flight was retired even for a BaseException: the next call fetches rather than hangs.
    assert cache.get_or_fetch("quotes", "BTC", Fetcher(lambda _n: "ok")).value == "ok"


def test_stale_on_is_configurable(clock: FakeClock) -> None:
    c = DataCache({"probe": (60.0, 4)}, timer=clock, stale_on=(OSError,))
    c.get_or_fetch("probe", "okx", Fetcher(lambda _n: True))
    clock.advance(61)
    assert c.get_or_fetch("probe", "okx", Fetcher(_raise(ConnectionError("refused")))).error == "refused"
    with pytest.raises(DataSourceError):  # the default class is no longer in the tuple
        c.get_or_fetch("probe", "okx", Fetcher(_raise(DataSourceError("x"))))


def test_empty_error_text_falls_back_to_the_class_name(cache: DataCache, clock: FakeClock) -> None:
    cache.get_or_fetch("quotes", "k", Fetcher())
    clock.advance(20)
    assert cache.get_or_fetch("quotes", "k", Fetcher(_raise(DataSourceError("")))).error == "DataSourceError"


# -- invalidate / clear / registry ---------------------------------------------------------------------


def test_invalidate_kind_keeps_other_kinds_and_last_good(cache: DataCache) -> None:
    q, m = Fetcher(), Fetcher()
    cache.get_or_fetch("quotes", "k", q)
    cache.get_or_fetch("markets", "k", m)
    cache.invalidate("quotes")
    cache.get_or_fetch("quotes", "k", q)
    cache.get_or_fetch("markets", "k", m)
    assert (q.calls, m.calls) == (2, 1)
    cache.invalidate()
    assert cache.get_or_fetch("markets", "k", Fetcher(_raise(TemporaryError("down")))).stale
    with pytest.raises(ValueError, match="unknown cache kind"):
        cache.invalidate("nope")


def test_clear_drops_everything_and_resets_stats(cache: DataCache) -> None:
    cache.get_or_fetch("quotes", "k", Fetcher())
    cache.clear()
    assert cache.stats() == CacheStats()
    with pytest.raises(TemporaryError):  # no last good value survives clear()
        cache.get_or_fetch("quotes", "k", Fetcher(_raise(TemporaryError("down"))))


def test_clear_all_clears_every_live_cache(clock: FakeClock) -> None:
    caches = [DataCache({"quotes": (60.0, 4)}, timer=clock) for _ in range(2)]
    fetches = [Fetcher(), Fetcher()]
    for c, f in zip(caches, fetches, strict=True):
        c.get_or_fetch("quotes", "k", f)
    clear_all()
    for c, f in zip(caches, fetches, strict=True):
        c.get_or_fetch("quotes", "k", f)
    assert [f.calls for f in fetches] == [2, 2]


def test_real_clock_defaults() -> None:
    c = DataCache({"quotes": (60.0, 4)})
    got = c.get_or_fetch("quotes", "k", Fetcher())
    assert got.fetched_at.tzinfo is UTC
    assert abs((datetime.now(UTC) - got.fetched_at).total_seconds()) < 5
    assert 0.0 <= c.get_or_fetch("quotes", "k", Fetcher()).age_s < 5


# -- ttl_until ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event_ms", "now_ms", "expected"),
    [
        (8 * 3_600_000, 5 * 3_600_000, 3 * 3600.0),  # 3 h to the next settlement
        (8 * 3_600_000, 8 * 3_600_000 - 1_000, 5.0),  # 1 s left: the floor
        (8 * 3_600_000, 8 * 3_600_000 + 1_000, 5.0),  # just past it (rate not published yet): floor
        (10 * 86_400_000, 0, 86400.0),  # the cap
    ],
)
def test_ttl_until(event_ms: int, now_ms: int, expected: float) -> None:
    assert ttl_until(event_ms, now_ms) == expected


def test_ttl_until_rejects_inverted_bounds() -> None:
    with pytest.raises(ValueError):
        ttl_until(0, 0, min_s=10, max_s=5)


# -- property: the cache agrees with a simple model of per-entry expiry --------------------------------

_ops = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "c"]),  # key
        st.one_of(st.none(), st.sampled_from([0.0, 1.0, 7.5, 30.0])),  # per-call ttl
        st.sampled_from([0.0, 0.5, 1.0, 7.5, 10.0, 29.0]),  # seconds to advance before the call
        st.booleans(),  # whether the fetch fails with a DataSourceError
    ),
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(ops=_ops)
def test_matches_model(ops: list[tuple[str, float | None, float, bool]]) -> None:
    clock = FakeClock()
    cache = DataCache({"quotes": (10.0, 16)}, timer=clock, wall_clock=clock.wall)
    fresh: dict[str, tuple[int, float, float]] = {}  # key -> (value, fetched_at, expires_at)
    last_good: dict[str, tuple[int, float]] = {}
    calls = 0
    for key, ttl, dt, fails in ops:
        clock.advance(dt)
        now = clock()
        calls += 1
        make = _raise(TemporaryError("down")) if fails else (lambda _n, c=calls: c)
        expect_hit = key in fresh and now < fresh[key][2]
        try:
            got = cache.get_or_fetch("quotes", key, Fetcher(make), ttl=ttl)
        except TemporaryError:
            assert not expect_hit and fails and key not in last_good
            continue
        if expect_hit:
            value, fetched, _ = fresh[key]
            assert (got.value, got.age_s, got.stale) == (value, now - fetched, False)
        elif fails:
            value, fetched = last_good[key]
            assert (got.value, got.age_s, got.stale, got.error) == (value, now - fetched, True, "down")
        else:
            assert (got.value, got.age_s, got.stale) == (calls, 0.0, False)
            assert got.fetched_at == clock.wall()
            fresh[key] = (calls, now, now + (10.0 if ttl is None else ttl))
            last_good[key] = (calls, now)
    s = cache.stats()
    assert s.hits + s.misses == len(ops)
    assert s.misses == s.fetches + s.shared_waits and s.shared_waits == 0
