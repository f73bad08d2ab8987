"""Instrument specs and maintenance-margin tiers for the hedge calculator: the pure parts (no I/O).

Where each venue's tiers come from (``MarketData.margin_tiers``):

- OKX and Bybit publish them on public endpoints; their family modules fetch and convert them
  (``exchange: ...``).
- Binance's tier endpoint (``leverageBracket``) is signed: ccxt raises ``AuthenticationError`` without an
  API key. So a DEFAULT TABLE lives here, copied from Binance's own publications, each with its source
  and date (``config: ...``). They are old (2021): the page says so and the user can replace any of them
  in ``carrydesk.toml`` (``[margin_tiers."binanceusdm:BTC/USDT:USDT"]``, see ``parse_override``).
- Deribit and Hyperliquid have no tier endpoint: their documented margin rules become tiers here
  (``documented: ...``), keyed by venue id so a venue added later gets its rule without code elsewhere.
- Where nothing is published or documented, a stated assumption (``config: assumption ...``).

Units (see ``MarginTier``): floor/cap bound the position's value in ``unit``. Linear contracts: the quote
currency (USDT, USDC), except OKX, whose contract counts times ``ctVal`` are a base-coin amount. Inverse
contracts: the coin (BTC) -- Binance COIN-M, Bybit inverse, Deribit -- except OKX inverse, whose counts
times ``ctVal`` are USD of face value. ``cum`` (the maintenance amount deducted) is in the same unit.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fnmatch import fnmatchcase
from typing import Any

import ccxt

from data_sources.venues.base import Contract, InstrumentSpec, MarginTier

INF = math.inf
FEES_FROM_CCXT = (f"ccxt {ccxt.__version__}: static fee schedule (the exchange's base tier; your account's "
                  "tier may differ)")
# Fee fields some exchanges publish in their listing (ccxt copies them into market taker/maker).
_LISTING_FEE_FIELDS = (("taker_commission", "maker_commission"), ("takerFee", "makerFee"))
# Max-leverage fields of a raw listing ccxt does not parse into limits.leverage.max (Deribit).
_LISTING_LEVERAGE_FIELDS = ("max_leverage", "maxLeverage", "lever")


# ---------------------------------------------------------------------------------------------------------
# Tables


@dataclass(frozen=True)
class TierRow:
    """One row of a tier table: a position value in (floor, cap] has rate ``mmr`` and up to ``max_leverage``.

    ``cum`` None: computed by the continuity rule (``continuity_cum``).
    """

    floor: float
    cap: float
    mmr: float
    max_leverage: float | None
    cum: float | None = None


@dataclass(frozen=True)
class TierTable:
    """A tier table with where it came from (``source``, starting ``config:`` or ``documented:``).

    ``unit`` None: the contract's natural unit (quote currency for linear, base coin for inverse).
    """

    source: str
    rows: tuple[TierRow, ...]
    unit: str | None = None

    def tiers(self, market: Mapping[str, Any]) -> list[MarginTier]:
        """The rows as ``MarginTier`` (numbered 1..n) for ``market`` (a ccxt market)."""
        unit = self.unit or natural_unit(market)
        cums = continuity_cum(self.rows)
        return [MarginTier(tier=i + 1, floor=r.floor, cap=r.cap, unit=unit, mmr=r.mmr,
                           max_leverage=r.max_leverage, cum=c, source=self.source)
                for i, (r, c) in enumerate(zip(self.rows, cums, strict=True))]


def natural_unit(market: Mapping[str, Any]) -> str:
    """The currency a position's value is measured in: quote for linear, base coin for inverse."""
    return str(market["quote"] if market.get("linear") else market["base"])


def continuity_cum(rows: Sequence[TierRow]) -> list[float]:
    """Each row's ``cum``: the given one, else Binance's rule ``cum_n = floor_n*(mmr_n - mmr_{n-1}) + cum_{n-1}``.

    The rule makes maintenance margin ``value*mmr - cum`` continuous at every tier boundary (Binance FAQ,
    ccxt-notes section 8; Bybit's ``mmDeduction`` follows it too). Decimal arithmetic on the printed
    values, so table figures such as 0.56 BTC come out exactly.
    """
    out: list[float] = []
    prev_mmr, prev_cum = Decimal(0), Decimal(0)
    for r in rows:
        mmr = Decimal(repr(r.mmr))
        cum = (Decimal(repr(r.floor)) * (mmr - prev_mmr) + prev_cum) if r.cum is None else Decimal(repr(r.cum))
        out.append(float(cum))
        prev_mmr, prev_cum = mmr, cum
    return out


