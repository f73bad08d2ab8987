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
