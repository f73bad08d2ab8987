"""The hedge calculator's view: parse the form (holdings, settings, CSV, link), load market data, build the plan.

Pure of streamlit, so the page and the tests call it alike. The finance is ``analytics.hedge``'s; market data
comes through the shared ``MarketData`` facade (cached there, keyed on markets only). **Holdings never leave
this module's return values**: nothing here caches, logs or prints them, and the link carries them only when
the page asks ``encode_holdings`` to (the user's "include holdings in link").

Every user problem is a ``Problem(field, message)``: the page shows it next to that field, and nothing is
computed from the input it names (valid rows and other holdings still are).
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Callable, Iterable, Mapping, MutableMapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, cast

import numpy as np
import pandas as pd

from analytics import correlation as ac
from analytics import hedge as hg
from data_sources import DataSourceError, MarketData

VEHICLES: tuple[str, ...] = ("self", "BTC", "ETH")  # "self": the held asset's own futures
INSTRUMENTS: tuple[str, ...] = ("best", "perp", "future")  # or one listed symbol
MARGINS: tuple[str, ...] = ("any", "linear", "inverse")
FUNDING_MODES: tuple[str, ...] = ("current", "mean", "custom")
BETA_WINDOWS: tuple[int, ...] = (30, 60, 90, 180, 365)  # days of daily closes
ROLLING_BETA_OBS = 20  # window of the rolling beta whose spread judges the beta's stability
DEFAULT_TAKER_BPS = 5.0  # when an exchange publishes no taker fee (stated on the page)
MAX_QUANTITY = 1e12  # coins; beyond this a number is a typo (satoshis, extra zeros), not a holding
MAX_ROWS = 200
MAX_CSV_BYTES = 200_000
SCENARIO_STEP = 0.05
BASE_RE = re.compile(r"^[A-Z0-9]{2,12}$")

# Holding columns: the editor's, the CSV's (asset, quantity[, cost]) and the link's, in this order.
# The per-row overrides after "leverage" were added later: appended, so older links still parse.
HOLDING_COLUMNS: tuple[str, ...] = ("asset", "quantity", "cost", "vehicle", "exchange", "margin", "instrument",
                                    "ratio", "leverage", "horizon", "funding", "funding_days", "funding_rate",
                                    "fee", "move_lo", "move_hi")
CSV_COLUMNS: tuple[str, ...] = ("asset", "quantity", "cost")
HOLDING_LABELS: dict[str, str] = {
    "asset": "Asset", "quantity": "Quantity", "cost": "Cost basis", "vehicle": "Hedge with",
    "exchange": "Exchange", "margin": "Margin", "instrument": "Instrument", "ratio": "Ratio %",
    "leverage": "Leverage", "horizon": "Horizon d", "funding": "Funding", "funding_days": "Funding N d",
    "funding_rate": "Funding %/8h", "fee": "Fee bps", "move_lo": "Scenario from %", "move_hi": "Scenario to %",
}
# Holding attribute -> Settings field it overrides (None on the holding: the apply-to-all value).
OVERRIDES: tuple[str, ...] = ("vehicle", "exchange", "margin", "instrument", "ratio", "leverage", "horizon_days",
                              "funding_mode", "funding_days", "funding_custom_8h", "fee_bps", "move_lo", "move_hi")
# Bounds of the per-row overrides, the same as the apply-to-all widgets'.
FUNDING_DAYS_RANGE = (1, 365)
FUNDING_RATE_RANGE_PCT = (-5.0, 5.0)  # % per 8 h
FEE_RANGE_BPS = (-10.0, 100.0)
MOVE_LO_RANGE_PCT = (-95.0, 0.0)
MOVE_HI_RANGE_PCT = (0.0, hg.MAX_MOVE * 100)


@dataclass(frozen=True)
class Problem:
    """A message for the page to show next to ``field`` (a settings key, or "holdings")."""

    field: str
    message: str


# -- settings -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Settings:
    """The hedge settings (the "apply to all" values; a holding's row may override those in ``OVERRIDES``)."""

    vehicle: str = "self"
    instrument: str = "best"
    exchange: str = "any"
    margin: str = "any"
    ratio: float = 1.0  # fraction 0..1
    leverage: float = 2.0
    horizon_days: float = 30.0
    funding_mode: str = "current"
    funding_days: int = 30
    funding_custom_8h: float = 0.0001  # fraction per 8 h
    fee_bps: float | None = None  # None: each exchange's published taker fee
    move_lo: float = -0.5
    move_hi: float = 0.5
    beta_days: int = 90
    mmr: float | None = None  # None: the exchange's tiers
    liq_warn: float = hg.LIQUIDATION_WARN_DISTANCE
    drag_8h: float = hg.FUNDING_DRAG_RATE_8H

    def moves(self) -> np.ndarray:
        """Scenario moves from ``move_lo`` to ``move_hi`` in 5 % steps, both ends and 0 included."""
        n = max(1, int(round((self.move_hi - self.move_lo) / SCENARIO_STEP)))
        grid = np.linspace(self.move_lo, self.move_hi, n + 1)
        if self.move_lo < 0 < self.move_hi:
            grid = np.append(grid, 0.0)
        return np.unique(np.round(grid, 10))


def check_settings(s: Settings, venues: Sequence[str]) -> list[Problem]:
    """What is wrong with the settings (each next to its field); empty when they are usable."""
    out = []
    if s.vehicle not in VEHICLES:
        out.append(Problem("vehicle", f"hedge vehicle {s.vehicle!r} is not one of {', '.join(VEHICLES)}"))
    if s.exchange != "any" and s.exchange not in venues:
        out.append(Problem("exchange", f"exchange {s.exchange!r} is not one of any, {', '.join(venues)}"))
    if s.margin not in MARGINS:
        out.append(Problem("margin", f"margin {s.margin!r} is not one of {', '.join(MARGINS)}"))
    if not 0.0 <= s.ratio <= 1.0 or not math.isfinite(s.ratio):
        out.append(Problem("ratio", f"hedge ratio must be between 0 and 100 %, got {s.ratio * 100:g} %"))
    if not math.isfinite(s.leverage) or not 1.0 <= s.leverage <= hg.MAX_LEVERAGE:
        out.append(Problem("leverage", f"leverage must be between 1x and the market's maximum, got {s.leverage:g}"))
    if not math.isfinite(s.horizon_days) or not 0 < s.horizon_days <= hg.MAX_HORIZON_DAYS:
        out.append(Problem("horizon", f"horizon must be 1 to {hg.MAX_HORIZON_DAYS:g} days, got {s.horizon_days:g}"))
    if s.funding_mode not in FUNDING_MODES:
        out.append(Problem("funding", f"funding assumption {s.funding_mode!r} is not one of current, mean, custom"))
    if s.move_lo >= s.move_hi or s.move_lo <= -1 or s.move_hi > hg.MAX_MOVE:
        out.append(Problem("scenario", f"scenario range must run from above −100 % to at most +1000 %, low below "
                                       f"high; got {s.move_lo:+.0%} .. {s.move_hi:+.0%}"))
    return out


# -- holdings -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Holding:
    """A valid holding: asset, quantity, optional cost basis (USD per coin) and per-row overrides (None: the
    settings' value)."""

    asset: str
    quantity: float
    cost: float | None = None
    vehicle: str | None = None
    exchange: str | None = None
    margin: str | None = None
    instrument: str | None = None
    ratio: float | None = None  # fraction
    leverage: float | None = None
    horizon_days: float | None = None
    funding_mode: str | None = None
    funding_days: int | None = None
    funding_custom_8h: float | None = None  # fraction per 8 h
    fee_bps: float | None = None
    move_lo: float | None = None  # fraction
    move_hi: float | None = None  # fraction
    origin: str = ""

    def settings(self, base: Settings) -> Settings:
        """The settings this holding is hedged with: its overrides on top of ``base``."""
        over = {k: getattr(self, k) for k in OVERRIDES if getattr(self, k) is not None}
        return replace(base, **over)


def _blank(value: object) -> bool:
    if value is None or value is pd.NA:
        return True
    if isinstance(value, float) and math.isnan(value):
        return False  # an explicit NaN is a value (a bad one), not an empty cell
    return isinstance(value, str) and not value.strip()


def _to_float(value: object, what: str) -> float:
    """A number from an editor cell, a CSV field or the link; ValueError with the message otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"{what} {value!r} is not a number")
    if isinstance(value, int | float | np.integer | np.floating):
        x = float(value)
    else:
        text = str(value).strip().replace("_", "")
        try:
            x = float(text)
        except ValueError:
            raise ValueError(f"{what} {text!r} is not a number") from None
    if not math.isfinite(x):
        raise ValueError(f"{what} must be a finite number, got {x}")
    return x


def _optional(raw: Mapping[str, object], key: str) -> object | None:
    value = raw.get(key)
    return None if _blank(value) else value


def _choice(value: object, options: Sequence[str], what: str) -> str:
    text = str(value).strip()
    by_lower = {o.lower(): o for o in options}
    if text.lower() not in by_lower:
        raise ValueError(f"{what} {text!r} is not one of {', '.join(options)}")
    return by_lower[text.lower()]


def _row(raw: Mapping[str, object], origin: str, known: Callable[[str], bool], venues: Sequence[str]) -> Holding:
    """One holding from a raw row; ValueError naming the problem."""
    asset_raw = _optional(raw, "asset")
    if asset_raw is None:
        raise ValueError("no asset")
    asset = str(asset_raw).strip().upper()
    if not BASE_RE.match(asset):
        raise ValueError(f"{str(asset_raw).strip()!r} is not an asset symbol (2-12 letters or digits, e.g. BTC)")
    if not known(asset):
        raise ValueError(f"{asset} is not listed on any exchange here (no perpetual or dated future): left out")
    q_raw = _optional(raw, "quantity")
    if q_raw is None:
        raise ValueError(f"{asset}: no quantity")
    q = _to_float(q_raw, f"{asset}: quantity")
    if q <= 0:
        raise ValueError(f"{asset}: quantity must be > 0 (a short hedge protects a long holding), got {q:g}")
    if q > MAX_QUANTITY:
        raise ValueError(f"{asset}: quantity {q:.3g} is beyond {MAX_QUANTITY:.0e} coins: check the units")
    return Holding(asset=asset, quantity=q, cost=_cost(raw, asset), origin=origin, **_overrides(raw, asset, venues))


def _cost(raw: Mapping[str, object], asset: str) -> float | None:
    cost = None
    if (c_raw := _optional(raw, "cost")) is not None:
        cost = _to_float(c_raw, f"{asset}: cost basis")
        if not 0 < cost <= hg.MAX_PRICE_USD:
            raise ValueError(f"{asset}: cost basis must be a price above 0 and at most {hg.MAX_PRICE_USD:.0e} "
                             f"USD, got {cost:g}")
    return cost


def _overrides(raw: Mapping[str, object], asset: str, venues: Sequence[str]) -> dict[str, Any]:
    over: dict[str, Any] = {}
    if (v := _optional(raw, "vehicle")) is not None:
        over["vehicle"] = _choice(v, VEHICLES, f"{asset}: hedge vehicle")
    if (v := _optional(raw, "exchange")) is not None:
        over["exchange"] = _choice(v, ("any", *venues), f"{asset}: exchange")
    if (v := _optional(raw, "margin")) is not None:
        over["margin"] = _choice(v, MARGINS, f"{asset}: margin")
    if (v := _optional(raw, "instrument")) is not None:
        text = str(v).strip()
        if text.lower() not in INSTRUMENTS and not SYMBOL_RE.match(text):
            raise ValueError(f"{asset}: instrument {text[:80]!r} is not best, perp, future or a contract symbol")
        over["instrument"] = text.lower() if text.lower() in INSTRUMENTS else text
    if (v := _optional(raw, "ratio")) is not None:
        r = _to_float(v, f"{asset}: hedge ratio")
        if not 0 <= r <= 100:
            raise ValueError(f"{asset}: hedge ratio must be between 0 and 100 %, got {r:g} %")
        over["ratio"] = r / 100.0
    if (v := _optional(raw, "leverage")) is not None:
        lev = _to_float(v, f"{asset}: leverage")
        if not 1 <= lev <= hg.MAX_LEVERAGE:
            raise ValueError(f"{asset}: leverage must be at least 1x and within the market's maximum, got {lev:g}x")
        over["leverage"] = lev
    over.update(_number_overrides(raw, asset))
    if (v := _optional(raw, "funding")) is not None:
        over["funding_mode"] = _choice(v, FUNDING_MODES, f"{asset}: funding assumption")
    if "move_lo" in over and "move_hi" in over and over["move_lo"] >= over["move_hi"]:
        raise ValueError(f"{asset}: scenario from {over['move_lo']:+.0%} must be below to {over['move_hi']:+.0%}")
    return over


# Numeric per-row overrides: raw column, Settings field, name in messages, bounds, unit, factor to the field.
_NUMBER_OVERRIDES: tuple[tuple[str, str, str, tuple[float, float], str, float], ...] = (
    ("horizon", "horizon_days", "horizon", (1.0, hg.MAX_HORIZON_DAYS), "days", 1.0),
    ("funding_days", "funding_days", "funding N days", (float(FUNDING_DAYS_RANGE[0]), float(FUNDING_DAYS_RANGE[1])),
     "days", 1.0),
    ("funding_rate", "funding_custom_8h", "custom funding", FUNDING_RATE_RANGE_PCT, "% per 8h", 0.01),
    ("fee", "fee_bps", "taker fee", FEE_RANGE_BPS, "bps", 1.0),
    ("move_lo", "move_lo", "scenario from", MOVE_LO_RANGE_PCT, "%", 0.01),
    ("move_hi", "move_hi", "scenario to", MOVE_HI_RANGE_PCT, "%", 0.01),
)


def _number_overrides(raw: Mapping[str, object], asset: str) -> dict[str, Any]:
    over: dict[str, Any] = {}
    for column, attr, what, (lo, hi), unit, factor in _NUMBER_OVERRIDES:
        if (v := _optional(raw, column)) is None:
            continue
        x = _to_float(v, f"{asset}: {what}")
        if not lo <= x <= hi:
            raise ValueError(f"{asset}: {what} must be {lo:g} to {hi:g} {unit}, got {x:g} {unit}")
        if column == "funding_days":
            if x != int(x):
                raise ValueError(f"{asset}: {what} must be a whole number of days, got {x:g}")
            over[attr] = int(x)
        else:
            over[attr] = x * factor
    return over


def overrides_text(h: Holding) -> str | None:
    """The row's own horizon, funding, fee and scenario range in words (None when it has none of them)."""
    parts = []
    if h.horizon_days is not None:
        parts.append(f"horizon {h.horizon_days:g} days")
    if h.funding_mode is not None or h.funding_days is not None or h.funding_custom_8h is not None:
        f = [h.funding_mode or "funding"]
        if h.funding_days is not None:
            f.append(f"N {h.funding_days} days")
        if h.funding_custom_8h is not None:
            f.append(f"custom {h.funding_custom_8h:.4%}/8h")
        parts.append("funding " + ", ".join(f).removeprefix("funding "))
    if h.fee_bps is not None:
        parts.append(f"taker fee {h.fee_bps:g} bps")
    if h.move_lo is not None or h.move_hi is not None:
        lo = "…" if h.move_lo is None else f"{h.move_lo:+.0%}"
        hi = "…" if h.move_hi is None else f"{h.move_hi:+.0%}"
        parts.append(f"scenario {lo} .. {hi}")
    return "; ".join(parts) or None


def check_holding(h: Holding, base: Settings) -> str | None:
    """Why ``h``'s overrides do not fit the apply-to-all settings (a one-sided scenario range), or None."""
    s = h.settings(base)
    if s.move_lo >= s.move_hi:
        return (f"{h.asset}: scenario range {s.move_lo:+.0%} .. {s.move_hi:+.0%} (the row's override with the "
                "apply-to-all end) runs nowhere: low must be below high")
    return None


def parse_holdings(rows: Iterable[tuple[str, Mapping[str, object]]], *, known: Callable[[str], bool],
                   venues: Sequence[str]) -> tuple[list[Holding], list[Problem]]:
    """Valid holdings and a message per rejected row (``field`` "holdings").

    ``rows``: (origin, raw row) pairs, e.g. ("table row 2", {"asset": "BTC", "quantity": 1.0}). Blank rows are
    skipped; a second row of the same asset is left out with a message naming the first (one hedge per asset:
    put the total in one row). ``known(asset)``: whether any exchange lists a perp or future of it.
    """
    good: list[Holding] = []
    problems: list[Problem] = []
    first: dict[str, str] = {}
    for origin, raw in rows:
        if all(_blank(raw.get(c)) for c in HOLDING_COLUMNS):
            continue
        if len(good) + len(problems) >= MAX_ROWS:
            problems.append(Problem("holdings", f"more than {MAX_ROWS} rows: the rest are left out"))
            break
        try:
            h = _row(raw, origin, known, venues)
        except ValueError as e:
            problems.append(Problem("holdings", f"{origin}: {e}"))
            continue
        if h.asset in first:
            problems.append(Problem("holdings", f"{origin}: {h.asset} is a duplicate of {first[h.asset]}: left out "
                                                "(put the total quantity in one row)"))
            continue
        first[h.asset] = origin
        good.append(h)
    return good, problems


def editor_rows(frame: pd.DataFrame | None) -> list[tuple[str, dict[str, object]]]:
    """The editor's rows as (origin, raw) pairs; its columns are ``HOLDING_LABELS``' labels."""
    if frame is None or frame.empty:
        return []
    by_label = {v: k for k, v in HOLDING_LABELS.items()}
    renamed = frame.rename(columns=by_label)
    cols = [c for c in HOLDING_COLUMNS if c in renamed.columns]
    out = []
    for i, rec in enumerate(renamed[cols].to_dict("records"), start=1):
        # an empty editor cell arrives as None or NaN: both mean "not given"
        out.append((f"table row {i}", {k: (None if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v))
                                           else v) for k, v in rec.items()}))
    return out


