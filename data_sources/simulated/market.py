"""One simulated market behind every simulated exchange.

Deterministic for a seed and time-consistent: every value is a pure function of (seed, scenario, scenario
anchor, series key, timestamp), so a timestamp has the same value whichever window asks for it. Hourly
"knots" are drawn in fixed blocks from counter-keyed RNGs starting at ``ORIGIN_MS``; values between knots
are interpolated with a deterministic Brownian-bridge wiggle at minute resolution.

The model (all rates are fractions, not percent):

- index ``I(asset, t)``: log price = mean-reverting (long half-life) OU around a per-asset level, returns
  correlated with BTC; gold and Nasdaq proxies with a regime-switching correlation, the Nasdaq proxy flat
  outside its weekday session;
- each venue's index = ``I * (1 + bias_venue)`` (a few bp: composites differ);
- perp premium per (venue, asset): fast OU around a small positive level; mark = index * (1 + premium),
  last = mark * (1 + 1 bp noise);
- funding per settlement of interval h: the clamp formula over the hourly premium knots in the interval
  (``r8 = P + clamp(0.01% - P, -0.05%, 0.05%)``, paid as ``r8 * h / 8``);
- dated futures: ``F = I_v * (1 + ann(tau) * tau / 365 + wiggle)`` with ``ann`` a slow OU "carry" per
  (venue, asset) plus a mild term slope, so a future converges to the index at expiry;
- scenarios shift index drift, premium and carry over a ramp ending at the scenario anchor (the market's
  clock when created, floored to the hour) and hold after it.
"""

from __future__ import annotations

import calendar
import math
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

MINUTE_MS = 60_000
HOUR_MS = 3_600_000
DAY_MS = 86_400_000
HOURS_PER_YEAR = 24 * 365
ORIGIN_MS = 1_546_560_000_000  # 2019-01-04T00:00Z, a Friday: start of all simulated history
BLOCK_HOURS = 4096
HIP3_LISTED_MS = 1_760_313_600_000  # 2025-10-13T00:00Z: Hyperliquid's HIP-3 dexes went live about then
# The proxies' correlation regimes start their cycle here (and repeat before and after), so the short HIP-3
# history opens with a settled regime and the demo's recent past holds decoupling spells to detect.
REGIME_ANCHOR_MS = HIP3_LISTED_MS
SETTLE_HOUR_UTC = 8  # dated futures expire at 08:00 UTC on all four exchanges

# Binance-style funding clamp (8h-equivalent units).
INTEREST_8H = 0.0001
CLAMP_8H = 0.0005


@dataclass(frozen=True)
class AssetSpec:
    level: float  # long-run price level the OU log price reverts to
    vol_annual: float  # annualized volatility of log returns
    corr_btc: float  # correlation of hourly returns with BTC (ignored for regime-switching proxies)
    # proxies: (days, correlation with BTC) per regime, cycled from REGIME_ANCHOR_MS both ways
    # (see ``SimMarket.regimes``)
    regimes: tuple[tuple[int, float], ...] = ()
    # equity proxy: the trading calendar (``data_sources.calendars``) outside whose sessions it gets no news
    calendar: str | None = None


ASSETS: dict[str, AssetSpec] = {
    "BTC": AssetSpec(level=92_000.0, vol_annual=0.50, corr_btc=1.0),
    "ETH": AssetSpec(level=3_300.0, vol_annual=0.65, corr_btc=0.82),
    "SOL": AssetSpec(level=175.0, vol_annual=0.85, corr_btc=0.72),
    # Gold: weakly positive most of the time, with a flight-to-safety (negative) and a risk-on (high) spell.
    "GOLD": AssetSpec(level=2_650.0, vol_annual=0.15, corr_btc=0.0,
                      regimes=((200, 0.30), (40, -0.45), (120, 0.30), (35, 0.70))),
    # Nasdaq-100: high positive most of the time, with an inverse and a decoupled (near zero) spell.
    "NDX": AssetSpec(level=21_000.0, vol_annual=0.22, corr_btc=0.0,
                     regimes=((150, 0.75), (40, -0.35), (150, 0.70), (40, 0.0)),
                     calendar="XNYS"),
}
# The off-hours premium of a 24/7 perp on a closed index: its own noise, no index information.
PROXY_PREMIUM_NOISE = {"session": 0.0002, "closed": 0.0010}


@dataclass(frozen=True)
class Scenario:
    """A regime imposed on the recent past, ramping in over ``ramp_hours`` before the anchor."""

    name: str
    description: str
    index_shock: float = 0.0  # total log move of crypto indices over the ramp
    premium: float = 0.0002  # perp premium level (fraction) at and after the anchor
    carry: float = 0.08  # annualized basis level of dated futures at and after the anchor
    ramp_hours: int = 72


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("normal", "Normal contango: modest positive carry and funding."),
        Scenario(
            "crash",
            "Crash: a 30% drop over three days, futures in backwardation, negative funding.",
            index_shock=-0.36,
            premium=-0.0030,
            carry=-0.12,
        ),
        Scenario(
            "squeeze",
            "Short squeeze: a sharp rally, perps at an extreme premium, very rich carry.",
            index_shock=0.18,
            premium=0.0065,
            carry=0.38,
        ),
    )
}