def _rows(spec: Sequence[tuple[float, float, float, float]]) -> tuple[TierRow, ...]:
    """Rows from ``(floor, cap, max_leverage, mmr)``, the column order Binance prints them in."""
    return tuple(TierRow(floor=f, cap=c, mmr=m, max_leverage=lev) for f, c, lev, m in spec)


_BINANCE_2021 = ('Binance announcement "Updates to Leverage and Margin Tiers of Binance Futures Contracts", '
                 "2021-03-18")
BINANCE_USDM_BTCUSDT = TierTable(
    source=f"config: {_BINANCE_2021} (BTCUSDT table)",
    rows=_rows([
        (0, 50_000, 125, 0.004),
        (50_000, 250_000, 100, 0.005),
        (250_000, 1_000_000, 50, 0.01),
        (1_000_000, 10_000_000, 20, 0.025),
        (10_000_000, 20_000_000, 10, 0.05),
        (20_000_000, 50_000_000, 5, 0.10),
        (50_000_000, 100_000_000, 4, 0.125),
        (100_000_000, 200_000_000, 3, 0.15),
        (200_000_000, 300_000_000, 2, 0.25),
        (300_000_000, 500_000_000, 1, 0.50),
    ]),
)
BINANCE_USDM_GENERIC_50X = TierTable(
    source=(f"config: {_BINANCE_2021} (its generic 50x table, applied to every USDⓈ-M contract without a "
            "table of its own)"),
    rows=_rows([
        (0, 5_000, 50, 0.01),
        (5_000, 25_000, 20, 0.025),
        (25_000, 100_000, 10, 0.05),
        (100_000, 250_000, 5, 0.10),
        (250_000, 1_000_000, 2, 0.125),
        (1_000_000, INF, 1, 0.50),
    ]),
)
BINANCE_COINM_BTCUSD = TierTable(
    source=('config: Binance FAQ "How to Calculate Liquidation Price of COIN-M Futures Contracts", 2021-02-05, '
            'and "Leverage and Margin in Coin-Margined Futures Contracts", 2020-06-11 (BTCUSD, in BTC)'),
    rows=_rows([
        (0, 10, 125, 0.004),
        (10, 20, 100, 0.005),
        (20, 30, 50, 0.01),
        (30, 50, 20, 0.025),
        (50, 100, 10, 0.05),
        (100, 200, 5, 0.10),
        (200, 400, 4, 0.125),
        (400, 1_000, 3, 0.15),
        (1_000, INF, 2, 0.25),
    ]),
)
# Binance's tables for COIN-M contracts other than BTCUSD are not in config. Scaling the BTC table would
# invent numbers; one conservative tier (a low leverage, hence a high MMR) is stated as the assumption.
COINM_ASSUMED_LEVERAGE = 20.0
BINANCE_COINM_ASSUMED = TierTable(
    source=(f"config: assumption (no Binance table for this contract in config): one tier at "
            f"{COINM_ASSUMED_LEVERAGE:g}x, MMR = 1/(2 x {COINM_ASSUMED_LEVERAGE:g}) = "
            f"{100 / (2 * COINM_ASSUMED_LEVERAGE):g}% (half the initial margin rate)"),
    rows=(TierRow(floor=0.0, cap=INF, mmr=1 / (2 * COINM_ASSUMED_LEVERAGE), max_leverage=COINM_ASSUMED_LEVERAGE),),
)