def csv_rows(text: str, origin: str) -> tuple[list[tuple[str, dict[str, object]]], list[Problem]]:
    """Rows of a holdings CSV ``asset,quantity[,cost]`` (a header row is optional), or why it is malformed.

    Separators: comma, semicolon or tab. A line with fewer than 2 or more than 3 fields is named and skipped.
    """
    problems: list[Problem] = []
    if len(text.encode("utf-8", errors="replace")) > MAX_CSV_BYTES:
        return [], [Problem("csv", f"{origin}: larger than {MAX_CSV_BYTES // 1000} kB: not read")]
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        return [], []
    try:
        dialect: Any = csv.Sniffer().sniff(lines[0], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    records = list(csv.reader(io.StringIO("\n".join(lines)), dialect))
    columns = list(CSV_COLUMNS)
    start = 0
    head = [c.strip().lower() for c in records[0]]
    if head and head[0] in ("asset", "coin", "symbol"):
        aliases = {"coin": "asset", "symbol": "asset", "qty": "quantity", "amount": "quantity",
                   "cost basis": "cost", "cost_basis": "cost", "price": "cost"}
        columns = [aliases.get(c, c) for c in head]
        unknown = [c for c in columns if c not in CSV_COLUMNS]
        if unknown or "quantity" not in columns:
            return [], [Problem("csv", f"{origin}: header {', '.join(records[0])!s} must be asset,quantity[,cost]"
                                       + (f" (unknown {', '.join(unknown)})" if unknown else ""))]
        start = 1
    out: list[tuple[str, dict[str, object]]] = []
    for n, rec in enumerate(records[start:], start=start + 1):
        fields = [f.strip() for f in rec]
        if len(fields) < 2 or len(fields) > len(columns):
            problems.append(Problem("csv", f"{origin} line {n}: {len(fields)} field(s) in {','.join(fields)!r}; "
                                           f"expected {','.join(columns[:2])}[,{','.join(columns[2:])}]"))
            continue
        out.append((f"{origin} line {n}", dict(zip(columns, fields, strict=False))))
    return out, problems


def decode_upload(data: bytes, name: str) -> tuple[str, list[Problem]]:
    """An uploaded file's text, or why it cannot be read as a CSV."""
    if len(data) > MAX_CSV_BYTES:
        return "", [Problem("csv", f"file {name}: larger than {MAX_CSV_BYTES // 1000} kB: not read")]
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return "", [Problem("csv", f"file {name}: not UTF-8 text (is it a spreadsheet? export it as CSV)")]
    if "\x00" in text:
        return "", [Problem("csv", f"file {name}: binary content, not a CSV")]
    return text, []


# -- the link -----------------------------------------------------------------------------------------------
def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value).removesuffix(".0")
    return str(value)


