"""Hedge calculator: sizing a short futures hedge of a spot holding, its P&L, margin, costs and risks.

DOMAIN.md "Hedging spot with futures" (seed 003), with "Term structure and basis" and "Funding" for the
carry. The page reads inputs, calls these functions and renders what they return; every number it shows
comes from here, with its formula.

Conventions
-----------
- Prices are in USD (the quote currency: USDT/USDC/USD are treated as one dollar). Rates and percentages
  are *fractions* (0.004 = 0.4 %); fees are in basis points (5 = 0.05 %). Days are calendar days (ACT/365).
- The hedge is always a **short** (the holder is long spot). P&L is signed from the hedger's view: a gain is
  positive. Costs are signed the other way: a **cost is positive, an earning negative**.
- Linear contracts (USDT/USDC-margined): ``contract_size`` is base units per contract; P&L and margin in
  USD. Inverse contracts (coin-margined): ``contract_size`` is the USD face value per contract; P&L and
  margin in coin.
- A *proxy* hedge shorts another asset (the vehicle, e.g. BTC for an altcoin) sized by the holding's beta on
  it; beta comes from the caller (``analytics.correlation`` computes it from log returns).
- Invalid user inputs raise ``HedgeInputError`` (a ``ValueError``) whose ``field`` names the input, so the
  page can show the message next to it. Quantities that cannot be known are NaN (never a sentinel number);
  "no liquidation price" is ``None`` with a reason.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from analytics import basis as ab
from analytics import funding as af
from analytics._arrays import ArrayLike, Result, as_float, positive, wrap

DAYS_PER_YEAR = ab.DAYS_PER_YEAR  # ACT/365
HOURS_PER_DAY = af.HOURS_PER_DAY
HOURS_PER_YEAR = af.HOURS_PER_YEAR
BPS = 1e4  # basis points per unit
ROUND_TRIP_SIDES = 2  # a hedge is opened and closed: two fills

# Beyond these a number is a typo (a quantity in satoshis, a price with extra zeros), not a position.
MAX_NOTIONAL_USD = 1e15
MAX_PRICE_USD = 1e12
MAX_BETA = 10.0
MAX_LEVERAGE = 1_000.0
MAX_HORIZON_DAYS = 3_650.0
MAX_FEE_BPS = 100.0  # 1 % a side; negative down to -MAX_FEE_BPS is a maker rebate
MAX_FUNDING_RATE_PER_HOUR = 0.05  # 5 % an hour: above Hyperliquid's 4 %/h cap, the widest venue cap we know
MAX_MOVE = 10.0  # scenario moves up to +1000 %

DEFAULT_MOVES = np.linspace(-0.5, 0.5, 21)  # -50 % .. +50 % in 5 % steps (DOMAIN.md scenario table)
DEFAULT_MOVES.flags.writeable = False

# Warning levels (all configurable on the page).
FUNDING_DRAG_RATE_8H = af.ELEVATED_RATE_8H  # seed 003: a short paying beyond 0.01 % per 8 h is a costly drag
RESIDUAL_WARN_FRACTION = 0.05  # rounding leaves more than 5 % of the target unhedged (or over-hedged)
LIQUIDATION_WARN_DISTANCE = 0.20  # liquidation less than 20 % above the current price
MIN_BETA_OBSERVATIONS = 60  # fewer returns than this make a beta too noisy to size a hedge on
# Rolling beta's sample std over |beta| above this: a 1-sd swing moves the right hedge size by over a quarter.
MAX_BETA_CV = 0.25

InstrumentKind = Literal["perp", "future"]
KINDS: tuple[str, ...] = ("perp", "future")
Rounding = Literal["nearest", "down", "up"]
ROUNDINGS: tuple[str, ...] = ("nearest", "down", "up")


class HedgeInputError(ValueError):
    """An input of the hedge calculator is unusable; ``field`` names it (the message starts with it)."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")