BASE_PREMIUM = 0.0002
BASE_CARRY = 0.08

# ---------------------------------------------------------------------------------------------------------
# Instruments per venue


@dataclass(frozen=True)
class SimInstrument:
    """One listed instrument. Venue modules turn it into their exchange's id and response rows."""

    venue: str
    base: str
    quote: str
    settle: str | None  # None for spot
    kind: str  # "spot" | "perp" | "future"
    linear: bool
    contract_size: float  # linear: base units per contract; inverse: quote (USD) per contract
    expiry_ms: int | None = None
    funding_hours: int | None = None  # perps only
    listed_ms: int = ORIGIN_MS
    tenor: str | None = None  # "weekly" | "monthly" | "quarterly" (what the exchange calls the slot)

    @property
    def inverse(self) -> bool:
        return not self.linear


@dataclass(frozen=True)
class _PerpDef:
    base: str
    quote: str
    settle: str
    linear: bool
    contract_size: float
    funding_hours: int
    listed_ms: int = ORIGIN_MS


@dataclass(frozen=True)
class _FutureDef:
    base: str
    quote: str
    settle: str
    linear: bool
    contract_size: float
    weeklies: int = 0
    monthlies: int = 0
    quarterlies: int = 2


@dataclass(frozen=True)
class VenueCatalog:
    spots: tuple[tuple[str, str], ...] = ()
    perps: tuple[_PerpDef, ...] = ()
    futures: tuple[_FutureDef, ...] = ()
    index_bias: float = 0.0


CATALOG: dict[str, VenueCatalog] = {
    "binance": VenueCatalog(
        spots=(("BTC", "USDT"), ("ETH", "USDT"), ("SOL", "USDT"), ("PAXG", "USDT")),
        index_bias=0.0,
    ),
    "binanceusdm": VenueCatalog(
        perps=(
            _PerpDef("BTC", "USDT", "USDT", True, 1.0, 8),
            _PerpDef("ETH", "USDT", "USDT", True, 1.0, 8),
            _PerpDef("SOL", "USDT", "USDT", True, 1.0, 4),
        ),
        futures=(
            _FutureDef("BTC", "USDT", "USDT", True, 1.0),
            _FutureDef("ETH", "USDT", "USDT", True, 1.0),
        ),
        index_bias=0.00010,
    ),
    "binancecoinm": VenueCatalog(
        perps=(
            _PerpDef("BTC", "USD", "BTC", False, 100.0, 8),
            _PerpDef("ETH", "USD", "ETH", False, 10.0, 8),
            _PerpDef("SOL", "USD", "SOL", False, 10.0, 8),
        ),
        futures=(
            _FutureDef("BTC", "USD", "BTC", False, 100.0),
            _FutureDef("ETH", "USD", "ETH", False, 10.0),
        ),
        index_bias=0.00008,
    ),
    "okx": VenueCatalog(
        perps=(
            _PerpDef("BTC", "USDT", "USDT", True, 0.01, 8),
            _PerpDef("ETH", "USDT", "USDT", True, 0.1, 8),
            _PerpDef("SOL", "USDT", "USDT", True, 1.0, 8),
            _PerpDef("BTC", "USD", "BTC", False, 100.0, 8),
            _PerpDef("ETH", "USD", "ETH", False, 10.0, 8),
        ),
        futures=(
            _FutureDef("BTC", "USD", "BTC", False, 100.0, weeklies=2),
            _FutureDef("ETH", "USD", "ETH", False, 10.0, weeklies=2),
            _FutureDef("BTC", "USDT", "USDT", True, 0.01, weeklies=2),
            _FutureDef("ETH", "USDT", "USDT", True, 0.1, weeklies=2),
        ),
        index_bias=-0.00012,
    ),
    "bybit": VenueCatalog(
        perps=(
            _PerpDef("BTC", "USDT", "USDT", True, 1.0, 8),
            _PerpDef("ETH", "USDT", "USDT", True, 1.0, 8),
            _PerpDef("SOL", "USDT", "USDT", True, 1.0, 1),
            _PerpDef("BTC", "USD", "BTC", False, 1.0, 8),
            _PerpDef("ETH", "USD", "ETH", False, 1.0, 8),
        ),
        futures=(
            _FutureDef("BTC", "USD", "BTC", False, 1.0),
            _FutureDef("ETH", "USD", "ETH", False, 1.0),
            _FutureDef("BTC", "USDC", "USDC", True, 1.0, weeklies=2),
            _FutureDef("ETH", "USDC", "USDC", True, 1.0, weeklies=2),
        ),
        index_bias=0.00005,
    ),
    # Hyperliquid: USDC-margined perps funding hourly; the HIP-3 dex "xyz" lists equity-index and metal perps
    # (trade.xyz), live since October 2025 -- a short history, as on the real venue.
    "hyperliquid": VenueCatalog(
        perps=(
            _PerpDef("BTC", "USDC", "USDC", True, 1.0, 1),
            _PerpDef("ETH", "USDC", "USDC", True, 1.0, 1),
            _PerpDef("SOL", "USDC", "USDC", True, 1.0, 1),
            _PerpDef("XYZ-XYZ100", "USDC", "USDC", True, 1.0, 1, listed_ms=HIP3_LISTED_MS),
            _PerpDef("XYZ-GOLD", "USDC", "USDC", True, 1.0, 1, listed_ms=HIP3_LISTED_MS),
        ),
        index_bias=0.00003,
    ),
    "deribit": VenueCatalog(
        perps=(
            _PerpDef("BTC", "USD", "BTC", False, 10.0, 1),
            _PerpDef("ETH", "USD", "ETH", False, 1.0, 1),
        ),
        futures=(
            _FutureDef("BTC", "USD", "BTC", False, 10.0, weeklies=3, monthlies=3, quarterlies=3),
            _FutureDef("ETH", "USD", "ETH", False, 1.0, weeklies=3, monthlies=3, quarterlies=3),
        ),
        index_bias=-0.00004,
    ),
}