def _pct(fraction: float | None) -> str:
    # rounded so 0.07 shows as 7, not 7.000000000000001 (fractions are parsed from percent to 1e-10)
    return "" if fraction is None else _cell(round(fraction * 100, 10))


def encode_holdings(holdings: Sequence[Holding]) -> str:
    """Holdings for the link (only when the user ticks "include holdings"): rows by ";", fields by ","."""
    out = []
    for h in holdings:
        cells = [h.asset, _cell(h.quantity), _cell(h.cost), _cell(h.vehicle), _cell(h.exchange), _cell(h.margin),
                 _cell(h.instrument), _pct(h.ratio), _cell(h.leverage), _cell(h.horizon_days),
                 _cell(h.funding_mode), _cell(h.funding_days), _pct(h.funding_custom_8h), _cell(h.fee_bps),
                 _pct(h.move_lo), _pct(h.move_hi)]
        while cells and cells[-1] == "":
            cells.pop()
        out.append(",".join(cells))
    return ";".join(out)


def link_rows(raw: str | None) -> list[tuple[str, dict[str, object]]]:
    """The link's holdings as raw rows (validated like any other by ``parse_holdings``)."""
    if not raw:
        return []
    out: list[tuple[str, dict[str, object]]] = []
    for i, part in enumerate(raw.split(";")[:MAX_ROWS + 1], start=1):
        fields = part.split(",")
        out.append((f"link holding {i}", dict(zip(HOLDING_COLUMNS, fields, strict=False))))
    return out


_ATTR_OF = {"horizon": "horizon_days", "funding": "funding_mode", "funding_rate": "funding_custom_8h",
            "fee": "fee_bps"}
_PERCENT = ("ratio", "funding_rate", "move_lo", "move_hi")  # fractions on the holding, percent in the editor


def _editor_value(h: Holding, column: str) -> object:
    v = getattr(h, _ATTR_OF.get(column, column))
    return round(v * 100, 10) if column in _PERCENT and v is not None else v


def editor_frame(holdings: Sequence[Holding]) -> pd.DataFrame:
    """Holdings as the editor's starting table (labels as columns)."""
    data = {HOLDING_LABELS[c]: [] for c in HOLDING_COLUMNS}  # type: dict[str, list[Any]]
    for h in holdings:
        for c in HOLDING_COLUMNS:
            data[HOLDING_LABELS[c]].append(_editor_value(h, c))
    frame = pd.DataFrame(data)
    for c in ("quantity", "cost", "ratio", "leverage", "horizon", "funding_days", "funding_rate", "fee", "move_lo",
              "move_hi"):
        frame[HOLDING_LABELS[c]] = pd.to_numeric(frame[HOLDING_LABELS[c]], errors="coerce").astype("float64")
    for c in ("asset", "vehicle", "exchange", "margin", "instrument", "funding"):
        frame[HOLDING_LABELS[c]] = frame[HOLDING_LABELS[c]].astype("object")
    return frame


# -- market data --------------------------------------------------------------------------------------------
@dataclass
class Market:
    """What the calculator needs of one base asset (the vehicle shorted, or a held asset's price)."""

    base: str
    price: float
    price_source: str
    instruments: pd.DataFrame
    quotes: pd.DataFrame
    funding: pd.DataFrame  # venue, symbol, rate_per_hour, basis (how the rate was chosen)
    errors: dict[str, str] = field(default_factory=dict)
    ages: list[float] = field(default_factory=list)
    stale: dict[str, float] = field(default_factory=dict)
    tokens: list[Any] = field(default_factory=list)  # FrameResult.token of every load: which data this is


