"""CARRYDESK_DEMO_FAULTS: the human syntax, the JSON form, clear config errors, and the ``slow`` fault."""

from __future__ import annotations

import json

import pytest
import requests

from data_sources import errors
from data_sources.config import ConfigError, load_settings, parse_demo_faults
from data_sources.simulated import FAULT_KINDS, Fault, FaultPlan, SimRequest
from data_sources.simulated.transport import read_timeout_s
from data_sources.source import build_demo

KINDS = ("timeout", "down", "rate_limit", "ban", "server_error", "malformed", "empty", "slow")


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_in_the_human_syntax(kind):
    (fault,) = parse_demo_faults(f"okx:{kind}")
    assert fault == {"kind": kind, "venue": "okx"}
    assert Fault(**fault).kind in FAULT_KINDS


def test_several_faults_options_and_patterns():
    faults = parse_demo_faults(" okx:down, bybit:rate_limit;deribit:slow=3000 *:latency=100ms binance*:ban ")
    assert faults == (
        {"kind": "down", "venue": "okx"},
        {"kind": "rate_limit", "venue": "bybit"},
        {"kind": "slow", "venue": "deribit", "latency_ms": 3000.0},
        {"kind": "latency", "venue": "*", "latency_ms": 100.0},
        {"kind": "ban", "venue": "binance*"},
    )
    plan = FaultPlan([Fault(**f) for f in faults])
    hit = plan.take(SimRequest("binancecoinm", "GET", "/dapi/v1/exchangeInfo", {}))
    assert [f.kind for f in hit] == ["latency", "ban"]


def test_json_form_still_works_and_is_checked():
    raw = json.dumps([{"kind": "latency", "latency_ms": 100}, {"kind": "malformed", "venue": "okx",
                                                               "path": "*/tickers", "times": 2}])
    assert load_settings({"CARRYDESK_DEMO_FAULTS": raw}).demo_faults == (
        {"kind": "latency", "venue": "*", "latency_ms": 100.0},
        {"kind": "malformed", "venue": "okx", "path": "*/tickers", "times": 2},
    )
    assert parse_demo_faults([{"kind": "down", "venue": "okx"}], "carrydesk.toml") == (
        {"kind": "down", "venue": "okx"},)


@pytest.mark.parametrize(("value", "says"), [
    ("okx", "is not venue:kind"),
    ("okx:dwn", "unknown kind 'dwn'"),
    ("kraken:down", "unknown exchange 'kraken'"),
    ("okx:down=3", "only slow and latency take =milliseconds"),
    ("okx:slow=abc", "not a number of milliseconds"),
    ("okx:slow=-5", "must be positive"),
    ("*:latency", "latency needs its milliseconds"),
    ("[{", "not valid JSON"),
    ('[{"kind": "down", "venu": "okx"}]', "unknown field(s) ['venu']"),
    ('[{"venue": "okx"}]', "has no kind"),
    ('[{"kind": "boom"}]', "unknown kind 'boom'"),
    ('[{"kind": "down", "times": 0}]', "times must be >= 1"),
    ("[1]", "must be an object"),
])
def test_bad_values_are_config_errors_that_say_what_is_allowed(value, says):
    with pytest.raises(ConfigError) as e:
        load_settings({"CARRYDESK_DEMO_FAULTS": value})
    assert str(e.value).startswith("CARRYDESK_DEMO_FAULTS: ")
    assert says in str(e.value)
    assert isinstance(e.value, errors.DataSourceError)  # pages show it as "Market data unavailable: ..."


def test_blank_means_no_faults():
    assert load_settings({"CARRYDESK_DEMO_FAULTS": "  "}).demo_faults == ()


def test_read_timeout_of_a_requests_timeout_argument():
    assert read_timeout_s(0.05) == 0.05
    assert read_timeout_s((3.0, 0.2)) == 0.2
    assert read_timeout_s(None) is None


def _demo(market, spec: str, timeout_ms: int):
    env = {"CARRYDESK_SOURCE": "demo", "CARRYDESK_DEMO_FAULTS": spec,
           "CARRYDESK_CCXT_OPTIONS": json.dumps({"*": {"timeout": timeout_ms}})}
    return build_demo(load_settings(env), market=market)


def test_slow_waits_the_client_timeout_then_fails_as_a_timeout(market, monkeypatch):
    md = _demo(market, "okx:slow", 20)
    slept: list[float] = []
    for transport in _transports(md, "okx"):
        monkeypatch.setattr(transport, "_sleep", slept.append)
    result = md.term_structure("BTC", venues=["okx", "bybit"])
    assert set(result.frame["venue"]) == {"bybit"}
    assert "timed out" in result.errors["okx"]
    assert slept and all(s == pytest.approx(0.02) for s in slept)  # the client's timeout, every attempt
    md.close()


def test_slow_with_a_delay_under_the_timeout_answers(market, monkeypatch):
    md = _demo(market, "okx:slow=5", 10_000)
    slept: list[float] = []
    for transport in _transports(md, "okx"):
        monkeypatch.setattr(transport, "_sleep", slept.append)
    result = md.term_structure("BTC", venues=["okx"])
    assert not result.errors and len(result.frame)
    assert slept and set(slept) == {0.005}
    assert md.faults.hits("okx") == len(slept)
    md.close()


def test_simulated_failures_read_like_requests_errors():
    timeout = requests.exceptions.ReadTimeout("HTTPSConnectionPool(host='www.okx.com', port=443): Read timed out.")
    assert "timed out" in str(errors.translate(timeout, venue="okx"))


def _transports(md, venue):
    ex = md.pool.client(venue)
    return {ex.session.get_adapter("https://x"), ex.session.get_adapter("http://x")}
