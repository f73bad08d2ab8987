"""Settings: defaults in code, overridden by an optional TOML file, overridden by environment variables.

Environment:
- ``CARRYDESK_SOURCE``: ``auto`` (default) | ``live`` | ``demo``.
- ``CARRYDESK_CCXT_OPTIONS``: JSON object, exchange id or ``"*"`` -> ccxt constructor options,
  e.g. ``{"*": {"proxyUrl": "http://127.0.0.1:8080/", "timeout": 5000}}``.
- ``CARRYDESK_DEMO_SCENARIO``: ``normal`` (default) | ``crash`` | ``squeeze``.
- ``CARRYDESK_DEMO_SEED``: integer seed of the simulated market (default 7).
- ``CARRYDESK_DEMO_FAULTS``: simulated exchange faults, ``venue:kind[=ms]`` items separated by commas, e.g.
  ``okx:down,bybit:rate_limit,deribit:slow=3000,*:latency=100`` (kinds: ``FAULT_NAMES``), or a JSON list
  of ``Fault`` objects, e.g. ``[{"kind": "latency", "latency_ms": 100}]`` (see ``parse_demo_faults``).
- ``CARRYDESK_PROXY_GOLD`` / ``CARRYDESK_PROXY_NASDAQ``: the correlation page's proxies as
  ``venue:symbol`` (e.g. ``hyperliquid:XYZ-GOLD/USDC:USDC``; the symbol is any ccxt spot or perp symbol of
  that venue). Defaults: gold = Binance spot ``PAXG/USDT``, Nasdaq-100 = Hyperliquid ``XYZ-XYZ100/USDC:USDC``.
- ``CARRYDESK_DEMO_REQUEST_LOG``: a file path; in demo mode every simulated upstream request is appended to it,
  one line ``epoch_seconds<TAB>venue<TAB>method<TAB>path`` (for ``make load``, which drives a server from
  outside and counts its upstream requests). Off when unset.
- ``CARRYDESK_CONFIG``: path of a TOML file (default ``carrydesk.toml`` in the working directory, if any)::

      source = "auto"
      venues = ["binanceusdm", "okx", "bybit", "deribit"]
      [ttl]            # seconds per data kind
      quotes = 15
      [ccxt_options."*"]
      timeout = 5000
      [proxies.gold]   # a proxy: venue, ccxt symbol, optional label
      venue = "binanceusdm"
      symbol = "XAU/USDT:USDT"
      [margin_tiers."binanceusdm:BTC/USDT:USDT"]   # replaces a default tier table (data_sources.margin)
      source = "Binance leverage bracket page"
      date = 2025-06-01
      tiers = [{floor = 0, cap = 50000, mmr = 0.004, max_leverage = 125}]
"""

from __future__ import annotations

import fnmatch
import json
import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from data_sources.errors import InvalidQueryError
from data_sources.margin import TierTable, parse_override
from data_sources.simulated.market import SCENARIOS
from data_sources.simulated.transport import FAULT_KINDS
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
    # Exchanges change tiers by announcement, a few times a year; an hour (like the markets) is fresh enough for
    # a margin estimate and keeps the hedge page from re-asking on every rerun.
    "margin_tiers": 3600.0,
}


class ConfigError(InvalidQueryError):
    """A setting has a value we cannot use; the message says which and what is allowed."""


@dataclass(frozen=True)
class Proxy:
    """A non-crypto reference series for the correlation page: one (venue, ccxt symbol) pair.

    ``key`` says what it stands for: ``gold`` or ``nasdaq`` (an equity index, which has news only in NYSE
    sessions). ``label`` is what pages call it.
    """

    key: str
    label: str
    venue: str
    symbol: str

    @property
    def name(self) -> str:
        """How the page names the proxy and its source, e.g. "Gold (Binance spot PAXG/USDT)"."""
        return f"{self.label} ({self.symbol} on {self.venue})"


PROXY_LABELS: dict[str, str] = {"gold": "Gold", "nasdaq": "Nasdaq-100"}
DEFAULT_PROXIES: dict[str, Proxy] = {
    # PAXG is a token redeemable for an ounce of London gold, trading on Binance spot since 2019.
    "gold": Proxy("gold", "Gold", "binance", "PAXG/USDT"),
    # trade.xyz's Nasdaq-100 perp on Hyperliquid (HIP-3 dex "xyz"), since October 2025.
    "nasdaq": Proxy("nasdaq", "Nasdaq-100", "hyperliquid", "XYZ-XYZ100/USDC:USDC"),
}
_SYMBOL_RE = re.compile(r"^[A-Za-z0-9]+(?:-[A-Za-z0-9]+)?/[A-Za-z0-9]+(?::[A-Za-z0-9]+(?:-[0-9]{6})?)?$")