def _note(m: Market, res: Any, what: str) -> None:
    m.tokens.append((what, res.token))
    m.ages.append(res.age_s)
    m.stale.update(res.stale)
    for venue, why in res.errors.items():
        m.errors[f"{what} {venue}"] = why


def _funding(md: MarketData, m: Market, s: Settings, perps: pd.DataFrame) -> pd.DataFrame:
    cols = ["venue", "symbol", "rate_per_hour", "basis"]
    if s.funding_mode == "custom":
        rows = [(v, sym, s.funding_custom_8h / 8.0, f"custom {s.funding_custom_8h:.4%} per 8h")
                for v, sym in zip(perps["venue"], perps["symbol"], strict=True)]
        return pd.DataFrame(rows, columns=cols)
    res = md.funding_now(bases=(m.base,), venues=tuple(dict.fromkeys(perps["venue"])) or None)
    _note(m, res, "funding")
    now = res.frame
    if s.funding_mode == "current":
        rows = [(r.venue, r.symbol, r.rate / r.interval_hours, f"current {r.rate:.4%} per {r.interval_hours:g}h")
                for r in now.itertuples() if r.interval_hours > 0]
        return pd.DataFrame(rows, columns=cols)
    start = md.now() - pd.Timedelta(days=s.funding_days)

    def mean(venue: str, symbol: str) -> tuple[str, str, float, str]:
        res = md.funding_history(venue, symbol, start)
        m.tokens.append(("funding history", res.token))  # list.append is atomic: the pool's threads share m
        hist = res.frame
        if hist.empty:
            return venue, symbol, float("nan"), f"no funding in the last {s.funding_days} days"
        per_hour = (hist["rate"] / hist["interval_hours"]).mean()
        return venue, symbol, float(per_hour), f"mean of {len(hist)} settlements over {s.funding_days} days"

    pairs = list(zip(perps["venue"], perps["symbol"], strict=True))
    rows = []
    with ThreadPoolExecutor(max_workers=max(1, min(8, len(pairs))), thread_name_prefix="hedge-funding") as pool:
        futures = {p: pool.submit(mean, *p) for p in pairs}
        for p, fut in futures.items():
            try:
                rows.append(fut.result())
            except DataSourceError as e:
                m.errors[f"funding history {p[0]}"] = str(e)
    return pd.DataFrame(rows, columns=cols)


FundingKey = tuple[str, int, float]  # mode, N days (mean), rate per 8 h (custom): what a funding frame depends on


def funding_key(s: Settings) -> FundingKey:
    """The part of ``s`` the funding frame depends on (holdings that share it share one load)."""
    return (s.funding_mode, s.funding_days if s.funding_mode == "mean" else 0,
            s.funding_custom_8h if s.funding_mode == "custom" else 0.0)


def load_funding(md: MarketData, m: Market, s: Settings) -> pd.DataFrame:
    """The funding frame of ``m``'s perpetuals under ``s``' assumption; errors go into ``m.errors``."""
    cols = ["venue", "symbol", "rate_per_hour", "basis"]
    perps = m.instruments[m.instruments["kind"] == "perp"] if not m.instruments.empty else m.instruments
    if perps.empty:
        return pd.DataFrame(columns=cols)
    try:
        return _funding(md, m, s, perps)
    except DataSourceError as e:
        m.errors["funding"] = str(e)
        return pd.DataFrame(columns=cols)


def load_market(md: MarketData, base: str, s: Settings, *, with_contracts: bool = True,
                with_funding: bool = True) -> Market:
    """Price (Binance spot, else the exchanges' median index), instruments, quotes and funding of ``base``.

    ``with_funding=False`` leaves ``funding`` empty: ``compute`` loads it per funding assumption (``load_funding``).
    """
    empty = pd.DataFrame()
    m = Market(base=base, price=float("nan"), price_source="", instruments=empty, quotes=empty, funding=empty)
    try:
        spot = md.spot((base,))
        _note(m, spot, "spot")
        if not spot.frame.empty and math.isfinite(float(spot.frame["last"].iloc[0])):
            m.price = float(spot.frame["last"].iloc[0])
            m.price_source = f"Binance spot {spot.frame['symbol'].iloc[0]} last"
    except DataSourceError as e:
        m.errors["spot"] = str(e)
    try:
        ts = md.term_structure(base)
        _note(m, ts, "quotes")
        m.quotes = ts.frame
    except DataSourceError as e:
        m.errors["quotes"] = str(e)
    if not math.isfinite(m.price) and not m.quotes.empty:
        index = m.quotes["index"].dropna()
        if len(index):
            m.price = float(index.median())
            m.price_source = "median index price of the exchanges (not on Binance spot)"
    if not with_contracts:
        return m
    try:
        ins = md.instruments(base)
        _note(m, ins, "instruments")
        m.instruments = ins.frame
    except DataSourceError as e:
        m.errors["instruments"] = str(e)
    if with_funding:
        m.funding = load_funding(md, m, s)
    return m


@dataclass(frozen=True)
class Beta:
    """Beta of a held asset's daily log returns on the vehicle's, with what judges it."""

    value: float
    n: int
    reason: str | None
    rolling: np.ndarray
    residual_vol: float  # std of daily residual returns
    correlation: float
    sources: str
    tokens: tuple[Any, ...] = ()  # the candles' FrameResult.token


def load_beta(md: MarketData, asset: str, vehicle: str, days: int) -> Beta:
    """Beta over the last ``days`` days of daily closes (``analytics.correlation``); NaN with a reason."""
    start = md.now() - pd.Timedelta(days=days + 1)
    try:
        a = md.asset_candles(asset, "1d", start)
        b = md.asset_candles(vehicle, "1d", start)
    except DataSourceError as e:
        return Beta(float("nan"), 0, f"no prices: {e}", np.array([]), float("nan"), float("nan"), "")
    ca = a.frame.set_index("ts")["close"]
    cb = b.frame.set_index("ts")["close"]
    ra, rb = ac.log_returns(ca), ac.log_returns(cb)
    est = ac.beta(ra, rb)
    rolling = ac.rolling_beta(ra, rb, window=ROLLING_BETA_OBS).to_numpy(dtype="float64")
    resid = ac.residual_std(ra, rb)
    corr = ac.correlation(ra, rb)
    src = (f"{asset}: {a.frame.attrs.get('venue')} {a.frame.attrs.get('symbol')}, {vehicle}: "
           f"{b.frame.attrs.get('venue')} {b.frame.attrs.get('symbol')}, daily closes")
    return Beta(est.value, est.n, est.reason, rolling[np.isfinite(rolling)], resid.value, corr.value, src,
                (a.token, b.token))


# -- candidates and the plan ----------------------------------------------------------------------------------
def instrument_of(row: Mapping[str, Any]) -> hg.Instrument:
    """An ``analytics.hedge.Instrument`` from a row of ``MarketData.instruments``."""
    lev = row.get("max_leverage")
    step = row.get("amount_step")
    size = float(row["contract_size"])
    min_amount = row.get("min_amount")
    expiry = row.get("expiry")
    return hg.Instrument(
        venue=str(row["venue"]), symbol=str(row["symbol"]), kind=str(row["kind"]),  # type: ignore[arg-type]
        linear=bool(row["linear"]), contract_size=size,
        amount_step=float(step) if step is not None and pd.notna(step) and step > 0 else 1.0,
        min_amount=float(min_amount) if min_amount is not None and pd.notna(min_amount) else 0.0,
        max_leverage=float(lev) if lev is not None and pd.notna(lev) and lev >= 1 else hg.MAX_LEVERAGE,
        expiry=None if expiry is None or pd.isna(expiry) else pd.Timestamp(expiry),
        settle=str(row["settle"]),
    )


def margin_label(linear: bool, settle: str) -> str:
    return f"linear {settle}" if linear else f"inverse ({settle}-margined)"