# Bases that track a non-crypto asset: Binance's PAXG spot, Hyperliquid's HIP-3 perps (dex "xyz").
PROXY_ASSETS = {"PAXG": "GOLD", "XYZ-XYZ100": "NDX", "XYZ-GOLD": "GOLD"}


# ---------------------------------------------------------------------------------------------------------
# Expiry calendar (real rules: Fridays 08:00 UTC; quarterlies on the last Friday of Mar/Jun/Sep/Dec)


def _at_settle(year: int, month: int, day: int) -> int:
    return calendar.timegm((year, month, day, SETTLE_HOUR_UTC, 0, 0)) * 1000


def last_friday(year: int, month: int) -> int:
    """Expiry (ms) on the last Friday of ``month`` at 08:00 UTC."""
    last_day = calendar.monthrange(year, month)[1]
    weekday = calendar.weekday(year, month, last_day)  # Monday=0 .. Friday=4
    return _at_settle(year, month, last_day - ((weekday - 4) % 7))


def monthly_expiries_after(t_ms: int, n: int, *, months: tuple[int, ...] = tuple(range(1, 13))) -> list[int]:
    """The next ``n`` last-Friday expiries strictly after ``t_ms`` in the given months."""
    dt = datetime.fromtimestamp(t_ms / 1000, tz=UTC)
    year, month = dt.year, dt.month
    out: list[int] = []
    while len(out) < n:
        if month in months:
            exp = last_friday(year, month)
            if exp > t_ms:
                out.append(exp)
        month += 1
        if month > 12:
            year, month = year + 1, 1
    return out


def quarterly_expiries_after(t_ms: int, n: int) -> list[int]:
    return monthly_expiries_after(t_ms, n, months=(3, 6, 9, 12))


def weekly_expiries_after(t_ms: int, n: int) -> list[int]:
    """The next ``n`` Fridays 08:00 UTC strictly after ``t_ms``."""
    dt = datetime.fromtimestamp(t_ms / 1000, tz=UTC)
    day0 = _at_settle(dt.year, dt.month, dt.day) - dt.weekday() * DAY_MS  # Monday 08:00 of this week
    friday = day0 + 4 * DAY_MS
    out: list[int] = []
    while len(out) < n:
        if friday > t_ms:
            out.append(friday)
        friday += 7 * DAY_MS
    return out


def venue_expiries(fdef: _FutureDef, t_ms: int) -> list[tuple[int, str]]:
    """Listed expiries of one future definition at ``t_ms``: (expiry_ms, tenor), ascending, unique.

    A slot that coincides with a longer one is the longer one (the exchange lists one contract).
    """
    slots: dict[int, str] = {}
    for exp in weekly_expiries_after(t_ms, fdef.weeklies) if fdef.weeklies else []:
        slots[exp] = "weekly"
    for exp in monthly_expiries_after(t_ms, fdef.monthlies) if fdef.monthlies else []:
        slots[exp] = "monthly"
    for exp in quarterly_expiries_after(t_ms, fdef.quarterlies):
        slots[exp] = "quarterly"
    return sorted(slots.items())


# ---------------------------------------------------------------------------------------------------------
# Deterministic noise


def _key(*parts: object) -> int:
    return zlib.crc32("|".join(str(p) for p in parts).encode())


_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLD = np.uint64(0x9E3779B97F4A7C15)


