"""Settings: defaults in code, overridden by an optional TOML file, overridden by environment variables.

Environment:
- ``CARRYDESK_SOURCE``: ``auto`` (default) | ``live`` | ``demo``.
- ``CARRYDESK_CCXT_OPTIONS``: JSON object, exchange id or ``"*"`` -> ccxt constructor options,
  e.g. ``{"*": {"proxyUrl": "http://127.0.0.1:8080/", "timeout": 5000}}``.
- ``CARRYDESK_DEMO_SCENARIO``: ``normal`` (default) | ``crash`` | ``squeeze``.
- ``CARRYDESK_DEMO_SEED``: integer seed of the simulated market (default 7).
- ``CARRYDESK_DEMO_FAULTS``: JSON list of simulated faults, e.g. ``[{"kind": "latency", "latency_ms": 100}]``.
- ``CARRYDESK_CONFIG``: path of a TOML file (default ``carrydesk.toml`` in the working directory, if any)::

      source = "auto"
      venues = ["binanceusdm", "okx", "bybit", "deribit"]
      [ttl]            # seconds per data kind
      quotes = 15
      [ccxt_options."*"]
      timeout = 5000
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from data_sources.errors import InvalidQueryError
from data_sources.simulated.market import SCENARIOS
from data_sources.venues import VENUES

SOURCES = ("auto", "live", "demo")

# Why each TTL (seconds):
DEFAULT_TTLS: dict[str, float] = {
    "markets": 3600.0,  # listings change a few times a day at most; reloaded on this schedule
    "quotes": 15.0,  # last/mark/index move every second; 15 s keeps a page fresh and the venue unloaded
    "funding_now": 30.0,  # the running estimate moves slowly; next-funding countdown is computed locally
    "funding_history": 3600.0,  # upper bound; an open-ended window expires at the next settlement
    "ohlcv_closed": 6 * 3600.0,  # closed candles never change
    "ohlcv_forming": 30.0,  # a window containing the forming candle
    "probe": 300.0,  # auto mode re-checks whether live exchanges answer every 5 minutes
}


class ConfigError(InvalidQueryError):
    """A setting has a value we cannot use; the message says which and what is allowed."""


@dataclass(frozen=True)
class Settings:
    source: str = "auto"
    venues: tuple[str, ...] = tuple(VENUES)
    ccxt_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    ttls: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_TTLS))
    demo_scenario: str = "normal"
    demo_seed: int = 7
    demo_faults: tuple[dict[str, Any], ...] = ()
    probe_timeout_s: float = 2.0
    max_retries: int = 2
    retry_backoff_s: float = 0.25
    config_path: str | None = None

    def options_for(self, venue: str) -> dict[str, Any]:
        """ccxt options for ``venue``: the ``"*"`` entry overlaid by the venue's own."""
        out: dict[str, Any] = {}
        out.update(self.ccxt_options.get("*", {}))
        out.update(self.ccxt_options.get(venue, {}))
        return out


def _parse_ccxt_options(raw: object, where: str) -> dict[str, dict[str, Any]]:
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as e:
            raise ConfigError(f"{where} is not valid JSON: {e.msg} at position {e.pos}") from e
    if not isinstance(raw, dict) or not all(isinstance(v, dict) for v in raw.values()):
        raise ConfigError(f'{where} must map an exchange id or "*" to an object of ccxt options')
    unknown = sorted(set(raw) - set(VENUES) - {"*"})
    if unknown:
        raise ConfigError(f"{where} names unknown exchanges {unknown}; known: {sorted(VENUES)} or \"*\"")
    return {str(k): dict(v) for k, v in raw.items()}


def _source(value: object, where: str) -> str:
    source = str(value).strip().lower()
    if source not in SOURCES:
        raise ConfigError(f"{where}: source must be one of {', '.join(SOURCES)}, not {value!r}")
    return source