def filter_instruments(ins: pd.DataFrame, s: Settings) -> tuple[pd.DataFrame, Problem | None]:
    """The instruments the settings allow; a problem names an unknown or expired symbol, or an empty choice."""
    if ins.empty:
        return ins, None
    out = ins
    if s.exchange != "any":
        out = out[out["venue"] == s.exchange]
    if s.margin == "linear":
        out = out[out["linear"].astype(bool)]
    elif s.margin == "inverse":
        out = out[~out["linear"].astype(bool)]
    if s.instrument in ("perp", "future"):
        out = out[out["kind"] == s.instrument]
    elif s.instrument != "best":
        hit = out[out["symbol"].str.upper() == s.instrument.upper()]
        if hit.empty:
            where = f" on {s.exchange}" if s.exchange != "any" else ""
            elsewhere = sorted(set(ins.loc[ins["symbol"].str.upper() == s.instrument.upper(), "venue"]))
            hint = f" (listed on {', '.join(elsewhere)}: change the exchange or margin)" if elsewhere else \
                " (expired or unknown: pick a symbol from the ranking)"
            return out.iloc[0:0], Problem("instrument", f"instrument {s.instrument!r} is not listed{where}{hint}")
        out = hit
    return out.reset_index(drop=True), None


def candidates(ins: pd.DataFrame, market: Market, holding: Holding, s: Settings, price: float,
               beta: float) -> pd.DataFrame:
    """One row per instrument for ``analytics.hedge.rank_hedges``, each with its own rounded notional.

    Quotes, funding and each curve's later expiries are read into dicts once: looking rows up by label in
    the frames, per instrument and per later contract, cost most of a hedge computation.
    """
    quotes: dict[tuple[str, str], dict[str, Any]] = (
        {} if market.quotes.empty else
        {(q["venue"], q["symbol"]): q for q in market.quotes.to_dict("records")})
    funding: dict[tuple[str, str], dict[str, Any]] = (
        {} if market.funding.empty else
        {(f["venue"], f["symbol"]): f for f in market.funding.to_dict("records")})
    records = ins.to_dict("records")
    # each (venue, margin, settlement) curve's dated futures by expiry: the contracts a future rolls into
    futures: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for r in sorted((r for r in records if r["kind"] == "future"), key=lambda r: r["expiry"]):
        futures.setdefault((r["venue"], r["linear"], r["settle"]), []).append(r)
    rows = []
    for r in records:
        inst = instrument_of(r)
        key = (r["venue"], r["symbol"])
        q = quotes.get(key)
        last = float(q["last"]) if q is not None and pd.notna(q["last"]) else (
            float(q["mark"]) if q is not None and pd.notna(q["mark"]) else float("nan"))
        index = float(q["index"]) if q is not None and pd.notna(q["index"]) else market.price
        taker = r.get("taker")
        bps = s.fee_bps if s.fee_bps is not None else (
            float(taker) * hg.BPS if taker is not None and pd.notna(taker) else DEFAULT_TAKER_BPS)
        fee_src = "your fee" if s.fee_bps is not None else (
            str(r.get("fee_source")) if taker is not None and pd.notna(taker) else
            f"assumed {DEFAULT_TAKER_BPS:g} bps (not published)")
        proxy = holding.asset != market.base
        try:
            sz = hg.size_hedge(quantity=holding.quantity, price=price, ratio=s.ratio, instrument=inst,
                               vehicle_price=market.price if proxy else None, beta=beta if proxy else 1.0)
            notional, contracts = sz.hedge_notional_usd, sz.contracts
        except hg.HedgeInputError:
            notional, contracts = float("nan"), float("nan")
        row: dict[str, Any] = {
            "venue": r["venue"], "symbol": r["symbol"], "kind": r["kind"], "taker_bps": bps,
            "funding_rate_per_hour": float("nan"), "spot_price": index, "future_price": float("nan"),
            "days_to_expiry": float("nan"), "notional_usd": notional if notional > 0 else float("nan"),
            "margin": margin_label(bool(r["linear"]), str(r["settle"])), "contract_size": float(r["contract_size"]),
            "linear": bool(r["linear"]), "contracts": contracts, "fee_source": fee_src, "funding_basis": None,
            "price": last, "expiry": r.get("expiry"),
        }
        if r["kind"] == "perp":
            if (f := funding.get(key)) is not None:
                row["funding_rate_per_hour"] = float(f["rate_per_hour"])
                row["funding_basis"] = str(f["basis"])
        else:
            row["future_price"] = last
            row["days_to_expiry"] = float(q["days_to_expiry"]) if q is not None else float("nan")
            curve = []
            for nxt in futures.get((r["venue"], r["linear"], r["settle"]), []):
                nq = quotes.get((nxt["venue"], nxt["symbol"]))
                if nxt["expiry"] > r["expiry"] and nq is not None and pd.notna(nq["last"]):
                    curve.append(hg.CurvePoint(float(nq["last"]), float(nq["days_to_expiry"]), str(nxt["symbol"])))
            row["next_curve"] = tuple(curve)
        rows.append(row)
    return pd.DataFrame(rows)


def brackets_for(tiers: pd.DataFrame, inst: hg.Instrument, base: str) -> tuple[tuple[hg.Bracket, ...], str]:
    """The tiers as brackets and what they are keyed on: the position's value, or its size (OKX)."""
    unit = str(tiers["unit"].iloc[0]) if len(tiers) else ""
    t = tiers
    if unit == "contracts":
        t = tiers.assign(floor=tiers["floor"] * inst.contract_size, cap=tiers["cap"] * inst.contract_size,
                         cum=0.0)
        return hg.brackets_from_frame(t), "size"
    if inst.linear:
        by = "size" if unit == base else "value"
    else:
        by = "value" if unit == base or unit == inst.settle else "size"
    return hg.brackets_from_frame(t), by


@dataclass
class Plan:
    """The plan for one holding: ranking, the chosen hedge and everything the page shows about it."""

    holding: Holding
    settings: Settings
    vehicle: str
    price: float
    price_source: str
    beta: Beta | None = None
    ranking: pd.DataFrame = field(default_factory=pd.DataFrame)
    chosen: dict[str, Any] | None = None
    instrument: hg.Instrument | None = None
    sizing: hg.Sizing | None = None
    cost: hg.HedgeCost | None = None
    liquidation: hg.Liquidation | None = None
    initial_margin: float = float("nan")
    tiers_source: str = ""
    tiers_note: str | None = None
    margin_problem: str | None = None
    scenarios: pd.DataFrame = field(default_factory=pd.DataFrame)
    warnings: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    error: str | None = None  # why there is no hedge for this holding
    picked: bool = False  # the chosen row is the user's pick ("Hedge with"), not the cheapest
    pick_problem: str | None = None  # why the user's pick was not used


Pick = tuple[str, str]  # (venue, symbol) of a ranked row the user chose instead of the cheapest


