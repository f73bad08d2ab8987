"""Settings: defaults, TOML file, environment precedence, clear errors for bad values."""

from __future__ import annotations

from pathlib import Path

import pytest

from data_sources.config import DEFAULT_TTLS, ConfigError, load_settings


def test_defaults(tmp_path: Path) -> None:
    s = load_settings({}, cwd=tmp_path)
    assert s.source == "auto"
    assert s.demo_scenario == "normal"
    assert s.ttls == DEFAULT_TTLS
    assert s.config_path is None


def test_env_overrides_toml(tmp_path: Path) -> None:
    cfg = tmp_path / "carrydesk.toml"
    cfg.write_text(
        'source = "live"\nvenues = ["okx", "bybit"]\n[ttl]\nquotes = 5\n[ccxt_options."*"]\ntimeout = 4000\n',
        encoding="utf-8",
    )
    s = load_settings({"CARRYDESK_SOURCE": "demo"}, cwd=tmp_path)
    assert s.source == "demo"  # environment beats the file
    assert s.venues == ("okx", "bybit")
    assert s.ttls["quotes"] == 5.0
    assert s.ttls["markets"] == DEFAULT_TTLS["markets"]
    assert s.options_for("okx") == {"timeout": 4000}
    assert s.config_path == str(cfg)


def test_ccxt_options_star_and_venue(tmp_path: Path) -> None:
    env = {"CARRYDESK_CCXT_OPTIONS": '{"*": {"timeout": 5000, "proxyUrl": "http://127.0.0.1:9/"}, '
                                     '"okx": {"timeout": 7000}}'}
    s = load_settings(env, cwd=tmp_path)
    assert s.options_for("okx") == {"timeout": 7000, "proxyUrl": "http://127.0.0.1:9/"}
    assert s.options_for("bybit") == {"timeout": 5000, "proxyUrl": "http://127.0.0.1:9/"}


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"CARRYDESK_SOURCE": "sometimes"}, "source must be one of"),
        ({"CARRYDESK_CCXT_OPTIONS": "{not json"}, "not valid JSON"),
        ({"CARRYDESK_CCXT_OPTIONS": '{"kraken": {}}'}, "unknown exchanges"),
        ({"CARRYDESK_CCXT_OPTIONS": '["*"]'}, "must map an exchange id"),
        ({"CARRYDESK_DEMO_SCENARIO": "meltdown"}, "demo scenario must be one of"),
        ({"CARRYDESK_DEMO_SEED": "abc"}, "demo seed must be an integer"),
        ({"CARRYDESK_CONFIG": "/nonexistent/carrydesk.toml"}, "not a file"),
    ],
)
def test_bad_values_get_clear_messages(tmp_path: Path, env: dict[str, str], fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        load_settings(env, cwd=tmp_path)


def test_bad_toml(tmp_path: Path) -> None:
    (tmp_path / "carrydesk.toml").write_text("source = \n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings({}, cwd=tmp_path)
    (tmp_path / "carrydesk.toml").write_text("[ttl]\nquotes = -1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="must be positive"):
        load_settings({}, cwd=tmp_path)


def test_proxy_defaults_toml_and_environment(tmp_path: Path) -> None:
    s = load_settings({}, cwd=tmp_path)
    assert (s.proxies["gold"].venue, s.proxies["gold"].symbol) == ("binance", "PAXG/USDT")
    assert (s.proxies["nasdaq"].venue, s.proxies["nasdaq"].symbol) == ("hyperliquid", "XYZ-XYZ100/USDC:USDC")
    (tmp_path / "carrydesk.toml").write_text(
        '[proxies.gold]\nvenue = "binanceusdm"\nsymbol = "XAU/USDT:USDT"\nlabel = "Gold (TradFi perp)"\n',
        encoding="utf-8")
    s = load_settings({}, cwd=tmp_path)
    gold = s.proxies["gold"]
    assert (gold.venue, gold.symbol, gold.label) == ("binanceusdm", "XAU/USDT:USDT", "Gold (TradFi perp)")
    assert s.proxies["nasdaq"].symbol == "XYZ-XYZ100/USDC:USDC"  # untouched
    s = load_settings({"CARRYDESK_PROXY_GOLD": "hyperliquid:XYZ-GOLD/USDC:USDC"}, cwd=tmp_path)
    assert (s.proxies["gold"].venue, s.proxies["gold"].symbol) == ("hyperliquid", "XYZ-GOLD/USDC:USDC")
    assert s.proxies["gold"].label == "Gold"  # the environment gives venue:symbol only


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"CARRYDESK_PROXY_GOLD": "PAXG/USDT"}, "must be venue:symbol"),
        ({"CARRYDESK_PROXY_GOLD": "kraken:PAXG/USD"}, "unknown exchange 'kraken'"),
        ({"CARRYDESK_PROXY_NASDAQ": "binance:<script>"}, "is not a ccxt symbol"),
    ],
)
def test_bad_proxies_get_clear_messages(tmp_path: Path, env: dict[str, str], fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        load_settings(env, cwd=tmp_path)


def test_unknown_proxy_key_in_toml(tmp_path: Path) -> None:
    (tmp_path / "carrydesk.toml").write_text('[proxies.silver]\nvenue = "binance"\nsymbol = "XAG/USDT"\n',
                                             encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown proxy 'silver'"):
        load_settings({}, cwd=tmp_path)