def _venues(value: object, where: str) -> tuple[str, ...]:
    venues = tuple(str(v) for v in value) if isinstance(value, list | tuple) else ()
    unknown = sorted(set(venues) - set(VENUES))
    if unknown or not venues:
        raise ConfigError(f"{where}: venues must be a non-empty list from {sorted(VENUES)}; got {value!r}")
    return venues


def _ttls(value: object, where: str, current: dict[str, float]) -> dict[str, float]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: ttl must be a table of kind = seconds")
    ttls = dict(current)
    for k, v in value.items():
        if k not in DEFAULT_TTLS:
            raise ConfigError(f"{where}: unknown ttl kind {k!r}; known: {sorted(DEFAULT_TTLS)}")
        try:
            ttls[k] = float(v)
        except (TypeError, ValueError) as e:
            raise ConfigError(f"{where}: ttl.{k} must be a number of seconds") from e
        if ttls[k] <= 0:
            raise ConfigError(f"{where}: ttl.{k} must be positive")
    return ttls


def _scenario(value: object, where: str) -> str:
    scenario = str(value).strip().lower()
    if scenario not in SCENARIOS:
        raise ConfigError(f"{where}: demo scenario must be one of {sorted(SCENARIOS)}, not {scenario!r}")
    return scenario


def _seed(value: object, where: str) -> int:
    try:
        return int(str(value))
    except ValueError as e:
        raise ConfigError(f"{where}: demo seed must be an integer, not {value!r}") from e


def _faults(value: object, where: str) -> tuple[dict[str, Any], ...]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as e:
            raise ConfigError(f"{where}: demo faults are not valid JSON: {e.msg}") from e
    if not isinstance(value, list) or not all(isinstance(f, dict) for f in value):
        raise ConfigError(f"{where}: demo faults must be a list of objects")
    return tuple(value)


def _positive(value: object, where: str) -> float:
    try:
        out = float(str(value))
    except ValueError as e:
        raise ConfigError(f"{where}: must be a number") from e
    if out <= 0:
        raise ConfigError(f"{where}: must be positive")
    return out


def _apply(settings: Settings, data: Mapping[str, Any], where: str) -> Settings:
    parsers: dict[str, Any] = {
        "source": _source,
        "venues": _venues,
        "ttl": lambda v, w: _ttls(v, w, settings.ttls),
        "ccxt_options": lambda v, w: _parse_ccxt_options(v, f"{w}: ccxt_options"),
        "demo_scenario": _scenario,
        "demo_seed": _seed,
        "demo_faults": _faults,
        "probe_timeout_s": _positive,
    }
    fields = {"ttl": "ttls"}
    changes = {fields.get(k, k): parse(data[k], where) for k, parse in parsers.items() if k in data}
    return replace(settings, **changes)


def load_settings(env: Mapping[str, str] | None = None, *, cwd: Path | None = None) -> Settings:
    """Settings from code defaults, then the TOML file, then the environment (highest)."""
    env = os.environ if env is None else env
    settings = Settings()
    path_str = env.get("CARRYDESK_CONFIG")
    path = Path(path_str) if path_str else (cwd or Path.cwd()) / "carrydesk.toml"
    if path_str and not path.is_file():
        raise ConfigError(f"CARRYDESK_CONFIG points to {path_str!r}, which is not a file")
    if path.is_file():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"{path}: not valid TOML: {e}") from e
        settings = replace(_apply(settings, data, str(path)), config_path=str(path))
    env_data: dict[str, Any] = {}
    for key, name in (
        ("source", "CARRYDESK_SOURCE"),
        ("ccxt_options", "CARRYDESK_CCXT_OPTIONS"),
        ("demo_scenario", "CARRYDESK_DEMO_SCENARIO"),
        ("demo_seed", "CARRYDESK_DEMO_SEED"),
        ("demo_faults", "CARRYDESK_DEMO_FAULTS"),
    ):
        value = env.get(name)
        if value is not None and value.strip() != "":
            env_data[key] = value
    return _apply(settings, env_data, "environment")