def plan_holding(md: MarketData, holding: Holding, base_settings: Settings, markets: Mapping[str, Market],
                 betas: Mapping[tuple[str, str], Beta], *,
                 fundings: Mapping[tuple[str, FundingKey], pd.DataFrame] | None = None,
                 pick: Pick | None = None) -> Plan:
    """Rank the hedges of one holding, size the chosen one, its margin, scenarios and warnings.

    ``fundings``: funding frames by (vehicle, ``funding_key``) for holdings whose funding assumption differs
    (absent: the market's own). ``pick``: a ranked row to use instead of the cheapest; one that is not ranked
    (or has no known cost) is named in ``plan.pick_problem`` and the cheapest is used.
    """
    s = holding.settings(base_settings)
    vehicle = holding.asset if s.vehicle == "self" else s.vehicle
    own = markets[holding.asset]
    plan = Plan(holding=holding, settings=s, vehicle=vehicle, price=own.price, price_source=own.price_source)
    if (why := check_holding(holding, base_settings)) is not None:
        plan.problems.append(Problem("scenario", why))
        plan.error = why
        return plan
    market = _with_funding(markets[vehicle], vehicle, s, fundings)
    if not math.isfinite(own.price):
        plan.error = f"no price for {holding.asset}: " + ("; ".join(own.errors.values()) or "no exchange answered")
        return plan
    beta = 1.0
    if vehicle != holding.asset:
        plan.beta = b = betas[(holding.asset, vehicle)]
        if not math.isfinite(b.value) or b.value <= 0:
            why = b.reason or f"beta {b.value:.2f} is not positive: a short of {vehicle} would not hedge it"
            plan.problems.append(Problem("vehicle", f"{holding.asset} on {vehicle}: no usable beta ({why})"))
            plan.error = f"no usable beta of {holding.asset} on {vehicle}: {why}"
            return plan
        beta = min(b.value, hg.MAX_BETA)
    if market.instruments.empty:
        plan.error = f"no {vehicle} perpetual or future answered: " + "; ".join(market.errors.values())
        return plan
    allowed, problem = filter_instruments(market.instruments, s)
    if problem is not None:
        plan.problems.append(problem)
        plan.error = problem.message
        return plan
    if allowed.empty:
        plan.error = (f"no {vehicle} contract matches exchange {s.exchange}, margin {s.margin}, instrument "
                      f"{s.instrument}")
        plan.problems.append(Problem("exchange", plan.error))
        return plan
    cands = candidates(allowed, market, holding, s, own.price, beta)
    notional_any = float(np.nanmax(cands["notional_usd"])) if cands["notional_usd"].notna().any() else float("nan")
    if s.ratio == 0 or not math.isfinite(notional_any):
        plan.error = ("hedge ratio 0 %: nothing to hedge" if s.ratio == 0 else
                      f"the hedge rounds to 0 contracts on every {vehicle} contract (the holding is below one "
                      "contract's minimum)")
        return plan
    ranking = hg.rank_hedges(cands, notional_usd=notional_any, horizon_days=s.horizon_days)
    plan.ranking = ranking
    finite = ranking[np.isfinite(ranking["expected_cost_usd"])]
    if finite.empty:
        plan.error = "no contract has a known cost over the horizon: " + "; ".join(
            str(n) for n in ranking["note"].dropna().unique())
        return plan
    chosen = _choose(md, plan, finite, pick)
    pick = (allowed["symbol"] == chosen["symbol"]) & (allowed["venue"] == chosen["venue"])
    inst = instrument_of(allowed[pick].iloc[0].to_dict())
    plan.instrument = inst
    proxy = vehicle != holding.asset
    sizing = hg.size_hedge(quantity=holding.quantity, price=own.price, ratio=s.ratio, instrument=inst,
                           vehicle_price=market.price if proxy else None, beta=beta if proxy else 1.0)
    plan.sizing = sizing
    plan.cost = hg.row_cost({**chosen, "notional_usd": sizing.hedge_notional_usd}, sizing.hedge_notional_usd,
                            s.horizon_days)
    _margin(md, plan, inst, chosen, market)
    if plan.error:
        return plan
    b_ = plan.beta
    try:
        plan.scenarios = hg.scenario_table(
            quantity=holding.quantity, p0=own.price, sizing=sizing, instrument=inst, moves=s.moves(),
            carry_usd=plan.cost.carry_usd if math.isfinite(plan.cost.carry_usd) else 0.0,
            fees_usd=plan.cost.fees_usd, residual_vol=b_.residual_vol if b_ is not None and math.isfinite(
                b_.residual_vol) else None, horizon_days=s.horizon_days)
    except hg.HedgeInputError as e:
        plan.problems.append(Problem("scenario", str(e)))
    rate: Any = chosen.get("funding_rate_per_hour")
    plan.warnings = hg.hedge_warnings(
        sizing=sizing, funding_rate_8h=float(rate) * 8 if inst.kind == "perp" and pd.notna(rate) else None,
        liquidation=plan.liquidation, instrument=inst, horizon_days=s.horizon_days,
        days_to_expiry=float(chosen["days_to_expiry"]) if inst.kind == "future" else None,
        beta_observations=b_.n if b_ is not None else None,
        beta_rolling=b_.rolling if b_ is not None and b_.rolling.size >= 2 else None,
        funding_threshold_8h=s.drag_8h, liquidation_distance=s.liq_warn)
    return plan


def _with_funding(market: Market, vehicle: str, s: Settings,
                  fundings: Mapping[tuple[str, FundingKey], pd.DataFrame] | None) -> Market:
    """``market`` with the funding frame of ``s``' assumption, when ``compute`` loaded one for it."""
    if fundings is not None and (vehicle, funding_key(s)) in fundings:
        return replace(market, funding=fundings[(vehicle, funding_key(s))])
    return market


def _choose(md: MarketData, plan: Plan, finite: pd.DataFrame, pick: Pick | None) -> dict[str, Any]:
    """The ranked row to hedge with: the user's pick when it is ranked with a known cost, else the cheapest."""
    chosen: dict[str, Any] = finite.iloc[0].to_dict()
    if pick is not None:
        hit = finite[(finite["venue"] == pick[0]) & (finite["symbol"] == pick[1])]
        if hit.empty:
            plan.pick_problem = (f"{pick[1]} on {md.venue_label(pick[0])} is not a row of {plan.holding.asset}'s "
                                 "ranking with a known cost (the settings changed?): using the cheapest")
        else:
            chosen = hit.iloc[0].to_dict()
            plan.picked = True
    plan.chosen = chosen
    return chosen


def _margin(md: MarketData, plan: Plan, inst: hg.Instrument, chosen: Mapping[str, Any], market: Market) -> None:
    """Tiers, initial margin and the liquidation price of the chosen short; problems named, not raised."""
    s, sizing = plan.settings, plan.sizing
    assert sizing is not None
    if s.leverage > inst.max_leverage:
        msg = (f"leverage {s.leverage:g}x is above {inst.max_leverage:g}x, the maximum of {inst.symbol} on "
               f"{md.venue_label(inst.venue)}")
        plan.problems.append(Problem("leverage", msg))
        plan.error = msg
        return
    if sizing.contracts <= 0:
        plan.margin_problem = sizing.note or "no contracts: nothing to margin"
        return
    ep = float(chosen["price"]) if pd.notna(chosen.get("price")) else market.price
    try:
        if s.mmr is not None:
            brackets = hg.single_bracket(s.mmr, max_leverage=inst.max_leverage)
            by = "value"
            plan.tiers_source = f"your maintenance margin rate {s.mmr:.2%} (one tier)"
        else:
            tiers = md.margin_tiers(inst.venue, inst.symbol)
            brackets, by = brackets_for(tiers.frame, inst, market.base)
            plan.tiers_source = str(tiers.frame["source"].iloc[0])
            plan.tiers_note = tiers.frame.attrs.get("note")
        value = sizing.contracts * inst.contract_size * ep if inst.linear else sizing.contracts * \
            inst.contract_size / ep
        plan.initial_margin = value / s.leverage
        plan.liquidation = hg.liquidation_for_hedge(sizing=sizing, instrument=inst, leverage=s.leverage,
                                                    brackets=brackets, entry_price=ep,
                                                    brackets_by=by)  # type: ignore[arg-type]
    except hg.HedgeInputError as e:
        if e.field == "leverage":
            plan.problems.append(Problem("leverage", e.problem))
            plan.error = f"leverage: {e.problem}"
        else:
            plan.margin_problem = str(e)
    except DataSourceError as e:
        plan.margin_problem = (f"margin tiers unavailable ({e}): enter a maintenance margin rate to compute the "
                               "liquidation price")


@dataclass
class Book:
    """Every holding's plan, the markets behind them and the problems to show."""

    plans: list[Plan]
    markets: dict[str, Market]
    problems: list[Problem]