# (venue, fnmatch pattern on the ccxt symbol, table): the first match wins. The COIN-M FAQ tables are for
# BTCUSD contracts, perpetual and quarterly alike; the USDⓈ-M BTCUSDT table is the perpetual's.
DEFAULT_TABLES: tuple[tuple[str, str, TierTable], ...] = (
    ("binanceusdm", "BTC/USDT:USDT", BINANCE_USDM_BTCUSDT),
    ("binanceusdm", "*", BINANCE_USDM_GENERIC_50X),
    ("binancecoinm", "BTC/USD:BTC*", BINANCE_COINM_BTCUSD),
    ("binancecoinm", "*", BINANCE_COINM_ASSUMED),
)
# Why a venue's tiers come from config, for the page ("<why>: default table from <source>; edit it").
CONFIG_REASONS: dict[str, str] = {
    "binanceusdm": "Binance's tier endpoint needs an API key",
    "binancecoinm": "Binance's tier endpoint needs an API key",
}


def default_table(venue: str, symbol: str) -> TierTable | None:
    """The built-in table for ``venue``'s ``symbol``, if there is one."""
    for v, pattern, table in DEFAULT_TABLES:
        if v == venue and fnmatchcase(symbol, pattern):
            return table
    return None


# ---------------------------------------------------------------------------------------------------------
# Documented rules (venues without a tier endpoint)


DERIBIT_DOC = ('Deribit Knowledge Base, futures and perpetual margin: BTC IM = 2% + size x 0.005%, '
               "MM = 1% + size x 0.005% (size in BTC); not verified live")
DERIBIT_BTC_CAPS = (10, 25, 50, 100, 250, 500, 1_000, 2_000)  # BTC: tier boundaries for the steps
HYPERLIQUID_DOC = ("Hyperliquid Docs, Trading > Margining: maintenance margin is half the initial margin at "
                   "max leverage, MMR = 1/(2 x max leverage); not verified live")


def _deribit(market: Mapping[str, Any]) -> list[MarginTier] | None:
    """Deribit's documented linear-in-size rates as steps; each step's rate is the rule at its cap.

    Within a step the true rate is lower, so the maintenance margin is never understated (``cum`` 0).
    Documented for BTC only; other coins get the half-initial-margin assumption on the listed leverage.
    """
    if market.get("base") != "BTC" or market.get("linear"):
        return assumed_half_initial(market, "no documented Deribit rule for this contract in config")
    step = Decimal("0.00005")  # 0.005% per BTC of position
    tiers = []
    floor = Decimal(0)
    for i, cap in enumerate(DERIBIT_BTC_CAPS):
        mm = Decimal("0.01") + step * cap
        im = Decimal("0.02") + step * cap
        tiers.append(MarginTier(tier=i + 1, floor=float(floor), cap=float(cap), unit="BTC", mmr=float(mm),
                                max_leverage=float(1 / im), cum=0.0,
                                source=f"documented: {DERIBIT_DOC}; each tier at the rate of its cap"))
        floor = Decimal(cap)
    return tiers


def _hyperliquid(market: Mapping[str, Any]) -> list[MarginTier] | None:
    """One tier: MMR = 1/(2 x max leverage) of the market (Hyperliquid's documented rule)."""
    lev, _ = listed_max_leverage(market)
    if lev is None or lev <= 0:
        return None
    return [MarginTier(tier=1, floor=0.0, cap=INF, unit=natural_unit(market), mmr=1.0 / (2.0 * lev),
                       max_leverage=lev, cum=0.0, source=f"documented: {HYPERLIQUID_DOC}")]


DOCUMENTED_RULES = {"deribit": _deribit, "hyperliquid": _hyperliquid}


def assumed_half_initial(market: Mapping[str, Any], why: str) -> list[MarginTier] | None:
    """One tier at the listed max leverage L with MMR = 1/(2L): an assumption, stated in ``source``."""
    lev, _ = listed_max_leverage(market)
    if lev is None or lev <= 0:
        return None
    return [MarginTier(tier=1, floor=0.0, cap=INF, unit=natural_unit(market), mmr=1.0 / (2.0 * lev),
                       max_leverage=lev, cum=0.0,
                       source=(f"config: assumption ({why}): one tier at the listed max leverage {lev:g}x, "
                               f"MMR = 1/(2 x {lev:g}) (half the initial margin rate)"))]


def rule_tiers(venue: str, market: Mapping[str, Any]) -> list[MarginTier] | None:
    """Tiers without a request: the built-in table, else the documented rule of the venue; None if neither."""
    table = default_table(venue, str(market["symbol"]))
    if table is not None:
        return table.tiers(market)
    rule = DOCUMENTED_RULES.get(venue)
    return rule(market) if rule is not None else None