@dataclass(frozen=True)
class Settings:
    source: str = "auto"
    venues: tuple[str, ...] = tuple(VENUES)
    ccxt_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    ttls: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_TTLS))
    demo_scenario: str = "normal"
    demo_seed: int = 7
    demo_faults: tuple[dict[str, Any], ...] = ()
    proxies: dict[str, Proxy] = field(default_factory=lambda: dict(DEFAULT_PROXIES))
    # "venue:symbol" -> the user's tier table, replacing the default/exchange tiers of that contract
    margin_tiers: dict[str, TierTable] = field(default_factory=dict)
    probe_timeout_s: float = 2.0
    max_retries: int = 2
    retry_backoff_s: float = 0.25
    config_path: str | None = None
    demo_request_log: str | None = None  # CARRYDESK_DEMO_REQUEST_LOG (environment only)

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


# What each human-syntax fault name injects (``data_sources.simulated.transport.Fault`` kinds).
FAULT_NAMES: dict[str, str] = {
    "timeout": "the request times out at once",
    "down": "the connection is refused",
    "rate_limit": "HTTP 429 in the venue's format",
    "ban": "the venue's IP-ban answer (HTTP 418/403)",
    "server_error": "HTTP 5xx in the venue's format",
    "malformed": "HTTP 200 with a broken JSON body",
    "empty": "a well-formed answer without rows",
    "slow": "no answer within the client's timeout (=MS: answer after MS milliseconds)",
    "latency": "every answer delayed by =MS milliseconds, then normal",
}
_FAULT_FIELDS = {"kind": str, "venue": str, "path": str, "times": int, "latency_ms": float}
_FAULT_SYNTAX = "venue:kind[=ms][,venue:kind...] (e.g. okx:down,bybit:rate_limit,*:latency=100)"


def _fault_venue(venue: str, where: str, item: object) -> str:
    """A venue id, ``*`` or a glob such as ``binance*`` that names at least one known venue."""
    venue = venue.strip().lower()
    if not venue or not any(fnmatch.fnmatchcase(v, venue) for v in VENUES):
        raise ConfigError(f"{where}: demo fault {item!r}: unknown exchange {venue!r}; known: "
                          f"{sorted(VENUES)}, \"*\" or a pattern like \"binance*\"")
    return venue


def _fault_kind(kind: str, where: str, item: object) -> str:
    kind = kind.strip().lower().replace("-", "_")
    if kind not in FAULT_KINDS:
        raise ConfigError(f"{where}: demo fault {item!r}: unknown kind {kind!r}; kinds: {', '.join(FAULT_NAMES)}")
    return kind


def _fault_text(item: str, where: str) -> dict[str, Any]:
    """One ``venue:kind[=ms]`` item of the human syntax."""
    venue, sep, rest = item.partition(":")
    if not sep or not rest.strip():
        raise ConfigError(f"{where}: demo fault {item!r} is not venue:kind; write {_FAULT_SYNTAX}")
    kind_text, eq, ms_text = rest.partition("=")
    fault: dict[str, Any] = {"kind": _fault_kind(kind_text, where, item), "venue": _fault_venue(venue, where, item)}
    if eq:
        if fault["kind"] not in ("slow", "latency"):
            raise ConfigError(f"{where}: demo fault {item!r}: only slow and latency take =milliseconds")
        try:
            ms = float(ms_text.strip().removesuffix("ms"))
        except ValueError as e:
            raise ConfigError(f"{where}: demo fault {item!r}: {ms_text.strip()!r} is not a number of "
                              "milliseconds") from e
        if not math.isfinite(ms) or ms <= 0:
            raise ConfigError(f"{where}: demo fault {item!r}: the milliseconds must be positive")
        fault["latency_ms"] = ms
    elif fault["kind"] == "latency":
        raise ConfigError(f"{where}: demo fault {item!r}: latency needs its milliseconds, e.g. {venue}:latency=100")
    return fault


def _fault_object(item: object, where: str) -> dict[str, Any]:
    """One fault object of the JSON/TOML form, checked field by field (``transport.Fault``'s fields)."""
    if not isinstance(item, dict):
        raise ConfigError(f"{where}: demo fault {item!r} must be an object like {{\"kind\": \"down\", "
                          "\"venue\": \"okx\"}")
    unknown = sorted(set(item) - set(_FAULT_FIELDS))
    if unknown:
        raise ConfigError(f"{where}: demo fault {item!r}: unknown field(s) {unknown}; known: {list(_FAULT_FIELDS)}")
    if "kind" not in item:
        raise ConfigError(f"{where}: demo fault {item!r} has no kind; kinds: {', '.join(FAULT_NAMES)}")
    fault: dict[str, Any] = {}
    for name, typ in _FAULT_FIELDS.items():
        if name not in item or (name == "times" and item[name] is None):
            continue
        value = item[name]
        ok = isinstance(value, str) if typ is str else (isinstance(value, int | float) and not isinstance(value, bool))
        if not ok or (typ is int and value != int(value)):
            raise ConfigError(f"{where}: demo fault {item!r}: {name} must be {'text' if typ is str else 'a number'}")
        fault[name] = typ(value)
    fault["kind"] = _fault_kind(fault["kind"], where, item)
    fault["venue"] = _fault_venue(fault.get("venue", "*"), where, item)
    if fault.get("times", 1) < 1 or not math.isfinite(fault.get("latency_ms", 0.0)) or fault.get("latency_ms", 0) < 0:
        raise ConfigError(f"{where}: demo fault {item!r}: times must be >= 1 and latency_ms >= 0")
    return fault