def compute(md: MarketData, holdings: Sequence[Holding], settings: Settings, *, workers: int = 4,
            picks: Mapping[str, Pick] | None = None, memo: MutableMapping[str, Any] | None = None) -> Book:
    """Load what the holdings need (concurrently; the facade caches it) and plan each holding.

    Funding is loaded once per (vehicle, funding assumption): holdings may override the assumption.
    ``picks``: asset -> the ranked row the user chose (``plan_holding``'s ``pick``).

    ``memo``: the user's own session store (``st.session_state``, never a cache shared between sessions:
    the book holds the holdings). When the holdings, settings, picks, every piece of market data (by its
    token) and the minute are those of the book it holds, that book is returned without planning again:
    a rerun that changes nothing (a click elsewhere, a refresh inside the data's TTL) costs only the loads.
    """
    problems: list[Problem] = []
    bases: dict[str, bool] = {}  # base -> needs contracts
    pairs = set()
    fkeys: dict[tuple[str, FundingKey], Settings] = {}
    for h in holdings:
        s = h.settings(settings)
        vehicle = h.asset if s.vehicle == "self" else s.vehicle
        bases[h.asset] = bases.get(h.asset, False) or vehicle == h.asset
        bases[vehicle] = True
        fkeys.setdefault((vehicle, funding_key(s)), s)
        if vehicle != h.asset:
            pairs.add((h.asset, vehicle, s.beta_days))
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(bases) + len(pairs))),
                            thread_name_prefix="hedge-load") as pool:
        mfut = {b: pool.submit(load_market, md, b, settings, with_contracts=need, with_funding=False)
                for b, need in bases.items()}
        bfut = {(a, v): pool.submit(load_beta, md, a, v, d) for a, v, d in pairs}
        markets = {b: f.result() for b, f in mfut.items()}
        ffut = {k: pool.submit(load_funding, md, markets[k[0]], s) for k, s in fkeys.items()}
        fundings = {k: f.result() for k, f in ffut.items()}
        betas = {k: f.result() for k, f in bfut.items()}
    for (vehicle, key), frame in fundings.items():
        if key == funding_key(settings):
            markets[vehicle].funding = frame  # the apply-to-all assumption's frame is the market's own
    data = tuple((b, tuple(sorted(m.tokens, key=repr)), tuple(sorted(m.errors.items()))) for b, m in markets.items())
    book_key = (tuple(holdings), settings, tuple(sorted((picks or {}).items())), data,
                tuple(sorted((k, b.tokens) for k, b in betas.items())), md.now().floor("min"))
    if memo is not None and memo.get("key") == book_key:
        return cast(Book, memo["book"])
    plans = []
    for h in holdings:
        try:
            plans.append(plan_holding(md, h, settings, markets, betas, fundings=fundings,
                                      pick=(picks or {}).get(h.asset)))
        except hg.HedgeInputError as e:
            field_ = e.field if e.field in ("ratio", "leverage", "horizon", "scenario") else "holdings"
            p = Plan(holding=h, settings=h.settings(settings), vehicle="", price=float("nan"), price_source="",
                     error=f"{h.asset}: {e}")
            p.problems.append(Problem(field_, f"{h.asset}: {e}"))
            plans.append(p)
    for p in plans:
        problems.extend(p.problems)
    book = Book(plans=plans, markets=markets, problems=problems)
    if memo is not None:
        memo.update(key=book_key, book=book, serial=int(memo.get("serial", 0)) + 1)
    return book


# -- tables for the page ------------------------------------------------------------------------------------
def ranking_table(plan: Plan, label: Callable[[str], str] = str) -> pd.DataFrame:
    """The "where to hedge" table: cheapest first, the chosen row marked. Money in USD, rates in %."""
    r = plan.ranking
    if r.empty:
        return pd.DataFrame()
    chosen = (plan.chosen or {}).get("symbol"), (plan.chosen or {}).get("venue")
    kind = [("perpetual" if k == "perp" else f"future, {pd.Timestamp(e):%Y-%m-%d}")
            for k, e in zip(r["kind"], r["expiry"], strict=True)]
    carry_rate = np.where(r["kind"] == "perp", r["funding_rate_per_hour"] * 8 * 100,
                          (r["future_price"] / r["spot_price"] - 1) * 100)
    return pd.DataFrame({
        "Rank": r["rank"], "Chosen": [(s, v) == chosen for s, v in zip(r["symbol"], r["venue"], strict=True)],
        "Exchange": r["venue"].map(label), "Symbol": r["symbol"], "Instrument": kind, "Margin": r["margin"],
        "Contracts": r["contracts"], "Hedge notional": r["notional_usd"], "Fee bps": r["taker_bps"],
        "Funding %/8h or basis %": carry_rate, "Annualized carry %": r["annualized_carry"] * 100,
        "Fees USD": r["fees_usd"], "Funding/basis USD": r["carry_usd"], "Expected cost USD": r["expected_cost_usd"],
        "Cost %": r["cost_pct"] * 100, "Rolls": r["rolls"], "Note": r["note"],
    })


SIZING_COLUMNS: tuple[str, ...] = (
    "Asset", "Quantity", "Price used", "Notional USD", "Hedge with", "Exchange", "Symbol", "Beta", "Target hedge USD",
    "Contracts (raw)", "Contracts", "Hedge after rounding USD", "Hedge coin", "Residual coin", "Residual USD",
    "Net delta coin", "Net delta USD", "Unrealized P&L USD")


def sizing_table(plans: Sequence[Plan], label: Callable[[str], str] = str) -> pd.DataFrame:
    """One row per hedged holding and a Total row (USD columns summed)."""
    rows = []
    for p in plans:
        sz, inst = p.sizing, p.instrument
        if sz is None or inst is None:
            continue
        h = p.holding
        rows.append({
            "Asset": h.asset, "Quantity": h.quantity, "Price used": sz.price, "Notional USD": sz.notional_usd,
            "Hedge with": p.vehicle + (" (proxy)" if sz.proxy else ""), "Exchange": label(inst.venue),
            "Symbol": inst.symbol, "Beta": sz.beta, "Target hedge USD": sz.target_notional_usd,
            "Contracts (raw)": sz.contracts_raw, "Contracts": sz.contracts,
            "Hedge after rounding USD": sz.hedge_notional_usd, "Hedge coin": sz.hedge_coin,
            "Residual coin": sz.residual_coin, "Residual USD": sz.residual_usd, "Net delta coin": sz.net_delta_coin,
            "Net delta USD": sz.net_delta_usd,
            "Unrealized P&L USD": (sz.price - h.cost) * h.quantity if h.cost is not None else float("nan"),
        })
    frame = pd.DataFrame(rows, columns=list(SIZING_COLUMNS))
    if rows:
        total: dict[str, Any] = dict.fromkeys(SIZING_COLUMNS, None)
        total["Asset"] = "Total"
        for c in ("Notional USD", "Target hedge USD", "Hedge after rounding USD", "Residual USD", "Net delta USD",
                  "Unrealized P&L USD"):
            total[c] = float(frame[c].sum(min_count=1))
        frame = pd.concat([frame, pd.DataFrame([total])], ignore_index=True)
    return frame


def cost_table(plans: Sequence[Plan]) -> pd.DataFrame:
    """Each chosen hedge's cost lines over the horizon (> 0 a cost, < 0 earned), with a per-holding total."""
    rows = []
    for p in plans:
        if p.cost is None or p.instrument is None:
            continue
        for item in p.cost.items:
            rows.append({"Asset": p.holding.asset, "Symbol": p.instrument.symbol, "Line": item.label,
                         "USD (cost > 0)": item.usd})
        rows.append({"Asset": p.holding.asset, "Symbol": p.instrument.symbol,
                     "Line": f"Expected cost over {p.cost.horizon_days:g} days ({p.cost.cost_pct:+.3%} of the hedge)",
                     "USD (cost > 0)": p.cost.expected_cost_usd})
    return pd.DataFrame(rows, columns=["Asset", "Symbol", "Line", "USD (cost > 0)"])


MARGIN_COLUMNS: tuple[str, ...] = (
    "Asset", "Symbol", "Leverage", "Margin currency", "Entry price", "Initial margin", "Initial margin USD",
    "Maintenance margin", "MMR %", "cum", "Liquidation price", "Distance %", "Formula", "Tiers")