def _splitmix(x: np.ndarray) -> np.ndarray:
    z = x + _GOLD
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


def hashed_normal(seed: int, key: int, counter: np.ndarray) -> np.ndarray:
    """Standard normals, one per integer ``counter``, a pure function of (seed, key, counter)."""
    c = np.asarray(counter, dtype=np.int64).astype(np.uint64)
    with np.errstate(over="ignore"):
        base = np.uint64((seed * 1_000_003 + key) & 0xFFFFFFFFFFFFFFFF)
        a = _splitmix(c * np.uint64(2) + base)
        b = _splitmix(c * np.uint64(2) + np.uint64(1) + base)
    u1 = ((a >> np.uint64(11)).astype(np.float64) + 0.5) / 9007199254740992.0
    u2 = ((b >> np.uint64(11)).astype(np.float64) + 0.5) / 9007199254740992.0
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


def _ar1(e: np.ndarray, phi: float, x0: float = 0.0, block: int = 256) -> np.ndarray:
    """x_t = phi * x_{t-1} + e_t, vectorized per block (stable: phi**-block stays small)."""
    out = np.empty_like(e)
    x = x0
    q_full = phi ** np.arange(block, dtype=np.float64)
    for s in range(0, len(e), block):
        eb = e[s : s + block]
        q = q_full[: len(eb)]
        xb = phi * q * x + q * np.cumsum(eb / q)
        out[s : s + block] = xb
        x = float(xb[-1])
    return out


def _phi(half_life_hours: float) -> float:
    return math.exp(-math.log(2.0) / half_life_hours)


# ---------------------------------------------------------------------------------------------------------
# The market