def parse_demo_faults(value: object, where: str = "CARRYDESK_DEMO_FAULTS") -> tuple[dict[str, Any], ...]:
    """Demo faults from the human syntax, a JSON list, or a TOML list of tables, as ``Fault`` keyword dicts.

    The human syntax is ``venue:kind[=ms]`` items separated by commas: ``okx:down,bybit:rate_limit``,
    ``deribit:slow=3000``, ``*:latency=100``. The venue is an id, ``*`` or a pattern (``binance*``); the
    kinds are those of ``FAULT_NAMES``. Text starting with ``[`` or ``{`` is JSON: a list of objects with
    ``kind`` and optionally ``venue``, ``path`` (fnmatch on the request path), ``times``, ``latency_ms``.

    Raises
    ------
    ConfigError
        Naming the bad item and what is allowed; never anything else.
    """
    if isinstance(value, str):
        text = value.strip()
        if text.startswith(("[", "{")):
            try:
                value = json.loads(text)
            except json.JSONDecodeError as e:
                raise ConfigError(f"{where}: demo faults are not valid JSON: {e.msg} at position {e.pos}; "
                                  f"or write {_FAULT_SYNTAX}") from e
        else:
            items = [i.strip() for i in re.split(r"[,;\s]+", text) if i.strip()]
            return tuple(_fault_text(i, where) for i in items)
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list | tuple):
        raise ConfigError(f"{where}: demo faults must be a list of objects or {_FAULT_SYNTAX}")
    return tuple(_fault_object(f, where) for f in value)


def _faults(value: object, where: str) -> tuple[dict[str, Any], ...]:
    return parse_demo_faults(value, f"{where}: demo faults" if where != "environment" else "CARRYDESK_DEMO_FAULTS")


def _proxy(key: str, value: object, where: str) -> Proxy:
    """One proxy from ``venue:symbol`` text (environment) or a ``{venue, symbol, label}`` table (TOML)."""
    label = PROXY_LABELS[key]
    if isinstance(value, str):
        venue, sep, symbol = value.strip().partition(":")
        if not sep:
            raise ConfigError(f"{where}: proxy {key} must be venue:symbol (e.g. binance:PAXG/USDT), not {value!r}")
    elif isinstance(value, dict):
        venue, symbol = str(value.get("venue", "")), str(value.get("symbol", ""))
        label = str(value.get("label") or label)
    else:
        raise ConfigError(f"{where}: proxy {key} must be a table with venue and symbol")
    venue, symbol = venue.strip(), symbol.strip()
    if venue not in VENUES:
        raise ConfigError(f"{where}: proxy {key}: unknown exchange {venue!r}; known: {sorted(VENUES)}")
    if not _SYMBOL_RE.match(symbol):
        raise ConfigError(f"{where}: proxy {key}: {symbol!r} is not a ccxt symbol (BASE/QUOTE or BASE/QUOTE:SETTLE)")
    return Proxy(key, label[:40], venue, symbol)


def _proxies(value: object, where: str, current: dict[str, Proxy]) -> dict[str, Proxy]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: proxies must be a table of gold / nasdaq entries")
    out = dict(current)
    for key, item in value.items():
        if key not in PROXY_LABELS:
            raise ConfigError(f"{where}: unknown proxy {key!r}; known: {sorted(PROXY_LABELS)}")
        out[key] = _proxy(key, item, where)
    return out


def _margin_tiers(value: object, where: str, current: dict[str, TierTable]) -> dict[str, TierTable]:
    """``[margin_tiers."venue:symbol"]`` tables (see ``data_sources.margin.parse_override``)."""
    if not isinstance(value, dict):
        raise ConfigError(f'{where}: margin_tiers must be a table of "venue:symbol" entries')
    out = dict(current)
    for key, item in value.items():
        venue = str(key).partition(":")[0]
        if venue not in VENUES:
            raise ConfigError(f"{where}: margin_tiers.{key!r}: unknown exchange {venue!r}; known: {sorted(VENUES)}")
        try:
            out[str(key)] = parse_override(str(key), item, where)
        except ValueError as e:
            raise ConfigError(str(e)) from e
    return out


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
        "proxies": lambda v, w: _proxies(v, w, settings.proxies),
        "probe_timeout_s": _positive,
        "margin_tiers": lambda v, w: _margin_tiers(v, w, settings.margin_tiers),
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
    env_proxies = {key: env[f"CARRYDESK_PROXY_{key.upper()}"] for key in PROXY_LABELS
                   if env.get(f"CARRYDESK_PROXY_{key.upper()}", "").strip()}
    if env_proxies:
        env_data["proxies"] = env_proxies
    request_log = env.get("CARRYDESK_DEMO_REQUEST_LOG", "").strip()
    if request_log:
        settings = replace(settings, demo_request_log=request_log)
    return _apply(settings, env_data, "environment")