def margin_table(plans: Sequence[Plan]) -> pd.DataFrame:
    rows = []
    for p in plans:
        if p.instrument is None or p.sizing is None:
            continue
        liq, inst = p.liquidation, p.instrument
        ep = float(p.chosen["price"]) if p.chosen and pd.notna(p.chosen.get("price")) else p.sizing.vehicle_price
        usd = p.initial_margin if inst.linear else p.initial_margin * ep
        if liq is None:
            formula = p.margin_problem or ""
        else:
            formula = liq.formula if liq.price is not None else f"{liq.formula}. {liq.reason}"
        rows.append({
            "Asset": p.holding.asset, "Symbol": inst.symbol, "Leverage": p.settings.leverage,
            "Margin currency": inst.settle, "Entry price": ep, "Initial margin": p.initial_margin,
            "Initial margin USD": usd, "Maintenance margin": liq.maintenance_margin if liq else float("nan"),
            "MMR %": liq.mmr * 100 if liq else float("nan"), "cum": liq.cum if liq else float("nan"),
            "Liquidation price": liq.price if liq is not None and liq.price is not None else float("nan"),
            "Distance %": liq.distance_pct * 100 if liq else float("nan"), "Formula": formula,
            "Tiers": p.tiers_source,
        })
    return pd.DataFrame(rows, columns=list(MARGIN_COLUMNS))


SCENARIO_LABELS: dict[str, str] = {
    "move": "Move %", "price": "Price", "vehicle_price": "Hedge asset price", "spot_pnl": "Spot P&L",
    "hedge_pnl": "Hedge P&L", "carry": "Funding/basis", "fees": "Fees", "net": "Net", "net_pct": "Net %",
    "residual_1sd": "Beta residual ±1sd",
}


def scenario_tables(plans: Sequence[Plan]) -> pd.DataFrame:
    """All holdings' scenario rows (long: an Asset column) plus the book's total per move."""
    parts = []
    for p in plans:
        if p.scenarios.empty:
            continue
        parts.append(p.scenarios.assign(asset=p.holding.asset, start_value=p.sizing.notional_usd if p.sizing else 0))
    if not parts:
        return pd.DataFrame()
    allp = pd.concat(parts, ignore_index=True)
    money = ["spot_pnl", "hedge_pnl", "carry", "fees", "net", "residual_1sd"]
    # Ranges may differ by holding: the book total only over the moves every holding has (a sum over some
    # holdings would look like the book's P&L and is not).
    common = set.intersection(*(set(np.round(p["move"], 10)) for p in parts))
    shared = allp[np.round(allp["move"], 10).isin(common)]
    total = shared.groupby("move", sort=True)[[*money, "start_value"]].sum(min_count=1).reset_index()
    total["net_pct"] = total["net"] / total["start_value"]
    total["residual_1sd"] = float("nan")  # residuals of different assets do not simply add
    total["asset"] = "Total"
    out = pd.concat([allp, total], ignore_index=True)
    out["move"] = out["move"] * 100
    out["net_pct"] = out["net_pct"] * 100
    cols = ["asset", *SCENARIO_LABELS]
    out = out.reindex(columns=cols)
    return out.rename(columns={"asset": "Asset", **SCENARIO_LABELS})


def scenario_note(plans: Sequence[Plan]) -> str | None:
    """What the page says when holdings' scenario ranges or horizons differ (None when they all agree)."""
    with_scen = [p for p in plans if not p.scenarios.empty]
    ranges = {(p.settings.move_lo, p.settings.move_hi) for p in with_scen}
    horizons = {p.settings.horizon_days for p in with_scen}
    if len(ranges) <= 1 and len(horizons) <= 1:
        return None
    each = "; ".join(f"{p.holding.asset} {p.settings.move_lo:+.0%} .. {p.settings.move_hi:+.0%} over "
                     f"{p.settings.horizon_days:g} days" for p in with_scen)
    out = f"Holdings have their own scenario ranges or horizons ({each})."
    if len(ranges) > 1:
        common = set.intersection(*(set(np.round(p.settings.moves(), 10)) for p in with_scen))
        out += (f" The book Total covers only the {len(common)} moves every holding's range includes"
                + (f" ({min(common):+.0%} .. {max(common):+.0%})" if common else " (none: no Total)")
                + "; each holding's own lines cover its whole range.")
    if len(horizons) > 1:
        out += " The Total adds each holding's P&L over its own horizon."
    return out


PICK_BEST = "best"


def pick_value(venue: str, symbol: str) -> str:
    """A ranked row as the "Hedge with" option and the link's text: ``venue@symbol``."""
    return f"{venue}@{symbol}"


def pick_options(plan: Plan) -> list[str]:
    """"best" and every ranked row with a known cost, cheapest first (rows without a cost cannot be sized)."""
    r = plan.ranking
    if r.empty:
        return [PICK_BEST]
    ok = r[np.isfinite(r["expected_cost_usd"].astype(float))]
    return [PICK_BEST, *(pick_value(v, s) for v, s in zip(ok["venue"], ok["symbol"], strict=True))]


def pick_label(plan: Plan, value: str, label: Callable[[str], str] = str) -> str:
    """``exchange · symbol · margin`` of an option (``best (cheapest)`` for "best")."""
    return pick_labels(plan, [value], label)[value]


def pick_labels(plan: Plan, values: Sequence[str], label: Callable[[str], str] = str) -> dict[str, str]:
    """``pick_label`` of every option, reading the ranking once (a selectbox formats each option each run)."""
    r = plan.ranking
    margins = ({} if r.empty else
               dict(zip(zip(r["venue"], r["symbol"], strict=True), r["margin"], strict=True)))
    out = {}
    for value in values:
        if value == PICK_BEST:
            out[value] = "best (cheapest)"
            continue
        venue, _, symbol = value.partition("@")
        margin = margins.get((venue, symbol))
        out[value] = f"{label(venue)} · {symbol}" + (f" · {margin}" if margin is not None else "")
    return out


SYMBOL_RE = re.compile(r"^[A-Za-z0-9/:_.\-]{1,64}$")


def parse_pick(value: str | None, venues: Sequence[str]) -> Pick | None:
    """``venue@symbol`` as a ``Pick``; None for "best", blank or malformed text."""
    if not value or value == PICK_BEST:
        return None
    venue, sep, symbol = value.partition("@")
    if not sep or venue not in venues or not SYMBOL_RE.match(symbol):
        return None
    return venue, symbol


def encode_picks(picks: Mapping[str, Pick]) -> str | None:
    """The link's ``pk``: ``ASSET@venue@symbol`` joined by ";" (no quantities); None when every pick is best."""
    return ";".join(f"{a}@{pick_value(*p)}" for a, p in picks.items()) or None


def parse_picks(raw: str | None, venues: Sequence[str]) -> tuple[dict[str, Pick], list[str]]:
    """The link's picks and a message per part that is not ``ASSET@venue@symbol`` (that part is ignored)."""
    out: dict[str, Pick] = {}
    bad: list[str] = []
    for part in (raw or "").split(";")[:MAX_ROWS]:
        if not part.strip():
            continue
        asset, sep, rest = part.partition("@")
        pick = parse_pick(rest, venues) if sep and BASE_RE.match(asset) else None
        if pick is None:
            bad.append(f"link: pk part {part[:80]!r} is not ASSET@exchange@symbol with a known exchange: ignored "
                       "(the cheapest row is used)")
            continue
        out[asset] = pick
    return out, bad


def plan_csv(sizing: pd.DataFrame, costs: pd.DataFrame, margin: pd.DataFrame, scen: pd.DataFrame,
             ranking: pd.DataFrame) -> pd.DataFrame:
    """The whole plan as one long table: a Section column, then each section's own columns."""
    parts = [f.assign(Section=name) for name, f in (("sizing", sizing), ("costs", costs), ("margin", margin),
                                                      ("scenarios", scen), ("where to hedge", ranking))
             if not f.empty]
    if not parts:
        return pd.DataFrame(columns=["Section"])
    out = pd.concat(parts, ignore_index=True)
    return out[["Section", *[c for c in out.columns if c != "Section"]]]


def known_assets(md: MarketData) -> set[str]:
    """Base assets with a perp or dated future on some exchange (the facade's cached listing)."""
    try:
        return set(md.listed().frame["base"])
    except DataSourceError:
        return set()