def _floor(t_ms: int, step_ms: int) -> int:
    return (t_ms // step_ms) * step_ms


@dataclass
class SimMarket:
    """The simulated market. Thread-safe: series are built once under a lock, then read-only.

    Parameters
    ----------
    seed : int
        RNG seed; same seed, same market.
    scenario : str
        Key of ``SCENARIOS``.
    clock : callable returning ms, optional
        The market's "now". Defaults to the wall clock. Tests pass a frozen clock.
    anchor_ms : int, optional
        When the scenario's regime is reached. Defaults to the clock at creation, floored to the hour.
    """

    seed: int = 7
    scenario: str = "normal"
    clock: Callable[[], int] | None = None
    anchor_ms: int | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _series: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    _horizon_blocks: int = 0

    def __post_init__(self) -> None:
        if self.scenario not in SCENARIOS:
            raise ValueError(f"unknown scenario {self.scenario!r}; choose one of {sorted(SCENARIOS)}")
        if self.anchor_ms is None:
            self.anchor_ms = _floor(self.now_ms(), HOUR_MS)

    # -- clock -------------------------------------------------------------------------------------------
    def now_ms(self) -> int:
        return int(self.clock()) if self.clock is not None else time.time_ns() // 1_000_000

    @property
    def spec(self) -> Scenario:
        return SCENARIOS[self.scenario]

    # -- hourly knots ------------------------------------------------------------------------------------
    def _blocks_needed(self, t_max_ms: int) -> int:
        hours = max(0, (t_max_ms - ORIGIN_MS) // HOUR_MS) + 2
        return int(hours // BLOCK_HOURS) + 1

    def _shocks(self, key: str, n_blocks: int) -> np.ndarray:
        k = _key(key)
        parts = [
            np.random.default_rng([self.seed, k, b]).standard_normal(BLOCK_HOURS) for b in range(n_blocks)
        ]
        return np.concatenate(parts)

    def _ensure(self, t_max_ms: int) -> None:
        need = max(self._blocks_needed(t_max_ms), self._blocks_needed(self.now_ms() + 60 * DAY_MS))
        if need <= self._horizon_blocks:
            return
        with self._lock:
            if need <= self._horizon_blocks:
                return
            self._series = self._build(need)
            self._horizon_blocks = need

    def _ramp(self, hours: np.ndarray) -> np.ndarray:
        """0 before the ramp, 1 at and after the anchor, smooth in between."""
        anchor_h = (int(self.anchor_ms or 0) - ORIGIN_MS) / HOUR_MS
        ramp = self.spec.ramp_hours
        x = np.clip((hours - (anchor_h - ramp)) / ramp, 0.0, 1.0)
        return x * x * (3.0 - 2.0 * x)

    def _build(self, n_blocks: int) -> dict[str, np.ndarray]:
        n = n_blocks * BLOCK_HOURS
        hours = np.arange(n, dtype=np.float64)
        ramp = self._ramp(hours)
        out: dict[str, np.ndarray] = {}
        z_btc = self._shocks("ret:BTC", n_blocks)
        for asset, spec in ASSETS.items():
            sigma = spec.vol_annual / math.sqrt(HOURS_PER_YEAR)
            own = self._shocks(f"ret:{asset}", n_blocks)
            rho = self._regime_rho(spec, n) if spec.regimes else np.full(n, spec.corr_btc)
            z = z_btc if asset == "BTC" else rho * z_btc + np.sqrt(1.0 - rho * rho) * own
            logp = _ar1(sigma * z, _phi(24 * 240))
            if spec.calendar is not None:
                # The cash index prints only in session: outside it the news accumulates in `logp` and is
                # released at the next open (the gap), so close-to-close returns carry all of it.
                from data_sources.calendars import open_mask

                is_open = open_mask(spec.calendar, ORIGIN_MS + np.arange(n, dtype=np.int64) * HOUR_MS)
                out[f"open:{asset}"] = is_open.astype(np.float64)
                last_open = np.maximum.accumulate(np.where(is_open, np.arange(n), 0))
                logp = logp[last_open]
            if asset in ("BTC", "ETH", "SOL"):
                logp = logp + self.spec.index_shock * ramp * (1.0 if asset == "BTC" else 1.15)
            out[f"logidx:{asset}"] = math.log(spec.level) + logp
        for venue, cat in CATALOG.items():
            for base in sorted({p.base for p in cat.perps} | {f.base for f in cat.futures}):
                proxy = PROXY_ASSETS.get(base)
                if proxy is not None:  # a perp on gold or an equity index: its own noise, no crypto scenario
                    phi = _phi(6)
                    noise = _ar1(self._shocks(f"prem:{venue}:{base}", n_blocks), phi) * math.sqrt(1 - phi * phi)
                    is_open = out.get(f"open:{proxy}")
                    amp = (np.full(n, PROXY_PREMIUM_NOISE["session"]) if is_open is None else
                           np.where(is_open > 0, PROXY_PREMIUM_NOISE["session"], PROXY_PREMIUM_NOISE["closed"]))
                    out[f"prem:{venue}:{base}"] = BASE_PREMIUM * 0.5 + amp * noise
                    continue
                prem = _ar1(0.00012 * self._shocks(f"prem:{venue}:{base}", n_blocks), _phi(10))
                level = BASE_PREMIUM + (self.spec.premium - BASE_PREMIUM) * ramp
                scale = 1.0 + 1.5 * ramp * (abs(self.spec.premium) > 0.001)
                out[f"prem:{venue}:{base}"] = level + prem * scale
                carry = _ar1(0.0012 * self._shocks(f"carry:{venue}:{base}", n_blocks), _phi(24 * 8))
                out[f"carry:{venue}:{base}"] = BASE_CARRY + (self.spec.carry - BASE_CARRY) * ramp + carry
                out[f"fwig:{venue}:{base}"] = _ar1(
                    0.00004 * self._shocks(f"fwig:{venue}:{base}", n_blocks), _phi(6)
                )
        return out

    @staticmethod
    def _regime_rho(spec: AssetSpec, n_hours: int) -> np.ndarray:
        """Correlation with BTC at each hourly knot from ORIGIN_MS: the regimes cycled from the anchor."""
        lengths = np.asarray([d * 24 for d, _ in spec.regimes], dtype=np.int64)
        rhos = np.asarray([r for _, r in spec.regimes], dtype=np.float64)
        edges = np.cumsum(lengths)
        anchor_h = (REGIME_ANCHOR_MS - ORIGIN_MS) // HOUR_MS
        phase = (np.arange(n_hours, dtype=np.int64) - anchor_h) % int(edges[-1])
        return rhos[np.searchsorted(edges, phase, side="right")]

    def regimes(self, asset: str, start_ms: int = ORIGIN_MS, end_ms: int | None = None) -> list[tuple[int, float]]:
        """The correlation regimes of proxy ``asset`` with BTC: ``(start_ms, rho)`` of each regime that is in
        force at some time in [start_ms, end_ms] (default: up to now), ascending. The first may have started
        before ``start_ms``. These are the dates a decoupling detector should find."""
        spec = ASSETS[asset]
        if not spec.regimes:
            return []
        end = self.now_ms() if end_ms is None else end_ms
        out: list[tuple[int, float]] = []
        cycle = sum(d for d, _ in spec.regimes) * DAY_MS
        t = REGIME_ANCHOR_MS - -(-(REGIME_ANCHOR_MS - ORIGIN_MS) // cycle) * cycle  # a cycle start <= ORIGIN
        while t <= end:
            for days, rho in spec.regimes:
                if t + days * DAY_MS > start_ms and t <= end:
                    out.append((t, float(rho)))
                t += days * DAY_MS
        return out

    def _knots(self, key: str, t_max_ms: int) -> np.ndarray:
        self._ensure(t_max_ms)
        return self._series[key]

    def _interp(self, key: str, t_ms: np.ndarray, *, wiggle: float = 0.0) -> np.ndarray:
        """Value of series ``key`` at arbitrary ms timestamps (linear between knots + bridge wiggle)."""
        t = np.asarray(t_ms, dtype=np.int64)
        if t.size == 0:
            return np.empty(0)
        if int(t.min()) < ORIGIN_MS:
            raise ValueError("simulated history starts at 2019-01-04")
        knots = self._knots(key, int(t.max()))
        rel = t - ORIGIN_MS
        i = rel // HOUR_MS
        frac = (rel % HOUR_MS) / HOUR_MS
        v = knots[i] * (1.0 - frac) + knots[i + 1] * frac
        if wiggle:
            minute = rel // MINUTE_MS
            v = v + wiggle * np.sqrt(frac * (1.0 - frac)) * hashed_normal(self.seed, _key(key), minute)
        return v

    # -- public values -----------------------------------------------------------------------------------
    def composite_index(self, asset: str, t_ms: np.ndarray) -> np.ndarray:
        """The 'true' index of ``asset`` (BTC, ETH, SOL, GOLD, NDX) in USD."""
        spec = ASSETS[asset]
        # a closed market has no ticks: the session-only proxy moves only between its hourly knots
        wig = 0.0 if spec.calendar is not None else 0.5 * spec.vol_annual / math.sqrt(HOURS_PER_YEAR)
        return np.exp(self._interp(f"logidx:{asset}", t_ms, wiggle=wig))

    def index(self, venue: str, base: str, t_ms: np.ndarray) -> np.ndarray:
        """The venue's index price of ``base`` (its composite differs by a few bp)."""
        asset = PROXY_ASSETS.get(base, base)
        return self.composite_index(asset, t_ms) * (1.0 + CATALOG[venue].index_bias)

    def premium(self, venue: str, base: str, t_ms: np.ndarray) -> np.ndarray:
        """Perp premium (mark / index - 1) of ``base`` on ``venue``."""
        return self._interp(f"prem:{venue}:{base}", t_ms)

    def carry(self, venue: str, base: str, t_ms: np.ndarray) -> np.ndarray:
        """Annualized basis level (simple, ACT/365) of the venue's dated futures curve."""
        return self._interp(f"carry:{venue}:{base}", t_ms)

    def annualized_basis(self, inst: SimInstrument, t_ms: np.ndarray) -> np.ndarray:
        """Simple annualized basis of a dated future at ``t`` (carry + mild term slope), before wiggle."""
        assert inst.expiry_ms is not None
        t = np.asarray(t_ms, dtype=np.int64)
        tau_years = np.maximum(inst.expiry_ms - t, 0) / (365 * DAY_MS)
        return self.carry(inst.venue, inst.base, t) + 0.03 * tau_years

    def price(self, inst: SimInstrument, field: str, t_ms: np.ndarray) -> np.ndarray:
        """Price of an instrument at ``t``: field is last | mark | index | premium_index.

        ``premium_index`` is the premium itself (fraction), as Binance and Bybit publish it.
        A dated future past its expiry is worth its settlement (the index at expiry).
        """
        t = np.asarray(t_ms, dtype=np.int64)
        if field == "index":
            return self.index(inst.venue, inst.base, t)
        if inst.kind == "spot":
            if field not in ("last", "mark"):
                raise ValueError(f"spot has no {field} price")
            idx = self.index(inst.venue, inst.base, t)
            return idx * (1.0 + 0.00005 * self._noise(f"spot:{inst.venue}:{inst.base}", t))
        if field == "premium_index":
            if inst.kind != "perp":
                raise ValueError("premium index exists for perps only")
            return self.premium(inst.venue, inst.base, t)
        if inst.kind == "perp":
            mark = self.index(inst.venue, inst.base, t) * (1.0 + self.premium(inst.venue, inst.base, t))
        else:
            assert inst.expiry_ms is not None
            tt = np.minimum(t, inst.expiry_ms)
            tau_days = (inst.expiry_ms - tt) / DAY_MS
            wig = self._interp(f"fwig:{inst.venue}:{inst.base}", tt) * np.sqrt(np.minimum(tau_days, 30.0) / 30.0)
            basis = self.annualized_basis(inst, tt) * tau_days / 365.0 + wig
            mark = self.index(inst.venue, inst.base, tt) * (1.0 + basis)
        if field == "mark":
            return mark
        if field == "last":
            key = f"last:{inst.venue}:{inst.base}:{inst.kind}:{inst.expiry_ms}:{inst.quote}"
            return mark * (1.0 + 0.0001 * self._noise(key, t))
        raise ValueError(f"unknown price field {field!r}")

    def _noise(self, key: str, t_ms: np.ndarray) -> np.ndarray:
        return hashed_normal(self.seed, _key(key), np.asarray(t_ms, dtype=np.int64) // MINUTE_MS)

    def volume(self, inst: SimInstrument, t_ms: np.ndarray, tf_ms: int) -> np.ndarray:
        """Deterministic traded volume (in contracts) per candle."""
        key = f"vol:{inst.venue}:{inst.base}:{inst.kind}:{inst.expiry_ms}:{inst.quote}"
        z = hashed_normal(self.seed, _key(key), np.asarray(t_ms, dtype=np.int64) // tf_ms)
        return np.round(1000.0 * (tf_ms / HOUR_MS) * np.exp(0.4 * z), 3)

    # -- funding -----------------------------------------------------------------------------------------
    @staticmethod
    def _clamp_rate_8h(avg_premium: np.ndarray) -> np.ndarray:
        return avg_premium + np.clip(INTEREST_8H - avg_premium, -CLAMP_8H, CLAMP_8H)

    def funding_settlements(self, inst: SimInstrument, start_ms: int, end_ms: int) -> tuple[np.ndarray, np.ndarray]:
        """Settled funding of a perp in [start_ms, end_ms]: (times_ms, rate per interval), ascending.

        Settlement times are multiples of the interval from 00:00 UTC, never after now. The rate uses the
        hourly premium knots inside the interval ending at the settlement.
        """
        h = inst.funding_hours
        if inst.kind != "perp" or h is None:
            raise ValueError("funding exists for perps only")
        step = h * HOUR_MS
        end = min(end_ms, self.now_ms())
        first = max(start_ms, inst.listed_ms + step)
        first = -(-first // step) * step
        if end < first:
            return np.empty(0, dtype=np.int64), np.empty(0)
        times = np.arange(first, end + 1, step, dtype=np.int64)
        return times, self.settled_rate(inst, times)

    def settled_rate(self, inst: SimInstrument, times_ms: np.ndarray) -> np.ndarray:
        """Rate settled at each of ``times_ms`` (which must be on the instrument's interval grid)."""
        h = int(inst.funding_hours or 8)
        t = np.asarray(times_ms, dtype=np.int64)
        if t.size == 0:
            return np.empty(0)
        offsets = np.arange(h, dtype=np.int64) * HOUR_MS  # knots t, t-1h, ..., t-(h-1)h
        grid = t[:, None] - offsets[None, :]
        avg = self.premium(inst.venue, inst.base, grid.ravel()).reshape(grid.shape).mean(axis=1)
        return self._clamp_rate_8h(avg) * h / 8.0

    def next_funding_ms(self, inst: SimInstrument, t_ms: int | None = None) -> int:
        h = int(inst.funding_hours or 8)
        t = self.now_ms() if t_ms is None else t_ms
        step = h * HOUR_MS
        return (t // step + 1) * step

    def funding_estimate(self, inst: SimInstrument, t_ms: int | None = None) -> float:
        """Running estimate of the coming settlement's rate (per interval), as premiumIndex shows it."""
        t = self.now_ms() if t_ms is None else t_ms
        h = int(inst.funding_hours or 8)
        nxt = self.next_funding_ms(inst, t)
        start = nxt - h * HOUR_MS
        knots = np.arange(start + HOUR_MS, t + 1, HOUR_MS, dtype=np.int64)
        pts = np.concatenate([knots, np.asarray([t], dtype=np.int64)])
        avg = float(self.premium(inst.venue, inst.base, pts).mean())
        return float(self._clamp_rate_8h(np.asarray([avg]))[0]) * h / 8.0

    def deribit_hourly(self, inst: SimInstrument, start_ms: int, end_ms: int) -> dict[str, np.ndarray]:
        """Deribit's hourly funding rows in [start_ms, end_ms] (capped at now).

        ``interest_1h`` is the hour's accrual; ``interest_8h`` the sum of the last eight hourly accruals
        (an 8h-equivalent, so summing those rows would count each hour eight times).
        """
        end = min(end_ms, self.now_ms())
        first = -(-max(start_ms, inst.listed_ms + 8 * HOUR_MS) // HOUR_MS) * HOUR_MS
        if end < first:
            empty = np.empty(0)
            return {"timestamp": np.empty(0, dtype=np.int64), "interest_1h": empty, "interest_8h": empty,
                    "index_price": empty, "prev_index_price": empty}
        times = np.arange(first - 7 * HOUR_MS, end + 1, HOUR_MS, dtype=np.int64)
        r1 = self._clamp_rate_8h(self.premium(inst.venue, inst.base, times)) / 8.0
        r8 = np.convolve(r1, np.ones(8), mode="valid")
        t_out = times[7:]
        idx = self.index(inst.venue, inst.base, t_out)
        prev = self.index(inst.venue, inst.base, t_out - HOUR_MS)
        return {"timestamp": t_out, "interest_1h": r1[7:], "interest_8h": r8, "index_price": idx,
                "prev_index_price": prev}

    # -- candles -----------------------------------------------------------------------------------------
    def candles(
        self, inst: SimInstrument, field: str, tf_ms: int, start_ms: int, end_ms: int, *, limit: int | None = None
    ) -> np.ndarray:
        """OHLCV rows ``[open_ms, o, h, l, c, v]`` with open time in [start_ms, end_ms], ascending.

        Only candles that have opened by now exist; the forming one closes at the current value. Candles
        before the instrument's listing do not exist. Values are sampled every minute (every hour for
        timeframes above 1h), so a candle is the same whichever window asks for it.
        """
        now = self.now_ms()
        first = max(start_ms, inst.listed_ms, ORIGIN_MS)
        first = -(-first // tf_ms) * tf_ms
        last = min(end_ms, now)
        if inst.expiry_ms is not None:
            last = min(last, inst.expiry_ms - 1)
        if last < first:
            return np.empty((0, 6))
        opens = np.arange(first, last + 1, tf_ms, dtype=np.int64)
        if limit is not None:
            opens = opens[:limit]
        step = MINUTE_MS if tf_ms <= HOUR_MS else HOUR_MS
        k = tf_ms // step
        pts = opens[:, None] + (np.arange(k, dtype=np.int64) * step)[None, :]
        close_t = opens + tf_ms - MINUTE_MS
        pts = np.concatenate([pts, close_t[:, None]], axis=1)
        pts = np.minimum(pts, now)
        vals = self.price(inst, field, pts.ravel()).reshape(pts.shape)
        o = vals[:, 0]
        c = vals[:, -1]
        hi = vals.max(axis=1)
        lo = vals.min(axis=1)
        if field == "premium_index":
            v = np.zeros(len(opens))
        else:
            v = self.volume(inst, opens, tf_ms)
        return np.column_stack([opens.astype(np.float64), o, hi, lo, c, v])

    # -- listing -----------------------------------------------------------------------------------------
    def instruments(self, venue: str, t_ms: int | None = None) -> list[SimInstrument]:
        """Instruments listed on ``venue`` at ``t`` (default now): spots, perps, unexpired futures."""
        t = self.now_ms() if t_ms is None else t_ms
        cat = CATALOG[venue]
        out: list[SimInstrument] = []
        for base, quote in cat.spots:
            out.append(SimInstrument(venue, base, quote, None, "spot", True, 1.0))
        for p in cat.perps:
            if p.listed_ms > t:
                continue
            out.append(
                SimInstrument(venue, p.base, p.quote, p.settle, "perp", p.linear, p.contract_size,
                              funding_hours=p.funding_hours, listed_ms=p.listed_ms)
            )
        for f in cat.futures:
            slots = venue_expiries(f, t)
            for exp, tenor in slots:
                out.append(
                    SimInstrument(venue, f.base, f.quote, f.settle, "future", f.linear, f.contract_size,
                                  expiry_ms=exp, listed_ms=self._listed_ms(f, exp, tenor), tenor=tenor)
                )
        return out

    @staticmethod
    def _listed_ms(fdef: _FutureDef, expiry_ms: int, tenor: str) -> int:
        """Listed one slot earlier than the furthest slot of its kind (so never after it is shown)."""
        period, slots = {
            "weekly": (7 * DAY_MS, fdef.weeklies),
            "monthly": (31 * DAY_MS, fdef.monthlies),
            "quarterly": (92 * DAY_MS, fdef.quarterlies),
        }[tenor]
        return max(ORIGIN_MS, _floor(expiry_ms - (max(slots, 1) + 1) * period, DAY_MS))

    def find(self, venue: str, *, base: str, quote: str, kind: str, expiry_ms: int | None = None) -> SimInstrument:
        """The instrument with these attributes (expired futures included, so old windows resolve)."""
        for inst in self.instruments(venue):
            if inst.base == base and inst.quote == quote and inst.kind == kind and inst.expiry_ms == expiry_ms:
                return inst
        if kind == "future" and expiry_ms is not None:
            for f in CATALOG[venue].futures:
                if f.base == base and f.quote == quote:
                    tenor = "quarterly" if datetime.fromtimestamp(expiry_ms / 1000, tz=UTC).month % 3 == 0 else "weekly"
                    return SimInstrument(venue, base, quote, f.settle, "future", f.linear, f.contract_size,
                                         expiry_ms=expiry_ms, listed_ms=self._listed_ms(f, expiry_ms, tenor),
                                         tenor=tenor)
        raise KeyError(f"{venue}: no {kind} {base}/{quote} expiring {expiry_ms}")


_MARKETS: dict[tuple[int, str, int | None], SimMarket] = {}
_MARKETS_LOCK = threading.Lock()


def shared_market(seed: int = 7, scenario: str = "normal") -> SimMarket:
    """One wall-clock market per (seed, scenario) per process, so all sessions see the same world."""
    with _MARKETS_LOCK:
        key = (seed, scenario, None)
        if key not in _MARKETS:
            _MARKETS[key] = SimMarket(seed=seed, scenario=scenario)
        return _MARKETS[key]
