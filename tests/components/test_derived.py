"""components.derived: results built once per key, shared, bounded, single flight; and what keys them."""

from __future__ import annotations

import threading
import time

import pandas as pd
import pytest
from cachetools import TTLCache

from components.derived import DerivedCache, cache, derived
from data_sources.config import Settings
from data_sources.simulated import RequestLog
from data_sources.source import build_demo


def test_a_key_is_built_once_and_the_same_object_is_handed_out():
    c = DerivedCache()
    calls = []
    first = c.get(("k", 1), lambda: calls.append(1) or {"v": 1})
    again = c.get(("k", 1), lambda: calls.append(1) or {"v": 2})
    other = c.get(("k", 2), lambda: calls.append(1) or {"v": 3})
    assert first is again and first == {"v": 1} and other == {"v": 3}
    assert len(calls) == 2 and (c.builds, c.hits) == (2, 1)


def test_concurrent_callers_of_one_key_build_it_once():
    c = DerivedCache()
    started = threading.Event()
    builds = []

    def slow() -> object:
        builds.append(1)
        started.set()
        time.sleep(0.2)
        return object()

    results: list[object] = []
    threads = [threading.Thread(target=lambda: results.append(c.get("view", slow))) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(builds) == 1 and len(results) == 20 and all(r is results[0] for r in results)


def test_a_failing_build_caches_nothing_and_the_next_caller_builds_again():
    c = DerivedCache()

    def boom() -> object:
        raise ValueError("no")

    with pytest.raises(ValueError):
        c.get("k", boom)
    assert c.get("k", lambda: 42) == 42 and len(c) == 1


def test_entries_are_bounded_and_expire(monkeypatch):
    c = DerivedCache(maxsize=3, ttl_s=60)
    for i in range(10):
        c.get(i, lambda i=i: i)
    assert len(c) == 3
    clock = [0.0]
    c._store = TTLCache(maxsize=3, ttl=60, timer=lambda: clock[0])
    c.get("a", lambda: 1)
    clock[0] = 61.0
    assert c.get("a", lambda: 2) == 2  # expired: built again


def test_the_process_cache_is_shared_by_derived():
    cache().clear()
    assert derived(("shared", 1), lambda: [1]) is derived(("shared", 1), lambda: [2])
    assert cache().hits == 1


def test_a_refetch_gives_the_result_a_new_token_the_same_data_keeps_it(market):
    md = build_demo(Settings(source="demo", venues=("okx", "bybit")), market=market, request_log=RequestLog())
    try:
        a = md.term_structure("BTC")
        b = md.term_structure("BTC")  # from the cache: the same fetch
        assert a.token == b.token
        md.cache.invalidate()  # the same market, the same frozen clock: equal data, but a new fetch
        c = md.term_structure("BTC")
        assert c.token != a.token and c.frame[["symbol", "mark"]].equals(a.frame[["symbol", "mark"]])
        # two windows cut from the same cached daily candles: one starts a candle earlier
        day = md.now().floor("D") - pd.Timedelta(days=10)
        longer = md.ohlcv("okx", "BTC/USDT:USDT", "1d", day)
        shorter = md.ohlcv("okx", "BTC/USDT:USDT", "1d", day + pd.Timedelta(hours=6))
        assert longer.versions == shorter.versions and len(longer.frame) == len(shorter.frame) + 1
        assert longer.token != shorter.token
    finally:
        md.close()
