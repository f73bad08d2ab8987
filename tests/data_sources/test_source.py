"""Source selection: auto goes live when an exchange answers, demo when none does, decided fast."""

from __future__ import annotations

import time

import pytest

from data_sources import get_market_data, reset_market_data
from data_sources.config import Settings
from data_sources.source import SourceSelector, probe_live


class Probe:
    def __init__(self, reachable: bool) -> None:
        self.reachable = reachable
        self.calls = 0

    def __call__(self, settings: Settings) -> tuple[bool, dict[str, str]]:
        self.calls += 1
        return self.reachable, {"okx": "ok" if self.reachable else "refused"}


def test_auto_falls_back_to_demo_and_rechecks() -> None:
    now = [0.0]
    probe = Probe(False)
    sel = SourceSelector(Settings(source="auto"), probe=probe, clock=lambda: now[0])
    assert sel.mode() == "demo"
    assert sel.mode() == "demo"
    assert probe.calls == 1  # cached decision
    probe.reachable = True
    now[0] += Settings().ttls["probe"] + 1
    assert sel.mode() == "live"  # re-checked after the probe TTL
    assert probe.calls == 2


def test_fixed_sources_do_not_probe() -> None:
    probe = Probe(True)
    assert SourceSelector(Settings(source="demo"), probe=probe).mode() == "demo"
    assert SourceSelector(Settings(source="live"), probe=probe).mode() == "live"
    assert probe.calls == 0


def test_probe_without_network_decides_quickly() -> None:
    # Every connection attempt fails at once here (the no-internet fixture; offline machines alike).
    t0 = time.monotonic()
    reachable, outcomes = probe_live(Settings(probe_timeout_s=2.0))
    assert reachable is False
    assert time.monotonic() - t0 < 2.0
    assert set(outcomes) >= {"binanceusdm", "okx", "bybit", "deribit"}


def test_probe_against_refusing_proxy_is_fast() -> None:
    settings = Settings(ccxt_options={"*": {"proxyUrl": "http://127.0.0.1:9/"}}, probe_timeout_s=2.0)
    t0 = time.monotonic()
    reachable, outcomes = probe_live(settings)
    assert reachable is False
    assert time.monotonic() - t0 < 2.5
    assert any("refused" in o.lower() or "connection" in o.lower() for o in outcomes.values())


def test_get_market_data_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARRYDESK_SOURCE", "demo")
    monkeypatch.setenv("CARRYDESK_DEMO_SCENARIO", "crash")
    reset_market_data()
    try:
        md = get_market_data()
        assert md.source == "demo"
        assert md.scenario == "crash"
        assert "Simulated" in md.source_label
        assert get_market_data() is md  # one facade per process and configuration
    finally:
        reset_market_data()