# -- validation ---------------------------------------------------------------------------------------------
def _number(value: object, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise HedgeInputError(field, f"must be a number, got {value!r}")
    x = float(value)
    if not math.isfinite(x):
        raise HedgeInputError(field, f"must be a finite number, got {x}")
    return x


def _positive(value: object, field: str, *, upper: float | None = None, unit: str = "") -> float:
    x = _number(value, field)
    if x <= 0:
        raise HedgeInputError(field, f"must be > 0, got {x:g}")
    if upper is not None and x > upper:
        raise HedgeInputError(field, f"{_size(x)}{unit} is beyond {_size(upper)}{unit}: check the units")
    return x


def _size(x: float) -> str:
    """A magnitude for a message: 3,650 or 1e+15."""
    return f"{x:,.10g}" if abs(x) < 1e7 else f"{x:.3g}"


def _between(value: object, field: str, low: float, high: float, *, what: str) -> float:
    x = _number(value, field)
    if not low <= x <= high:
        raise HedgeInputError(field, f"must be between {low:g} and {high:g} ({what}), got {x:g}")
    return x


def _leverage(value: object, *, cap: float = MAX_LEVERAGE, field: str = "leverage") -> float:
    x = _number(value, field)
    if x < 1.0:
        raise HedgeInputError(field, f"must be >= 1 (margin cannot exceed the position), got {x:g}")
    if x > cap:
        raise HedgeInputError(field, f"{x:g}x is above the maximum of {cap:g}x")
    return x


def _horizon(value: object) -> float:
    return _positive(value, "horizon_days", upper=MAX_HORIZON_DAYS, unit=" days")


def _fee(value: object) -> float:
    return _between(value, "taker_bps", -MAX_FEE_BPS, MAX_FEE_BPS, what="bps per fill; negative = rebate")


def _fmt(x: float) -> str:
    """A number for formula text: thousands separators, up to 10 significant digits, no trailing zeros."""
    return f"{x:,.10g}"


# -- instruments --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Instrument:
    """A futures contract used as the hedge vehicle.

    Attributes
    ----------
    venue : str
        Exchange id (e.g. "binanceusdm", "okx").
    symbol : str
        Unified symbol (e.g. "BTC/USDT:USDT", "BTC/USD:BTC-261225").
    kind : "perp" or "future"
        Perpetual swap or dated future.
    linear : bool
        True: USDT/USDC-margined (P&L in USD). False: inverse, coin-margined (P&L in coin).
    contract_size : float
        Linear: base units per contract (Binance USDⓈ-M BTCUSDT 1 BTC, OKX BTC-USDT-SWAP 0.01 BTC).
        Inverse: USD face value per contract (Binance COIN-M and OKX BTC-USD 100, Deribit BTC 10).
    amount_step : float
        Order size step in **contracts** (Binance USDⓈ-M BTCUSDT 0.001, OKX swaps its ``lotSz``, Binance
        COIN-M 1). ccxt's ``precision['amount']`` under TICK_SIZE precision is this step for Binance and
        OKX, but Deribit's inverse amounts in ccxt are USD (divide by ``contract_size``); ``data_sources``'
        ``InstrumentSpec`` already gives contracts.
    min_amount : float
        Minimum order size in contracts (0 = none).
    max_leverage : float
        The venue's maximum leverage for the symbol (>= 1).
    expiry : Timestamp or None
        Expiry (tz-aware) of a dated future; None for a perp.
    settle : str
        Settlement / margin currency ("USDT", "USDC", "BTC", ...); default "USDT" (set it for inverse ones).

    Raises
    ------
    HedgeInputError
        On a non-positive size or step, negative minimum, leverage below 1, an unknown kind, a future
        without a tz-aware expiry or a perp with one.
    """

    venue: str
    symbol: str
    kind: InstrumentKind
    linear: bool
    contract_size: float
    amount_step: float
    min_amount: float
    max_leverage: float
    expiry: pd.Timestamp | None = None
    settle: str = "USDT"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise HedgeInputError("kind", f"must be one of {KINDS}, got {self.kind!r}")
        # floats from here on (a venue's JSON may give ints): frozen, so set through object.__setattr__
        object.__setattr__(self, "contract_size", _positive(self.contract_size, "contract_size"))
        object.__setattr__(self, "amount_step", _positive(self.amount_step, "amount_step"))
        if _number(self.min_amount, "min_amount") < 0:
            raise HedgeInputError("min_amount", f"must be >= 0 contracts, got {self.min_amount:g}")
        object.__setattr__(self, "min_amount", float(self.min_amount))
        object.__setattr__(self, "max_leverage", _leverage(self.max_leverage, field="max_leverage"))
        if self.kind == "future":
            if self.expiry is None or pd.isna(self.expiry):
                raise HedgeInputError("expiry", "a dated future needs its expiry")
            if pd.Timestamp(self.expiry).tz is None:
                raise HedgeInputError("expiry", f"must be tz-aware (UTC), got naive {self.expiry!r}")
        elif self.expiry is not None and not pd.isna(self.expiry):
            raise HedgeInputError("expiry", "a perpetual has no expiry")

    @property
    def margin_unit(self) -> str:
        """Currency of P&L and margin: "USD" for linear contracts, "coin" for inverse ones."""
        return "USD" if self.linear else "coin"


# -- sizing -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Sizing:
    """A sized short hedge (``size_hedge``). USD unless the name says coin; "vehicle" = the shorted asset.

    Attributes
    ----------
    quantity, price : float
        The holding: base units and USD per unit.
    ratio : float
        Hedge ratio, 0..1.
    beta : float
        Beta of the holding on the vehicle (1 for a direct hedge).
    proxy : bool
        True when the vehicle is another asset (``vehicle_price`` was given).
    vehicle_price : float
        USD price of the vehicle used for sizing (= ``price`` for a direct hedge).
    notional_usd : float
        ``quantity * price``.
    target_notional_usd : float
        ``ratio * beta * notional_usd``: the short's notional before rounding (vehicle USD).
    contracts_raw : float
        The target in contracts, unrounded.
    contracts : float
        After rounding to ``amount_step`` and the minimum order (see ``size_hedge``).
    rounding : str
        "nearest", "down" or "up".
    contract_value_usd : float
        USD per contract today: ``vehicle_price * contract_size`` (linear) or ``contract_size`` (inverse).
    hedge_notional_usd : float
        ``contracts * contract_value_usd``: the short's notional after rounding (vehicle USD).
    hedge_coin : float
        The short in vehicle base units: ``hedge_notional_usd / vehicle_price``.
    residual_usd, residual_coin : float
        Rounding residual in the holding's terms (beta-equivalent for a proxy):
        ``(target_notional_usd - hedge_notional_usd) / beta``, and that over ``price``. > 0: under-hedged.
    residual_fraction : float
        ``(target - hedge) / target``; NaN when the target is 0 (ratio 0).
    net_delta_usd, net_delta_coin : float
        Exposure left after the hedge: ``notional_usd - hedge_notional_usd / beta`` and that over ``price``
        (a 50 % hedge leaves half the holding; a full one only the rounding residual).
    note : str or None
        Set when the minimum order moved the size (raised to it, or no hedge at all).
    """

    quantity: float
    price: float
    ratio: float
    beta: float
    proxy: bool
    vehicle_price: float
    notional_usd: float
    target_notional_usd: float
    contracts_raw: float
    contracts: float
    rounding: str
    contract_value_usd: float
    hedge_notional_usd: float
    hedge_coin: float
    residual_usd: float
    residual_coin: float
    residual_fraction: float
    net_delta_usd: float
    net_delta_coin: float
    note: str | None = None


def _clean(x: float) -> float:
    """Drop float noise of ``k * step`` (1234 * 0.001 -> 1.234, not 1.2340000000000002)."""
    return round(x, 12) if abs(x) < 1e15 else x


def round_contracts(raw: float, *, amount_step: float, min_amount: float = 0.0,
                    rounding: Rounding = "nearest") -> tuple[float, str | None]:
    """Round a contract count to the venue's order grid.

    Parameters
    ----------
    raw : float
        Contracts wanted (>= 0).
    amount_step : float, keyword-only
        Order size step, contracts (> 0).
    min_amount : float, keyword-only
        Minimum order, contracts (>= 0).
    rounding : "nearest", "down" or "up", keyword-only
        "nearest" (default): the nearest multiple of the step, **ties away from zero** (half a step rounds
        up: on an exact tie the hedge is a half step larger, as rounding by hand gives). "down" never
        over-hedges, "up" never under-hedges. Ties are judged after rounding ``raw / step`` to 9 decimals,
        so float noise (123.45 / 0.1 = 1234.4999...) does not decide them.

    Returns
    -------
    (float, str or None)
        Contracts and a note. Below the minimum order the count is the nearer (for "down": lower; "up":
        higher) of 0 and ``min_amount``; the note says which. A positive target rounding to 0 says so.
    """
    if rounding not in ROUNDINGS:
        raise HedgeInputError("rounding", f"must be one of {ROUNDINGS}, got {rounding!r}")
    raw = _number(raw, "contracts")
    amount_step = _positive(amount_step, "amount_step")
    min_amount = _number(min_amount, "min_amount")
    if raw < 0 or min_amount < 0:
        raise HedgeInputError("contracts" if raw < 0 else "min_amount", "must be >= 0")
    if raw == 0:
        return 0.0, None
    steps = round(raw / amount_step, 9)
    if rounding == "nearest":
        k = math.floor(steps + 0.5)
    elif rounding == "down":
        k = math.floor(steps)
    else:
        k = math.ceil(steps)
    contracts = _clean(float(k * amount_step))
    tol = 1e-12 * max(1.0, min_amount)
    if contracts > 0 and contracts >= min_amount - tol:
        return contracts, None
    if min_amount > 0:
        raise_to_min = {"nearest": raw >= min_amount / 2, "down": False, "up": True}[rounding]
        if raise_to_min:
            return float(min_amount), (f"{_fmt(raw)} contracts wanted; raised to the venue's minimum order of "
                                       f"{_fmt(min_amount)} contracts")
        return 0.0, (f"{_fmt(raw)} contracts wanted is below the venue's minimum order of {_fmt(min_amount)} "
                     f"contracts: no hedge is placed (0 contracts)")
    return 0.0, f"{_fmt(raw)} contracts wanted rounds to 0 (step {_fmt(amount_step)}): no hedge is placed"


def size_hedge(*, quantity: float, price: float, ratio: float, instrument: Instrument,
               vehicle_price: float | None = None, beta: float = 1.0, rounding: Rounding = "nearest") -> Sizing:
    """Size the short that hedges ``ratio`` of a spot holding (DOMAIN.md "Hedging spot with futures").

    ``notional = quantity * price``; ``target = ratio * beta * notional`` (vehicle USD);
    contracts = ``target / (vehicle_price * contract_size)`` (linear) or ``target / contract_size``
    (inverse, USD face value), rounded by ``round_contracts``.

    Parameters
    ----------
    quantity : float, keyword-only
        Holding, base units (> 0).
    price : float, keyword-only
        Current USD price of the held asset (> 0, at most ``MAX_PRICE_USD``).
    ratio : float, keyword-only
        Fraction of the holding to hedge, 0..1 (1 = full hedge).
    instrument : Instrument, keyword-only
        The contract shorted.
    vehicle_price : float, optional, keyword-only
        USD price of the vehicle when it is another asset (a proxy hedge). None: the vehicle is the held
        asset (its price is ``price``). For a direct hedge with a dated future, contracts are sized on spot
        (DOMAIN.md); the basis is carry (``future_cost``).
    beta : float, keyword-only
        Beta of the holding's returns on the vehicle's, in (0, ``MAX_BETA``]. Other than 1 only with
        ``vehicle_price``.
    rounding : "nearest", "down" or "up", keyword-only
        See ``round_contracts``; default nearest, ties away from zero.

    Returns
    -------
    Sizing

    Raises
    ------
    HedgeInputError
        quantity or price not finite and > 0, price beyond 1e12, notional beyond ``MAX_NOTIONAL_USD``
        (field "quantity"), ratio outside [0, 1], beta outside (0, 10], vehicle_price invalid, a beta other
        than 1 without a vehicle price, instrument not an ``Instrument``.
    """
    q = _positive(quantity, "quantity")
    p = _positive(price, "price", upper=MAX_PRICE_USD, unit=" USD")
    r = _between(ratio, "ratio", 0.0, 1.0, what="the fraction of the holding hedged")
    b = _number(beta, "beta")
    if not 0 < b <= MAX_BETA:
        raise HedgeInputError("beta", f"must be in (0, {MAX_BETA:g}] (a short hedge needs a positive beta), "
                                      f"got {b:g}")
    if not isinstance(instrument, Instrument):
        raise HedgeInputError("instrument", f"must be an Instrument, got {type(instrument).__name__}")
    proxy = vehicle_price is not None
    if vehicle_price is not None:
        vp = _positive(vehicle_price, "vehicle_price", upper=MAX_PRICE_USD, unit=" USD")
    elif b != 1.0:
        raise HedgeInputError("beta", "a beta other than 1 is a proxy hedge: give the vehicle's price "
                                      "(vehicle_price)")
    else:
        vp = p
    notional = q * p
    if notional > MAX_NOTIONAL_USD:
        raise HedgeInputError("quantity", f"notional (quantity × price) of {_size(notional)} USD is beyond "
                                          f"{_size(MAX_NOTIONAL_USD)} USD: check the units")
    target = r * b * notional
    cv = vp * instrument.contract_size if instrument.linear else instrument.contract_size
    raw = target / cv
    contracts, note = round_contracts(raw, amount_step=instrument.amount_step,
                                      min_amount=instrument.min_amount, rounding=rounding)
    hedge = contracts * cv
    residual_vehicle = target - hedge
    residual_usd = residual_vehicle / b
    net = notional - hedge / b
    return Sizing(
        quantity=q, price=p, ratio=r, beta=b, proxy=proxy, vehicle_price=vp, notional_usd=notional,
        target_notional_usd=target, contracts_raw=raw, contracts=contracts, rounding=rounding,
        contract_value_usd=cv, hedge_notional_usd=hedge, hedge_coin=hedge / vp, residual_usd=residual_usd,
        residual_coin=residual_usd / p,
        residual_fraction=residual_vehicle / target if target > 0 else float("nan"),
        net_delta_usd=net, net_delta_coin=net / p, note=note,
    )


# -- P&L ----------------------------------------------------------------------------------------------------
def short_pnl_linear(contracts: ArrayLike, contract_size: ArrayLike, p0: ArrayLike, p1: ArrayLike) -> Result:
    """P&L of a linear short: ``-contracts * contract_size * (p1 - p0)``, quote currency (USD).

    Parameters
    ----------
    contracts : float or array-like
        Contracts short (>= 0).
    contract_size : float or array-like
        Base units per contract.
    p0, p1 : float or array-like
        Entry and exit prices (USD); vectorized (e.g. ``p1`` an array of scenario prices).

    Returns
    -------
    float, ndarray or Series
        USD; NaN where a price is missing, zero or negative.
    """
    n, cs, a, b = as_float(contracts), as_float(contract_size), as_float(p0), as_float(p1)
    ok = positive(a) & positive(b)
    with np.errstate(invalid="ignore"):
        out = np.where(ok, -n * cs * (b - a), np.nan)
    return wrap(out, contracts, contract_size, p0, p1, name="short_pnl")


@dataclass(frozen=True)
class InversePnl:
    """P&L of an inverse short: ``coin`` (the settlement coin) and its ``usd`` value at the exit price."""

    coin: Result
    usd: Result


def short_pnl_inverse(contracts: ArrayLike, contract_value_usd: ArrayLike, p0: ArrayLike, p1: ArrayLike
                      ) -> InversePnl:
    """P&L of an inverse (coin-margined) short: ``coin = contracts * CV * (1/p1 - 1/p0)``, ``usd = coin * p1``.

    Non-linear in price: the short gains less coin on a fall than it loses on an equal rise. Q coins held
    with ``Q * p0 / CV`` contracts short keep their USD value at ``Q * p0`` whatever ``p1`` is.

    Parameters
    ----------
    contracts : float or array-like
        Contracts short (>= 0).
    contract_value_usd : float or array-like
        USD face value per contract (CV).
    p0, p1 : float or array-like
        Entry and exit prices (USD per coin); vectorized.

    Returns
    -------
    InversePnl
        ``coin`` in the settlement coin and ``usd`` = coin * p1; NaN where a price is missing or <= 0.
    """
    n, cv, a, b = as_float(contracts), as_float(contract_value_usd), as_float(p0), as_float(p1)
    ok = positive(a) & positive(b)
    safe_a, safe_b = np.where(ok, a, 1.0), np.where(ok, b, 1.0)
    with np.errstate(invalid="ignore"):
        coin = np.where(ok, n * cv * (1.0 / safe_b - 1.0 / safe_a), np.nan)
        usd = np.where(ok, coin * safe_b, np.nan)
    args = (contracts, contract_value_usd, p0, p1)
    return InversePnl(coin=wrap(coin, *args, name="short_pnl_coin"), usd=wrap(usd, *args, name="short_pnl_usd"))


# -- margin brackets ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Bracket:
    """One maintenance-margin level (Binance's "position bracket", OKX's tier, Bybit's risk limit).

    Attributes
    ----------
    floor, cap : float
        The bracket holds positions ``floor < value <= cap`` (the first also holds 0), the venues'
        convention (``data_sources`` tiers too). Unit: the position's value, USD for linear contracts and
        coin for inverse ones (Binance, Bybit); or its size for venues tiering by size (OKX: base coin for
        linear, USD face for inverse; see ``brackets_by``). The last cap is ``inf``.
    mmr : float
        Maintenance margin rate, fraction.
    max_leverage : float or None
        The level's maximum leverage (None when not known).
    cum : float
        Maintenance amount (Binance's ``cum``) in the margin unit (USD linear, coin inverse: the unit of
        value brackets' ``floor``): ``MM = value * mmr - cum``.
    """

    floor: float
    cap: float
    mmr: float
    max_leverage: float | None
    cum: float


def _check_table(floors: ArrayLike, mmrs: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    f, m = np.atleast_1d(as_float(floors)), np.atleast_1d(as_float(mmrs))
    if f.ndim != 1 or f.shape != m.shape or f.size == 0:
        raise HedgeInputError("brackets", f"floors and mmrs must be two equal, non-empty lists, got {f.shape} and "
                                          f"{m.shape}")
    if not (np.isfinite(f).all() and np.isfinite(m).all()):
        raise HedgeInputError("brackets", "floors and mmrs must be finite numbers")
    if f[0] != 0 or (f.size > 1 and not (np.diff(f) > 0).all()):
        raise HedgeInputError("brackets", "floors must start at 0 and increase")
    if ((m < 0) | (m >= 1)).any():
        raise HedgeInputError("brackets", "maintenance margin rates must be fractions in [0, 1)")
    return f, m


def maintenance_amounts(floors: ArrayLike, mmrs: ArrayLike) -> np.ndarray:
    """Binance's maintenance amounts: ``cum_n = floor_n * (MMR_n - MMR_{n-1}) + cum_{n-1}``, ``cum_1 = 0``.

    They make the maintenance margin ``value * MMR_n - cum_n`` continuous across levels.

    Parameters
    ----------
    floors : array-like
        Each level's lower bound of position value, ascending from 0 (USD for linear, coin for inverse).
    mmrs : array-like
        Each level's maintenance margin rate, fraction.

    Returns
    -------
    ndarray
        ``cum`` per level, same unit as ``floors``.
    """
    f, m = _check_table(floors, mmrs)
    steps = f * np.diff(m, prepend=0.0)
    return np.cumsum(steps)


def brackets_from_table(floors: ArrayLike, mmrs: ArrayLike, *,
                        max_leverages: Sequence[float | None] | None = None) -> tuple[Bracket, ...]:
    """Brackets from a venue's table of floors and MMRs; caps are the next floor, ``cum`` is computed.

    Parameters
    ----------
    floors, mmrs : array-like
        As in ``maintenance_amounts``.
    max_leverages : sequence of float or None, optional, keyword-only
        Each level's maximum leverage.
    """
    f, m = _check_table(floors, mmrs)
    cum = maintenance_amounts(f, m)
    caps = [*f[1:].tolist(), math.inf]
    levs: Sequence[float | None] = max_leverages if max_leverages is not None else [None] * f.size
    if len(levs) != f.size:
        raise HedgeInputError("brackets", f"max_leverages has {len(levs)} values for {f.size} levels")
    return tuple(Bracket(floor=float(f[i]), cap=float(caps[i]), mmr=float(m[i]),
                         max_leverage=None if levs[i] is None else float(levs[i]),  # type: ignore[arg-type]
                         cum=float(cum[i]))
                 for i in range(f.size))


def single_bracket(mmr: float, *, max_leverage: float | None = None) -> tuple[Bracket, ...]:
    """One level for every size (``cum`` 0): the first-tier approximation of DOMAIN.md's simple formulas."""
    return brackets_from_table([0.0], [mmr], max_leverages=[max_leverage])


BRACKET_FRAME_COLUMNS: tuple[str, ...] = ("floor", "cap", "mmr", "max_leverage", "cum")


def brackets_from_frame(tiers: pd.DataFrame) -> tuple[Bracket, ...]:
    """Brackets from a tier frame (``MarketData.margin_tiers``: floor, cap, mmr, max_leverage, cum).

    Rows are taken in ascending ``floor``; NaN ``max_leverage`` becomes None; ``cum`` is used as given (the
    data source applies the continuity rule where the venue gives none). Extra columns (tier, unit,
    source) are ignored: the caller states whether the unit is a value or a size (``brackets_by``).

    Raises
    ------
    HedgeInputError
        Empty frame, a missing column, non-finite floor/mmr/cum, floors not starting at 0 or overlapping.
    """
    missing = [c for c in BRACKET_FRAME_COLUMNS if c not in tiers.columns]
    if missing:
        raise HedgeInputError("brackets", f"tier table lacks columns {missing}")
    if tiers.empty:
        raise HedgeInputError("brackets", "tier table is empty")
    t = tiers.sort_values("floor", kind="stable")
    floor, cap, mmr, cum = (t[c].to_numpy(dtype="float64") for c in ("floor", "cap", "mmr", "cum"))
    _check_table(floor, mmr)
    if not np.isfinite(cum).all() or np.isnan(cap).any() or (cap <= floor).any() or (cap[:-1] > floor[1:]).any():
        raise HedgeInputError("brackets", "tier table has a missing cum or cap, or tiers that overlap")
    lev = t["max_leverage"].to_numpy(dtype="float64")
    return tuple(Bracket(floor=float(floor[i]), cap=float(cap[i]), mmr=float(mmr[i]),
                         max_leverage=float(lev[i]) if np.isfinite(lev[i]) else None, cum=float(cum[i]))
                 for i in range(len(t)))


def bracket_for(notional: float, brackets: Sequence[Bracket]) -> Bracket:
    """The bracket holding a position: ``floor < notional <= cap`` (0 belongs to the first).

    Parameters
    ----------
    notional : float
        Position value, the brackets' unit (USD for linear, coin for inverse), >= 0.
    brackets : sequence of Bracket
        Ascending by floor (``brackets_from_table``).

    Raises
    ------
    HedgeInputError
        Negative or non-finite notional ("notional"); no bracket holds it, e.g. beyond the last cap
        ("brackets").
    """
    n = _number(notional, "notional")
    if n < 0:
        raise HedgeInputError("notional", f"must be >= 0, got {n:g}")
    for b in brackets:  # ascending: a value on a boundary is the lower bracket's cap
        if b.floor <= n <= b.cap:
            return b
    top = max((b.cap for b in brackets), default=float("nan"))
    raise HedgeInputError("brackets", f"no bracket holds a position value of {_fmt(n)} (largest cap {_fmt(top)}): "
                                      "the position is beyond the venue's limits")


def initial_margin(notional: float, leverage: float) -> float:
    """Initial margin ``notional / leverage``.

    Parameters
    ----------
    notional : float
        The hedge's value in the margin currency: USD for linear contracts; coin for inverse ones
        (``contracts * CV / P0``).
    leverage : float
        >= 1.

    Returns
    -------
    float
        Same unit as ``notional``.
    """
    n = _number(notional, "notional")
    if n < 0:
        raise HedgeInputError("notional", f"must be >= 0, got {n:g}")
    return n / _leverage(leverage)


# -- liquidation --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Liquidation:
    """Liquidation price of an isolated short (``liquidation_short``).

    Attributes
    ----------
    price : float or None
        Mark price at which the position is liquidated (USD); None when it cannot be (see ``reason``).
    distance_pct : float
        ``price / current_price - 1`` as a fraction (0.2 = 20 % above the current price); NaN when None.
    mmr, cum : float
        Maintenance margin rate and amount of the bracket used (the position's value *at the liquidation
        price*, Binance's rule); without a price, the entry bracket's.
    rebracketed : bool
        True when the bracket at the liquidation price differs from the entry's (the formula was re-solved).
    entry_mmr, entry_cum : float
        The entry bracket's rate and amount.
    maintenance_margin : float
        At entry: ``value * entry_mmr - entry_cum`` (``margin_unit``).
    wallet_balance : float
        WB: the isolated margin (``margin_unit``).
    margin_unit : str
        "USD" (linear) or "coin" (inverse), or the settle currency when known.
    formula : str
        The formula with its numbers substituted, for the page.
    reason : str or None
        Why there is no liquidation price.
    """

    price: float | None
    distance_pct: float
    mmr: float
    cum: float
    rebracketed: bool
    entry_mmr: float
    entry_cum: float
    maintenance_margin: float
    wallet_balance: float
    margin_unit: str
    formula: str
    reason: str | None = None


LINEAR_SHORT_FORMULA = "LP = (WB + cum + Q·EP) / (Q·(1 + MMR))"
INVERSE_SHORT_FORMULA = "LP = Q·CS·(1 − MMR) / (Q·CS/EP − WB − cum)"
SIMPLE_LINEAR_FORMULA = "LP = P0·(1 + 1/leverage − MMR)"
SIMPLE_INVERSE_FORMULA = "LP = P0 / (1 − 1/leverage + MMR)"


def _lp_linear(q: float, ep: float, wb: float, b: Bracket) -> float:
    return (wb + b.cum + q * ep) / (q * (1.0 + b.mmr))


# A denominator this small relative to the position's coin value is float noise of an exact 1x (WB = Q·CS/EP):
# no liquidation price, not one at 1e18.
INVERSE_DENOMINATOR_TOLERANCE = 1e-9


def _inverse_denominator(q: float, cs: float, ep: float, wb: float, cum: float) -> float:
    value = q * cs / ep
    den = value - wb - cum
    return den if den > INVERSE_DENOMINATOR_TOLERANCE * value else 0.0


def _lp_inverse(q: float, cs: float, ep: float, wb: float, b: Bracket) -> float | None:
    den = _inverse_denominator(q, cs, ep, wb, b.cum)
    return q * cs * (1.0 - b.mmr) / den if den > 0 else None


def _holds(b: Bracket, value: float) -> bool:
    tol = 1e-9 * max(1.0, abs(value))  # at a boundary both levels give the same price (MM is continuous)
    return b.floor - tol <= value <= b.cap + tol


def _solve(linear: bool, q: float, cs: float, ep: float, wb: float, brackets: Sequence[Bracket],
           entry: Bracket, by_value: bool) -> tuple[float | None, Bracket]:
    """The liquidation price and the bracket holding the position's value there (entry bracket first).

    Equity minus maintenance margin is monotonic in price and MM is continuous across brackets, so exactly
    one bracket is self-consistent; trying the entry's first, then the others, finds it. Size tiers do not
    move with price: the entry's bracket is the one.
    """
    candidates = (entry, *(x for x in brackets if x is not entry)) if by_value else (entry,)
    for b in candidates:
        lp = _lp_linear(q, ep, wb, b) if linear else _lp_inverse(q, cs, ep, wb, b)
        if lp is None or lp <= 0:
            continue
        if not by_value or _holds(b, q * lp if linear else q * cs / lp):
            return lp, b
    if linear:  # worth more than the last cap at every candidate: the last (highest) rate, the earliest price
        top = max(brackets, key=lambda x: x.cap)
        return _lp_linear(q, ep, wb, top), top
    return None, entry


BracketsBy = Literal["value", "size"]
BRACKETS_BY: tuple[str, ...] = ("value", "size")


def _measure_unit(linear: bool, by: str) -> str:
    if by == "size":
        return "base units" if linear else "USD of face value"
    return "USD" if linear else "coin"


def _tier_measure(linear: bool, q: float, cs: float, ep: float, by: str) -> float:
    """What the brackets are keyed on at entry: value (USD linear, coin inverse) or size (base, USD face)."""
    if by not in BRACKETS_BY:
        raise HedgeInputError("brackets_by", f"must be one of {BRACKETS_BY}, got {by!r}")
    if by == "size":
        return q if linear else q * cs
    return q * ep if linear else q * cs / ep


def liquidation_short(*, linear: bool, size: float, entry_price: float, wallet_balance: float,
                      brackets: Sequence[Bracket], contract_size: float = 1.0,
                      current_price: float | None = None, margin_unit: str | None = None,
                      brackets_by: BracketsBy = "value") -> Liquidation:
    """Liquidation price of an isolated, one-way short on Binance's formulas (fees and funding ignored).

    - Linear: ``LP = (WB + cum + Q·EP) / (Q·(1 + MMR))`` with Q base units, WB and cum in USD.
    - Inverse: ``LP = Q·CS·(1 − MMR) / (Q·CS/EP − WB − cum)`` with Q contracts of CS USD, WB and cum in coin.
      A denominator <= 0 means the margin covers the position's coin value: no liquidation price (a 1x
      coin-margined short funded by the coin itself cannot be liquidated on the way up).

    MMR and cum are those of the bracket holding the position's value **at the liquidation price** (USD
    ``Q·LP`` linear, coin ``Q·CS/LP`` inverse); when that is not the entry's bracket the formula is
    re-solved with it (Binance's FAQ note). With ``brackets_by="size"`` (OKX) the bracket is fixed by the
    size. Other venues (OKX, Bybit) differ in detail; real figures also move with fees, funding and
    mark-vs-last.

    Parameters
    ----------
    linear : bool, keyword-only
        True for a USDT/USDC-margined contract, False for an inverse one.
    size : float, keyword-only
        Linear: position in base units (``contracts * contract_size``). Inverse: contracts.
    entry_price : float, keyword-only
        EP, USD (the contract's own price: a future's, not spot).
    wallet_balance : float, keyword-only
        WB, the isolated margin: USD (linear) or coin (inverse), >= 0. With leverage L it is at least the
        initial margin ``value / L``.
    brackets : sequence of Bracket, keyword-only
        The venue's levels in the position's unit (USD linear, coin inverse); ``single_bracket(mmr)`` for
        one rate.
    contract_size : float, keyword-only
        Inverse only: CS, USD per contract (ignored for linear).
    current_price : float, optional, keyword-only
        Mark price for ``distance_pct``; default ``entry_price``.
    margin_unit : str, optional, keyword-only
        Label of WB's currency; default "USD" / "coin".
    brackets_by : "value" or "size", keyword-only
        "value" (default; Binance, Bybit, Deribit tiers in the settle/quote currency or the coin): brackets
        keyed on the position's value. "size" (OKX: tiers in base coin for linear, USD face for inverse):
        keyed on the size, ``Q`` base units or ``Q·CS`` USD; their ``cum`` must be 0 or in the margin unit.

    Returns
    -------
    Liquidation

    Raises
    ------
    HedgeInputError
        size, entry_price, contract_size or current_price not finite and > 0; wallet_balance negative or not
        above the maintenance margin at entry (liquidated at once: leverage beyond the bracket's); no bracket
        holds the entry value.
    """
    q = _positive(size, "size")
    ep = _positive(entry_price, "entry_price", upper=MAX_PRICE_USD, unit=" USD")
    cs = _positive(contract_size, "contract_size") if not linear else 1.0
    wb = _number(wallet_balance, "wallet_balance")
    if wb < 0:
        raise HedgeInputError("wallet_balance", f"must be >= 0, got {wb:g}")
    cur = ep if current_price is None else _positive(current_price, "current_price", upper=MAX_PRICE_USD)
    unit = margin_unit or ("USD" if linear else "coin")
    value = q * ep if linear else q * cs / ep
    entry = bracket_for(_tier_measure(linear, q, cs, ep, brackets_by), brackets)
    mm = value * entry.mmr - entry.cum
    if wb <= mm:
        raise HedgeInputError("wallet_balance", f"{_fmt(wb)} {unit} is not above the maintenance margin at entry "
                                                f"({_fmt(mm)} {unit}): the position would be liquidated at once; "
                                                "add margin or lower the leverage")
    lp, used = _solve(linear, q, cs, ep, wb, brackets, entry, brackets_by == "value")
    if linear:
        formula = (f"{LINEAR_SHORT_FORMULA} = ({_fmt(wb)} + {_fmt(used.cum)} + {_fmt(q)}·{_fmt(ep)}) / "
                   f"({_fmt(q)}·(1 + {_fmt(used.mmr)}))")
    else:
        den = _inverse_denominator(q, cs, ep, wb, used.cum)
        formula = (f"{INVERSE_SHORT_FORMULA} = {_fmt(q)}·{_fmt(cs)}·(1 − {_fmt(used.mmr)}) / "
                   f"({_fmt(q)}·{_fmt(cs)}/{_fmt(ep)} − {_fmt(wb)} − {_fmt(used.cum)})")
        if lp is None:
            formula += f": denominator {_fmt(den)} <= 0"
    reason = None
    if lp is None:
        reason = (f"no liquidation price: the margin ({_fmt(wb)} {unit}) covers the position's coin value at "
                  f"entry ({_fmt(value)} {unit}), so equity stays above maintenance at any higher price "
                  "(a 1x coin-margined short funded by the coin cannot be liquidated on the way up)")
    else:
        formula += f" = {_fmt(lp)}"
    if used is not entry:
        formula += (f" (MMR and cum of the bracket at the liquidation price; the entry bracket has MMR "
                    f"{_fmt(entry.mmr)}, cum {_fmt(entry.cum)})")
    if lp is not None and brackets_by == "value" and linear and q * lp > used.cap:
        formula += (f"; the position would be worth {_fmt(q * lp)} USD there, beyond the last bracket's cap of "
                    f"{_fmt(used.cap)}: its rate is used, and the venue may reduce the position before")
    return Liquidation(
        price=lp, distance_pct=lp / cur - 1.0 if lp is not None else float("nan"), mmr=used.mmr, cum=used.cum,
        rebracketed=used is not entry, entry_mmr=entry.mmr, entry_cum=entry.cum, maintenance_margin=mm,
        wallet_balance=wb, margin_unit=unit, formula=formula, reason=reason,
    )


def liquidation_for_hedge(*, sizing: Sizing, instrument: Instrument, leverage: float,
                          brackets: Sequence[Bracket], entry_price: float | None = None,
                          extra_margin: float = 0.0, current_price: float | None = None,
                          brackets_by: BracketsBy = "value") -> Liquidation:
    """``liquidation_short`` for a sized hedge, funded with its initial margin (plus ``extra_margin``).

    Parameters
    ----------
    sizing : Sizing, keyword-only
        From ``size_hedge``; needs ``contracts > 0``.
    instrument : Instrument, keyword-only
        The contract (linear or inverse, contract size, max leverage).
    leverage : float, keyword-only
        1 .. ``instrument.max_leverage``, and at most the entry bracket's ``max_leverage`` when known.
    brackets : sequence of Bracket, keyword-only
        The venue's levels (``brackets_from_frame`` of the facade's tiers).
    entry_price : float, optional, keyword-only
        The contract's price at entry; default ``sizing.vehicle_price`` (pass a future's own price).
    extra_margin : float, keyword-only
        Margin added beyond the initial margin, in the margin currency (USD linear, coin inverse), >= 0.
    current_price : float, optional, keyword-only
        For the distance; default the entry price.
    brackets_by : "value" or "size", keyword-only
        As in ``liquidation_short``.

    Notes
    -----
    WB = initial margin + extra: linear ``contracts·size·EP / leverage`` USD; inverse
    ``contracts·CV / EP / leverage`` coin.
    """
    if sizing.contracts <= 0:
        raise HedgeInputError("contracts", "no contracts to margin: the hedge rounds to 0")
    lev = _leverage(leverage, cap=instrument.max_leverage)
    ep = sizing.vehicle_price if entry_price is None else _positive(entry_price, "entry_price",
                                                                     upper=MAX_PRICE_USD, unit=" USD")
    extra = _number(extra_margin, "extra_margin")
    if extra < 0:
        raise HedgeInputError("extra_margin", f"must be >= 0, got {extra:g}")
    cs = instrument.contract_size
    size = sizing.contracts * cs if instrument.linear else sizing.contracts
    value = size * ep if instrument.linear else sizing.contracts * cs / ep
    measure = _tier_measure(instrument.linear, size, cs, ep, brackets_by)
    b = bracket_for(measure, brackets)
    if b.max_leverage is not None and lev > b.max_leverage:
        raise HedgeInputError("leverage", f"{lev:g}x is above {b.max_leverage:g}x, the maximum for a position of "
                                          f"{_fmt(measure)} {_measure_unit(instrument.linear, brackets_by)} on "
                                          "this venue")
    wb = initial_margin(value, lev) + extra
    return liquidation_short(linear=instrument.linear, size=size, entry_price=ep, wallet_balance=wb,
                             brackets=brackets, contract_size=cs, current_price=current_price,
                             margin_unit=instrument.settle, brackets_by=brackets_by)


def simple_liquidation_linear(p0: ArrayLike, *, leverage: float, mmr: float) -> Result:
    """DOMAIN.md's simple isolated linear short: ``P0·(1 + 1/leverage − mmr)``.

    It takes maintenance on the entry value (``Q·P0·mmr``) where Binance takes it on the value at the
    liquidation price; with WB = initial margin and cum = 0 it is above the full formula by
    ``P0·mmr·(1/leverage − mmr) / (1 + mmr)`` (equal at mmr = 0). USD; NaN for an invalid price.
    """
    p = as_float(p0)
    lev = _leverage(leverage)
    m = _between(mmr, "mmr", 0.0, 1.0, what="maintenance margin rate")
    out = np.where(positive(p), p * (1.0 + 1.0 / lev - m), np.nan)
    return wrap(out, p0, name="liquidation_price")


def simple_liquidation_inverse(p0: ArrayLike, *, leverage: float, mmr: float) -> Result:
    """DOMAIN.md's simple isolated inverse short: ``P0 / (1 − 1/leverage + mmr)``.

    Maintenance on the entry coin value; with WB = initial margin and cum = 0 the full formula gives
    ``P0·(1 − mmr) / (1 − 1/leverage)`` (equal at mmr = 0; at 1x the full formula has no liquidation price
    while this one gives ``P0 / mmr``). USD; NaN where the denominator is <= 0 or the price invalid.
    """
    p = as_float(p0)
    lev = _leverage(leverage)
    m = _between(mmr, "mmr", 0.0, 1.0, what="maintenance margin rate")
    den = 1.0 - 1.0 / lev + m
    out = np.where(positive(p) & (den > 0), p / den if den > 0 else np.nan, np.nan)
    return wrap(out, p0, name="liquidation_price")


# -- costs --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CostItem:
    """One labelled line of a hedge's cost: ``usd`` > 0 is a cost, < 0 an earning."""

    label: str
    usd: float


@dataclass(frozen=True)
class Roll:
    """A roll of a dated-future hedge at an expiry inside the horizon (``future_cost``).

    Attributes
    ----------
    day : float
        Days from now (the expiry of the contract rolled out of).
    from_symbol, into_symbol : str
    spread_pct : float
        ``(F_next − F_prev) / S0``: the carry today's curve implies between the two expiries.
    days_held, days_to_next_expiry : float
        Days the new contract is held within the horizon, and its life after the roll.
    carry_usd : float
        Cost sign (< 0: earned): ``−notional · spread_pct · days_held / days_to_next_expiry``.
    fee_usd : float
        The extra round trip (close the old, open the new).
    """

    day: float
    from_symbol: str
    into_symbol: str
    spread_pct: float
    days_held: float
    days_to_next_expiry: float
    carry_usd: float
    fee_usd: float


@dataclass(frozen=True)
class CurvePoint:
    """A dated future on today's curve: price (USD), days to expiry from now, symbol (for labels)."""

    price: float
    days_to_expiry: float
    symbol: str = ""


@dataclass(frozen=True)
class HedgeCost:
    """Expected cost of holding a short hedge over a horizon (``perp_cost``, ``future_cost``).

    Attributes
    ----------
    kind : str
        "perp" or "future".
    notional_usd, horizon_days : float
    items : tuple of CostItem
        Labelled lines; they sum to ``expected_cost_usd`` (when it is finite).
    fees_usd : float
        All trading fees (> 0 a cost).
    carry_usd : float
        Funding (perp) or basis (future), cost sign: < 0 the short earns it. NaN when unknown (a horizon
        past the last listed contract).
    expected_cost_usd : float
        ``fees_usd + carry_usd``.
    cost_pct : float
        ``expected_cost_usd / notional_usd``.
    annualized_carry : float
        The short's carry per year, fraction, **> 0 = earned**: funding APR (simple, ``rate · 24 · 365``)
        for a perp; the contract's simple annualized basis ``(F0/S0 − 1) · 365 / days`` for a future.
    rolls : tuple of Roll
        Rolls inside the horizon (futures only).
    note : str or None
        What the page must say beside the figure (negative funding, a roll, unknown carry).
    assumptions : tuple of str
        The modelling assumptions behind the figure, for a caption.
    """

    kind: str
    notional_usd: float
    horizon_days: float
    items: tuple[CostItem, ...]
    fees_usd: float
    carry_usd: float
    expected_cost_usd: float
    cost_pct: float
    annualized_carry: float
    rolls: tuple[Roll, ...] = ()
    note: str | None = None
    assumptions: tuple[str, ...] = ()


FEE_ASSUMPTION = ("fees: one taker fill to open now and one to close at the horizon, both on today's notional "
                  "(2 × bps); each roll adds one more round trip")


def _fee_item(notional: float, bps: float, round_trips: int = 1, label: str | None = None) -> CostItem:
    usd = notional * bps / BPS * ROUND_TRIP_SIDES * round_trips
    return CostItem(label or f"Trading fees: open + close, 2 × {bps:g} bps", usd)


def perp_cost(*, notional_usd: float, horizon_days: float, taker_bps: float, funding_rate_per_hour: float
              ) -> HedgeCost:
    """Expected cost of a perpetual short hedge over ``horizon_days``.

    - fees = ``notional · taker_bps / 1e4 · 2`` (open now, close at the horizon);
    - funding received by the short = ``notional · rate_per_hour · 24 · D`` (rate > 0: longs pay shorts);
    - expected cost = fees − funding. Negative funding makes the perp cost money (the ``note`` says so).

    Parameters
    ----------
    notional_usd : float, keyword-only
        The short's notional (``Sizing.hedge_notional_usd``), USD, > 0.
    horizon_days : float, keyword-only
        D, days (0 < D <= 3650).
    taker_bps : float, keyword-only
        Fee per fill, bps (negative = rebate).
    funding_rate_per_hour : float, keyword-only
        Expected funding per hour, fraction (``rate / interval_hours``, or ``rate_8h / 8``; the recent
        average or the current rate, the user's choice). Held constant over the horizon.
    """
    n = _positive(notional_usd, "notional_usd", upper=MAX_NOTIONAL_USD, unit=" USD")
    d = _horizon(horizon_days)
    bps = _fee(taker_bps)
    rate = _between(funding_rate_per_hour, "funding_rate_per_hour", -MAX_FUNDING_RATE_PER_HOUR,
                    MAX_FUNDING_RATE_PER_HOUR, what="fraction per hour")
    fee = _fee_item(n, bps)
    received = n * rate * HOURS_PER_DAY * d
    rate_8h = rate * af.STANDARD_INTERVAL_HOURS
    label = (f"Funding over {d:g} days at {rate_8h:.4%} per 8h: the short receives it" if rate >= 0 else
             f"Funding over {d:g} days at {rate_8h:.4%} per 8h: the short pays it")
    funding = CostItem(label, -received)
    note = None
    if rate < 0:
        note = (f"Funding is negative ({rate_8h:.4%} per 8h): shorts pay longs, so this perp hedge costs "
                f"{-received:,.2f} USD of funding over {d:g} days")
    carry = funding.usd
    total = fee.usd + carry
    return HedgeCost(
        kind="perp", notional_usd=n, horizon_days=d, items=(fee, funding), fees_usd=fee.usd, carry_usd=carry,
        expected_cost_usd=total, cost_pct=total / n, annualized_carry=rate * HOURS_PER_YEAR, note=note,
        assumptions=(FEE_ASSUMPTION, "funding: the expected hourly rate held for the whole horizon, paid on "
                                     "today's notional (simple, not compounded)"),
    )


def _curve(future_price: float, days_to_expiry: float, symbol: str,
           next_contracts: Sequence[CurvePoint]) -> list[CurvePoint]:
    chain = [CurvePoint(_positive(future_price, "future_price", upper=MAX_PRICE_USD, unit=" USD"),
                        _positive(days_to_expiry, "days_to_expiry"), symbol)]
    for i, c in enumerate(next_contracts):
        field = f"next_contracts[{i}]"
        price = _positive(c.price, f"{field}.price", upper=MAX_PRICE_USD, unit=" USD")
        days = _positive(c.days_to_expiry, f"{field}.days_to_expiry")
        if days <= chain[-1].days_to_expiry:
            raise HedgeInputError(f"{field}.days_to_expiry", f"must expire after the previous contract "
                                                             f"({chain[-1].days_to_expiry:g} days), got {days:g}")
        chain.append(CurvePoint(price, days, c.symbol))
    return chain


def future_cost(*, notional_usd: float, horizon_days: float, taker_bps: float, spot_price: float,
                future_price: float, days_to_expiry: float, symbol: str = "",
                next_contracts: Sequence[CurvePoint] = ()) -> HedgeCost:
    """Expected cost of a dated-future short hedge over ``horizon_days``, with rolls at today's curve.

    - fees: as ``perp_cost`` (2 × bps on the notional), plus one round trip per roll;
    - basis earned by the short = ``(F0 − S0) / S0 · notional`` (contango: earned; backwardation: paid),
      accrued **linearly** to the horizon when D < days to expiry (the basis is assumed to converge to 0 in
      a straight line; the real basis at the horizon is a market price), in full at expiry;
    - a contract expiring inside the horizon (days < D) **rolls** into the next one of ``next_contracts``.
      The carry of each later leg is the calendar spread today's curve implies between the two expiries,
      ``(F_next − F_prev) / S0 · notional`` (selling that spread today would lock it), accrued pro rata over
      the days held within the horizon; each roll adds one round-trip fee. The legs add up to holding the
      last contract from today: carry is additive along the curve.
    - a horizon past the last listed contract has unknown carry: ``carry_usd`` and the total are NaN and
      the ``note`` says how many days are uncovered.

    Parameters
    ----------
    notional_usd : float, keyword-only
        The short's notional (``Sizing.hedge_notional_usd``), USD; kept the same through rolls.
    horizon_days : float, keyword-only
        D, days.
    taker_bps : float, keyword-only
        Fee per fill, bps.
    spot_price : float, keyword-only
        S0, the index / spot price, USD.
    future_price : float, keyword-only
        F0, the contract hedged with, USD.
    days_to_expiry : float, keyword-only
        Its days to expiry (> 0; ``analytics.basis.days_to_expiry``).
    symbol : str, keyword-only
        Its symbol, for labels.
    next_contracts : sequence of CurvePoint, keyword-only
        Later contracts on today's curve, ascending in expiry, to roll into.

    Returns
    -------
    HedgeCost
        ``annualized_carry`` = ``(F0/S0 − 1) · 365 / days_to_expiry`` (simple, ACT/365).
    """
    n = _positive(notional_usd, "notional_usd", upper=MAX_NOTIONAL_USD, unit=" USD")
    d = _horizon(horizon_days)
    bps = _fee(taker_bps)
    s0 = _positive(spot_price, "spot_price", upper=MAX_PRICE_USD, unit=" USD")
    chain = _curve(future_price, days_to_expiry, symbol, next_contracts)
    items = [_fee_item(n, bps)]
    fees = items[0].usd
    rolls: list[Roll] = []
    carry = 0.0
    prev_price, prev_day = s0, 0.0
    first = chain[0]
    for i, c in enumerate(chain):
        life = c.days_to_expiry - prev_day
        held = min(d, c.days_to_expiry) - prev_day
        spread = (c.price - prev_price) / s0
        leg = -n * spread * held / life
        carry += leg
        if i == 0:
            when = "in full at expiry" if held >= life else f"{held:g} of {life:g} days, linear convergence"
            items.append(CostItem(f"Basis {spread:+.4%} of spot ({when}): the short "
                                  f"{'earns' if spread >= 0 else 'pays'} it", leg))
        else:
            prev = chain[i - 1]
            fee = _fee_item(n, bps, label=f"Roll on day {prev_day:g} into {c.symbol or 'the next contract'}: "
                                          "one more round trip")
            fees += fee.usd
            rolls.append(Roll(day=prev_day, from_symbol=prev.symbol, into_symbol=c.symbol, spread_pct=spread,
                              days_held=held, days_to_next_expiry=life, carry_usd=leg, fee_usd=fee.usd))
            items += [fee, CostItem(f"Roll carry: calendar spread {spread:+.4%} of spot, {held:g} of {life:g} "
                                    "days", leg)]
        if d <= c.days_to_expiry:
            break
        prev_price, prev_day = c.price, c.days_to_expiry
    notes = []
    if rolls:
        notes.append(f"{first.symbol or 'The contract'} expires in {first.days_to_expiry:g} days, inside the "
                     f"{d:g}-day horizon: the hedge rolls {len(rolls)} time(s) at today's curve")
    uncovered = d - chain[-1].days_to_expiry
    if uncovered > 0:
        carry = float("nan")
        notes.append(f"The horizon runs {uncovered:g} days past the last listed contract "
                     f"({chain[-1].days_to_expiry:g} days): carry unknown; add a later contract or shorten "
                     "the horizon")
    total = fees + carry
    return HedgeCost(
        kind="future", notional_usd=n, horizon_days=d, items=tuple(items), fees_usd=fees, carry_usd=carry,
        expected_cost_usd=total, cost_pct=total / n,
        annualized_carry=(first.price / s0 - 1.0) * DAYS_PER_YEAR / first.days_to_expiry,
        rolls=tuple(rolls), note="; ".join(notes) or None,
        assumptions=(FEE_ASSUMPTION,
                     "basis: converges linearly to 0 at expiry; accrued pro rata to the horizon",
                     "rolls: at today's curve (the calendar spread between expiries), same notional"),
    )


CANDIDATE_COLUMNS: tuple[str, ...] = (
    "venue",
    "symbol",
    "kind",  # "perp" | "future"
    "taker_bps",  # fee per fill, bps
    "funding_rate_per_hour",  # perps: expected funding per hour, fraction (> 0: the short earns); futures NaN
    "spot_price",  # futures: S0, USD
    "future_price",  # futures: F0, USD
    "days_to_expiry",  # futures: days; perps NaN
)
OPTIONAL_CANDIDATE_COLUMNS: tuple[str, ...] = (
    "notional_usd",  # the row's hedge notional after its own rounding; default the notional_usd argument
    "next_symbol",  # futures: the contract to roll into when it expires inside the horizon
    "next_future_price",
    "next_days_to_expiry",
    "next_curve",  # futures: every later contract as a sequence of CurvePoint (wins over the three above)
)
RANK_COLUMNS: tuple[str, ...] = (
    "fees_usd",  # > 0 a cost
    "carry_usd",  # funding or basis, cost sign (< 0 earned)
    "expected_cost_usd",  # fees + carry; NaN when unknown or the row is invalid
    "cost_pct",  # of the row's notional
    "annualized_carry",  # > 0 earned, fraction per year
    "rolls",  # rolls inside the horizon
    "note",  # why a figure is missing, negative funding, rolls; None when nothing to say
    "rank",  # 1 = cheapest; NaN cost rows last (rank still assigned)
    "best",  # True on the cheapest row with a finite cost
)


def row_cost(row: pd.Series | dict, notional: float, horizon_days: float) -> HedgeCost:
    """The ``HedgeCost`` of one candidate row (``rank_hedges``' figures for it, with all its lines)."""
    return _row_cost(row if isinstance(row, pd.Series) else pd.Series(row, dtype="object"), notional, horizon_days)


def _row_cost(row: pd.Series, notional: float, horizon_days: float) -> HedgeCost:
    n = row.get("notional_usd", notional)
    n = notional if n is None or pd.isna(n) else float(n)
    if row["kind"] == "perp":
        return perp_cost(notional_usd=n, horizon_days=horizon_days, taker_bps=float(row["taker_bps"]),
                         funding_rate_per_hour=float(row["funding_rate_per_hour"]))
    if row["kind"] != "future":
        raise HedgeInputError("kind", f"must be one of {KINDS}, got {row['kind']!r}")
    nxt: list[CurvePoint] = []
    curve = row.get("next_curve")
    if isinstance(curve, list | tuple) and curve:
        nxt = list(curve)
    elif pd.notna(row.get("next_future_price")) and pd.notna(row.get("next_days_to_expiry")):
        sym = row.get("next_symbol")
        nxt.append(CurvePoint(float(row["next_future_price"]), float(row["next_days_to_expiry"]),
                              "" if sym is None or pd.isna(sym) else str(sym)))
    return future_cost(notional_usd=n, horizon_days=horizon_days, taker_bps=float(row["taker_bps"]),
                       spot_price=float(row["spot_price"]), future_price=float(row["future_price"]),
                       days_to_expiry=float(row["days_to_expiry"]), symbol=str(row["symbol"]),
                       next_contracts=nxt)


def rank_hedges(candidates: pd.DataFrame, *, notional_usd: float, horizon_days: float) -> pd.DataFrame:
    """Candidate hedges ranked by expected cost over the horizon, cheapest first, the best one marked.

    Parameters
    ----------
    candidates : DataFrame
        One row per venue / instrument / margin type with ``CANDIDATE_COLUMNS`` (and optionally
        ``OPTIONAL_CANDIDATE_COLUMNS``); other columns (e.g. "margin": "linear" / "inverse") pass through.
        Perps use ``funding_rate_per_hour``; futures use spot/future price, days to expiry and the optional
        next contract (``perp_cost`` and ``future_cost`` define the figures). Not mutated.
    notional_usd : float, keyword-only
        Hedge notional (USD) for rows without their own ``notional_usd``.
    horizon_days : float, keyword-only
        D, days.

    Returns
    -------
    DataFrame
        The candidate columns plus ``RANK_COLUMNS``, sorted by ``expected_cost_usd`` ascending (ties keep
        input order), NaN costs last; index reset. A row with an invalid input keeps NaN figures and its
        error in ``note`` rather than failing the table.

    Raises
    ------
    HedgeInputError
        A required column is missing ("candidates"); invalid notional_usd or horizon_days.
    """
    missing = [c for c in CANDIDATE_COLUMNS if c not in candidates.columns]
    if missing:
        raise HedgeInputError("candidates", f"missing columns {missing}")
    _positive(notional_usd, "notional_usd", upper=MAX_NOTIONAL_USD, unit=" USD")
    d = _horizon(horizon_days)
    candidates = candidates.drop(columns=[c for c in RANK_COLUMNS if c in candidates.columns])
    rows = []
    for _, row in candidates.iterrows():
        try:
            c = _row_cost(row, notional_usd, d)
            rows.append((c.fees_usd, c.carry_usd, c.expected_cost_usd, c.cost_pct, c.annualized_carry,
                         len(c.rolls), c.note))
        except (HedgeInputError, TypeError, ValueError) as e:
            nan = float("nan")
            rows.append((nan, nan, nan, nan, nan, 0, f"invalid input: {e}"))
    figures = pd.DataFrame(rows, columns=list(RANK_COLUMNS[:-2]), index=candidates.index)
    figures = figures.astype({c: "float64" for c in RANK_COLUMNS[:5]}).astype({"rolls": "int64"})
    out = pd.concat([candidates, figures], axis=1)
    out = out.sort_values("expected_cost_usd", kind="stable", na_position="last").reset_index(drop=True)
    out["rank"] = np.arange(1, len(out) + 1, dtype="int64")
    finite = np.isfinite(out["expected_cost_usd"].to_numpy(dtype="float64"))
    out["best"] = False
    if finite.any():
        out.loc[int(np.flatnonzero(finite)[0]), "best"] = True
    return out


# -- scenarios ----------------------------------------------------------------------------------------------
SCENARIO_COLUMNS: tuple[str, ...] = (
    "move",  # the vehicle's price move, fraction (the held asset's for a direct hedge)
    "price",  # held asset's price: p0 · (1 + beta · move), floored at 0
    "vehicle_price",  # the shorted asset's price: vehicle_price · (1 + move) (= price for a direct hedge)
    "spot_pnl",  # quantity · (price − p0), USD
    "hedge_pnl",  # the short's P&L on the move, USD (inverse: the coin P&L valued at the scenario price)
    "carry",  # funding or basis over the horizon as P&L (> 0 earned): −carry_usd
    "fees",  # −fees_usd
    "net",  # spot_pnl + hedge_pnl + carry + fees
    "net_pct",  # net / (quantity · p0)
    "residual_1sd",  # 1-sd residual P&L of a proxy hedge over the horizon, USD; NaN without residual_vol
)


def _moves(moves: ArrayLike) -> np.ndarray:
    m = np.atleast_1d(as_float(moves))
    if m.ndim != 1 or m.size == 0 or not np.isfinite(m).all():
        raise HedgeInputError("moves", "must be a non-empty list of finite fractions")
    if (m <= -1).any() or (m > MAX_MOVE).any():
        raise HedgeInputError("moves", f"must be fractions above -1 (a price cannot fall 100 %) and at most "
                                       f"{MAX_MOVE:g}, got {m.min():g} .. {m.max():g}")
    return m


def scenario_table(*, quantity: float, p0: float, sizing: Sizing, instrument: Instrument,
                   moves: ArrayLike = DEFAULT_MOVES, carry_usd: float = 0.0, fees_usd: float = 0.0,
                   beta: float | None = None, residual_vol: float | None = None, horizon_days: float | None = None,
                   observations_per_day: float = 1.0) -> pd.DataFrame:
    """P&L of the hedged holding across price moves (DOMAIN.md scenario table).

    Parameters
    ----------
    quantity : float, keyword-only
        Holding, base units (usually ``sizing.quantity``).
    p0 : float, keyword-only
        Its price today, USD (usually ``sizing.price``).
    sizing : Sizing, keyword-only
        The hedge (``size_hedge``): contracts and the vehicle's price today.
    instrument : Instrument, keyword-only
        The contract: linear P&L ``−contracts·size·(P1 − P0)``; inverse ``contracts·CV·(1/P1 − 1/P0)``
        coin, valued in USD at P1 (non-linear).
    moves : array-like, keyword-only
        Price moves of the vehicle, fractions in (-1, 10]; default ``DEFAULT_MOVES`` (-50 % .. +50 %, 5 %
        steps). For a proxy hedge the held asset's expected move is ``beta · move`` (its price floored at 0:
        the linear beta model cannot take an asset below nothing).
    carry_usd, fees_usd : float, keyword-only
        Over the horizon, **cost sign** as in ``HedgeCost`` (> 0 a cost): the table shows them as P&L
        (``carry = −carry_usd``, ``fees = −fees_usd``), the same in every row (computed on today's notional).
        The hedge P&L is the move of the underlying; a future's basis convergence is in ``carry``.
    beta : float, optional, keyword-only
        Default ``sizing.beta``.
    residual_vol : float, optional, keyword-only
        Std of the proxy regression's residual returns per observation (fraction, e.g. daily). Gives
        ``residual_1sd = quantity · p0 · residual_vol · sqrt(horizon_days · observations_per_day)``: the
        hedge is only as good as the beta.
    horizon_days : float, optional, keyword-only
        Required with ``residual_vol``.
    observations_per_day : float, keyword-only
        Observations per day of ``residual_vol`` (1 for daily returns; 1/7 for weekly; trading-day data
        over calendar days: 5/7).

    Returns
    -------
    DataFrame
        ``SCENARIO_COLUMNS``, one row per move, float64. Margin collateral is not in it.
    """
    q = _positive(quantity, "quantity")
    p = _positive(p0, "p0", upper=MAX_PRICE_USD, unit=" USD")
    m = _moves(moves)
    cv = sizing.vehicle_price * instrument.contract_size if instrument.linear else instrument.contract_size
    if not math.isclose(cv, sizing.contract_value_usd, rel_tol=1e-9):
        raise HedgeInputError("instrument", f"{instrument.symbol} is not the contract this sizing was made for "
                                            f"({_fmt(cv)} vs {_fmt(sizing.contract_value_usd)} USD per contract)")
    b = sizing.beta if beta is None else _positive(beta, "beta", upper=MAX_BETA)
    carry = _number(carry_usd, "carry_usd")
    fees = _number(fees_usd, "fees_usd")
    vp0 = sizing.vehicle_price
    vp1 = vp0 * (1.0 + m)
    price = p * np.maximum(1.0 + b * m, 0.0)
    spot = q * (price - p)
    if instrument.linear:
        hedge = np.asarray(short_pnl_linear(sizing.contracts, instrument.contract_size, vp0, vp1))
    else:
        hedge = np.asarray(short_pnl_inverse(sizing.contracts, instrument.contract_size, vp0, vp1).usd)
    residual = float("nan")
    if residual_vol is not None:
        vol = _number(residual_vol, "residual_vol")
        if vol < 0:
            raise HedgeInputError("residual_vol", f"must be >= 0, got {vol:g}")
        if horizon_days is None:
            raise HedgeInputError("horizon_days", "needed with residual_vol (the residual grows with time)")
        obs = _horizon(horizon_days) * _positive(observations_per_day, "observations_per_day")
        residual = q * p * vol * math.sqrt(obs)
    net = spot + hedge - carry - fees
    out = pd.DataFrame({
        "move": m, "price": price, "vehicle_price": vp1 if sizing.proxy else price, "spot_pnl": spot,
        "hedge_pnl": hedge, "carry": -carry, "fees": -fees, "net": net, "net_pct": net / (q * p),
        "residual_1sd": residual,
    })
    return out[list(SCENARIO_COLUMNS)].astype("float64")


# -- warnings -----------------------------------------------------------------------------------------------
def _funding_warning(rate_8h: float | None, threshold: float, instrument: Instrument | None) -> list[str]:
    if instrument is not None and instrument.kind != "perp":
        return []  # a dated future pays no funding
    if rate_8h is None or not math.isfinite(rate_8h) or rate_8h >= -threshold:
        return []
    return [f"Costly drag: funding is {rate_8h:.4%} per 8h ({rate_8h * 3 * DAYS_PER_YEAR:.1%} a year), so the "
            f"short pays it, beyond the {threshold:.4%} per 8h threshold; the cost may exceed the risk hedged "
            "(seed 003): consider a dated future or a smaller hedge"]


def _rounding_warning(sizing: Sizing | None, threshold: float) -> list[str]:
    if sizing is None or not math.isfinite(sizing.residual_fraction):
        return []
    if abs(sizing.residual_fraction) <= threshold:
        return []
    side = "unhedged" if sizing.residual_fraction > 0 else "over-hedged"
    text = (f"Contract rounding leaves {abs(sizing.residual_fraction):.1%} of the target {side} "
            f"({sizing.residual_coin:+.6g} coin, {sizing.residual_usd:+,.2f} USD), above {threshold:.0%}")
    return [f"{text}: {sizing.note}" if sizing.note else text]


def _liquidation_warning(liq: Liquidation | None, distance: float) -> list[str]:
    if liq is None or liq.price is None or not math.isfinite(liq.distance_pct) or liq.distance_pct >= distance:
        return []
    return [f"Liquidation at {liq.price:,.2f} is only {liq.distance_pct:.1%} above the current price (threshold "
            f"{distance:.0%}): add margin or lower the leverage"]


def _beta_warnings(beta: float | None, observations: int | None, rolling: ArrayLike | None, min_obs: int,
                   max_cv: float) -> list[str]:
    out = []
    if observations is not None and observations < min_obs:
        out.append(f"Beta rests on {observations} observations (fewer than {min_obs}): too short a history to "
                   "size a proxy hedge on")
    if rolling is not None:
        r = np.atleast_1d(as_float(rolling))
        r = r[np.isfinite(r)]
        ref = beta if beta is not None else (float(np.mean(r)) if r.size else float("nan"))
        if r.size >= 2 and math.isfinite(ref) and ref != 0:
            cv = float(np.std(r, ddof=1)) / abs(ref)
            if cv > max_cv:
                out.append(f"Beta is unstable: its rolling values vary by {cv:.0%} of the beta used (sample std "
                           f"/ |beta|, threshold {max_cv:.0%}): the hedge is only as good as the beta")
    return out


def _expiry_warning(instrument: Instrument | None, horizon_days: float | None, days_to_expiry: float | None,
                    now: pd.Timestamp | None) -> list[str]:
    if instrument is None or instrument.kind != "future" or horizon_days is None:
        return []
    days = days_to_expiry
    if days is None and now is not None:
        days = float(ab.days_to_expiry(instrument.expiry, now=now))  # type: ignore[arg-type]
    if days is None or not math.isfinite(days) or days >= horizon_days:
        return []
    return [f"{instrument.symbol} expires in {days:.1f} days, inside the {horizon_days:g}-day horizon: the hedge "
            "must be rolled (costs include a roll at today's curve and its fees)"]


def hedge_warnings(*, sizing: Sizing | None = None, funding_rate_8h: float | None = None,
                   liquidation: Liquidation | None = None, instrument: Instrument | None = None,
                   horizon_days: float | None = None, days_to_expiry: float | None = None,
                   now: pd.Timestamp | None = None, beta_observations: int | None = None,
                   beta_rolling: ArrayLike | None = None,
                   funding_threshold_8h: float = FUNDING_DRAG_RATE_8H,
                   residual_threshold: float = RESIDUAL_WARN_FRACTION,
                   liquidation_distance: float = LIQUIDATION_WARN_DISTANCE,
                   min_beta_observations: int = MIN_BETA_OBSERVATIONS,
                   max_beta_cv: float = MAX_BETA_CV) -> list[str]:
    """Plain-sentence warnings for the page; each check runs only when its inputs are given.

    Parameters
    ----------
    sizing : Sizing, optional, keyword-only
        Rounding: ``|residual_fraction| > residual_threshold`` (default 5 %) warns, under- or over-hedged,
        with the sizing's note (e.g. no hedge below the minimum order). Its beta is the reference of the
        stability check.
    funding_rate_8h : float, optional, keyword-only
        The perp's expected funding per 8 h (fraction, > 0: longs pay). Seed 003's "costly drag": warns when
        the **short pays** beyond the threshold, i.e. ``rate_8h < −funding_threshold_8h`` (default 0.01 %).
    liquidation : Liquidation, optional, keyword-only
        Warns when ``distance_pct < liquidation_distance`` (default 20 %).
    instrument, horizon_days, days_to_expiry, now : optional, keyword-only
        A dated future expiring inside the horizon warns (days from ``days_to_expiry``, else from the
        instrument's expiry and ``now``).
    beta_observations : int, optional, keyword-only
        Returns behind the beta: fewer than ``min_beta_observations`` (default 60) warns.
    beta_rolling : array-like, optional, keyword-only
        Rolling beta values (e.g. a 30-observation rolling beta over the window). Unstable when
        ``std(rolling, ddof=1) / |beta| > max_beta_cv`` (default 0.25), beta = ``sizing.beta`` or the
        rolling mean; needs two finite values.

    Returns
    -------
    list of str
        In the order funding, rounding, liquidation, beta, expiry; empty when all is well.
    """
    return [
        *_funding_warning(funding_rate_8h, funding_threshold_8h, instrument),
        *_rounding_warning(sizing, residual_threshold),
        *_liquidation_warning(liquidation, liquidation_distance),
        *_beta_warnings(sizing.beta if sizing is not None else None, beta_observations, beta_rolling,
                        min_beta_observations, max_beta_cv),
        *_expiry_warning(instrument, horizon_days, days_to_expiry, now),
    ]