def config_note(venue: str, symbol: str, source: str, *, overridden: bool) -> str | None:
    """What the page should say about tiers whose ``source`` is not the exchange (None when it is)."""
    kind, _, text = source.partition(": ")
    if kind == "exchange" or not text:
        return None
    key = f'[margin_tiers."{venue}:{symbol}"] in carrydesk.toml'
    if overridden:
        return f"your table from {text}"
    if kind == "documented":
        return f"no tier endpoint: documented rule from {text}; override it under {key}"
    why = CONFIG_REASONS.get(venue, "no tier endpoint")
    if text.startswith("assumption"):
        return f"{why}: {text}; edit it under {key}"
    return f"{why}: default table from {text}; edit it under {key}"


# ---------------------------------------------------------------------------------------------------------
# User overrides ([margin_tiers."venue:symbol"] in carrydesk.toml)


def parse_override(key: str, value: object, where: str) -> TierTable:
    """One user table from TOML. Raises ``ValueError`` with a message naming the problem.

    Shape::

        [margin_tiers."binanceusdm:BTC/USDT:USDT"]
        source = "Binance leverage bracket page"     # where the numbers were copied from
        date = 2025-06-01                            # when (a TOML date or "YYYY-MM-DD")
        unit = "USDT"                                # optional: default quote (linear) / coin (inverse)
        tiers = [
          {floor = 0, cap = 50000, mmr = 0.004, max_leverage = 125},   # cum optional (continuity rule)
          {floor = 50000, cap = inf, mmr = 0.005, max_leverage = 100},
        ]

    Tiers must be contiguous (each floor = the previous cap), ascending, with 0 < mmr < 1 and leverage >= 1.
    """
    venue, sep, symbol = key.partition(":")
    if not sep or not symbol:
        raise ValueError(f"{where}: margin_tiers key {key!r} must be \"venue:symbol\"")
    if not isinstance(value, dict):
        raise ValueError(f"{where}: margin_tiers.{key!r} must be a table with source, date and tiers")
    source = str(value.get("source") or "").strip()
    if not source:
        raise ValueError(f"{where}: margin_tiers.{key!r} needs a source (where the numbers come from)")
    date = _date(value.get("date"), f"{where}: margin_tiers.{key!r}")
    unit = value.get("unit")
    if unit is not None and (not isinstance(unit, str) or not unit.strip()):
        raise ValueError(f"{where}: margin_tiers.{key!r}.unit must be a currency code or \"contracts\"")
    raw = value.get("tiers")
    if not isinstance(raw, list) or not raw:
        raise ValueError(f"{where}: margin_tiers.{key!r}.tiers must be a non-empty list of tables")
    rows: list[TierRow] = []
    for i, t in enumerate(raw, start=1):
        what = f"{where}: margin_tiers.{key!r} tier {i}"
        if not isinstance(t, dict):
            raise ValueError(f"{what} must be a table {{floor, cap, mmr, max_leverage}}")
        row = TierRow(floor=_number(t, "floor", what), cap=_number(t, "cap", what), mmr=_number(t, "mmr", what),
                      max_leverage=_number(t, "max_leverage", what),
                      cum=_number(t, "cum", what) if "cum" in t else None)
        expected_floor = rows[-1].cap if rows else 0.0
        if row.floor != expected_floor:
            raise ValueError(f"{what}: floor {row.floor:g} must equal {expected_floor:g} (tiers are contiguous)")
        if not row.cap > row.floor:
            raise ValueError(f"{what}: cap must be above floor")
        if not 0.0 < row.mmr < 1.0:
            raise ValueError(f"{what}: mmr is a fraction (0.004 = 0.4%), got {row.mmr:g}")
        if row.max_leverage is None or row.max_leverage < 1.0:
            raise ValueError(f"{what}: max_leverage must be >= 1")
        rows.append(row)
    return TierTable(source=f"config: {source}, {date} ({where})", rows=tuple(rows),
                     unit=unit.strip() if isinstance(unit, str) else None)


def _date(value: object, what: str) -> str:
    if isinstance(value, dt.date):
        return value.isoformat()[:10]
    try:
        return dt.date.fromisoformat(str(value).strip()).isoformat()
    except ValueError:
        raise ValueError(f"{what} needs a date (YYYY-MM-DD): how old the table is") from None


def _number(t: Mapping[str, Any], name: str, what: str) -> float:
    value = t.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{what}: {name} must be a number")
    out = float(value)
    if math.isnan(out) or out < 0:
        raise ValueError(f"{what}: {name} must be >= 0")
    return out


# ---------------------------------------------------------------------------------------------------------
# Instrument specs off a ccxt market


def listed_max_leverage(market: Mapping[str, Any]) -> tuple[float | None, str]:
    """Max leverage from the listing: ccxt's ``limits.leverage.max``, else a raw listing field (Deribit)."""
    lev = _positive(((market.get("limits") or {}).get("leverage") or {}).get("max"))
    if lev is not None:
        return lev, "exchange: listing (ccxt limits.leverage.max)"
    info = market.get("info") or {}
    for name in _LISTING_LEVERAGE_FIELDS:
        lev = _positive(info.get(name))
        if lev is not None:
            return lev, f"exchange: listing ({name})"
    return None, "not published"


def amount_step(precision: object, precision_mode: int) -> float | None:
    """The order size step from ccxt's ``precision['amount']`` in the exchange's precision mode.

    TICK_SIZE (every venue here in ccxt 4.5.90): the step itself. DECIMAL_PLACES: ``10**-digits``.
    SIGNIFICANT_DIGITS has no fixed step: None.
    """
    value = _positive(precision) if precision_mode != ccxt.DECIMAL_PLACES else _float(precision)
    if value is None:
        return None
    if precision_mode == ccxt.TICK_SIZE:
        return value
    if precision_mode == ccxt.DECIMAL_PLACES:
        return 10.0 ** -int(value)
    return None


def fee_source(market: Mapping[str, Any], listing: str) -> str:
    """Where ccxt's ``market['taker'/'maker']`` came from: the exchange's listing, or ccxt's static table."""
    info = market.get("info") or {}
    for taker, maker in _LISTING_FEE_FIELDS:
        if info.get(taker) not in (None, "") and info.get(maker) not in (None, ""):
            return f"exchange: {listing} ({taker}, {maker})"
    return FEES_FROM_CCXT


def instrument_spec(
    contract: Contract,
    market: Mapping[str, Any],
    *,
    precision_mode: int,
    amount_per_contract: float = 1.0,
    listing: str = "listing",
    table: Sequence[MarginTier] | None = None,
) -> InstrumentSpec:
    """The spec of one contract from its ccxt market (pure).

    ``amount_per_contract``: how many of ccxt's order-amount units make one contract (1 where amounts are
    contracts; Deribit: the contract size, its amounts being USD or coin). ``table``: the contract's tiers
    from config or a documented rule, whose first tier gives the max leverage where the listing has none
    (Binance). ``listing`` names the listing endpoint for ``fee_source``.
    """
    precision = (market.get("precision") or {}).get("amount")
    step = amount_step(precision, precision_mode)
    min_amount = _positive(((market.get("limits") or {}).get("amount") or {}).get("min"))
    per = amount_per_contract if amount_per_contract > 0 else 1.0
    lev, lev_source = listed_max_leverage(market)
    if lev is None and table:
        lev, lev_source = table[0].max_leverage, f"{table[0].source} (tier 1)"
    return InstrumentSpec(
        venue=contract.venue,
        symbol=contract.symbol,
        base=contract.base,
        quote=contract.quote,
        settle=contract.settle,
        kind=contract.kind,
        linear=contract.linear,
        contract_size=contract.contract_size,
        amount_step=None if step is None else step / per,
        min_amount=None if min_amount is None else min_amount / per,
        max_leverage=lev,
        max_leverage_source=lev_source,
        expiry_ms=contract.expiry_ms,
        taker=_float(market.get("taker")),
        maker=_float(market.get("maker")),
        fee_source=fee_source(market, listing),
    )


def _float(value: object) -> float | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        out = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def _positive(value: object) -> float | None:
    out = _float(value)
    return out if out is not None and out > 0 else None
