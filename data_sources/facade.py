"""``MarketData``: the one facade pages call. Validate -> fetch (cached, fanned out) -> tidy frames.

Each method answers for many venues concurrently: a page's wall time is bounded by the slowest venue's
chain of dependent calls (markets -> quotes), not by their sum. A failing venue never fails the call while
another answered; it is named in ``FrameResult.errors``. Values served stale after a failed refresh are
named in ``FrameResult.stale`` with their age.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeAlias

import pandas as pd

from data_sources import calendars, frames, margin
from data_sources.cache import Cached, DataCache, ttl_until
from data_sources.clients import ClientPool
from data_sources.config import Proxy, Settings
from data_sources.errors import DataSourceError, EmptyResultError, InvalidQueryError, UnsupportedError, plain_reason
from data_sources.simulated.market import SCENARIOS, SimMarket
from data_sources.venues import DERIVATIVE_VENUES, VENUES, Contract, family_of
from data_sources.venues.base import MarginTier, Quote

HOUR_MS = 3_600_000
REASON_DETAIL_CHARS = 220  # the exchange's own words after the plain lead; the full text is in the log
# Venues publish a settled funding rate up to a minute or two after the hour: an open-ended history
# fetched that early may lack the newest row, so it is kept only briefly instead of until the next hour.
SETTLEMENT_GRACE_MS = 120_000
SETTLEMENT_GRACE_TTL_S = 30.0
# Likewise a candle that closed less than a minute ago may still be revised by the venue.
CANDLE_GRACE_MS = 60_000
CANDLE_GRACE_TTL_S = 30.0
DAY_MS = 86_400_000
MAX_HISTORY_DAYS = 366
# Candles may reach further back (the correlation page's 1-year band of a 90-observation correlation over a
# 1-year lookback needs about 2.5 years of daily closes); the candle count cap below still applies.
MAX_CANDLE_HISTORY_DAYS = 5 * 366
TIMEFRAMES_MS: dict[str, int] = {
    "1m": 60_000,
    "5m": 300_000,
    "15m": 900_000,
    "1h": HOUR_MS,
    "4h": 4 * HOUR_MS,
    "1d": DAY_MS,
}
PRICE_FIELDS = ("last", "mark", "index", "premium_index")
SPOT_VENUE = "binance"
_BASE_RE = re.compile(r"^[A-Z0-9]{2,12}$")

TimeLike: TypeAlias = pd.Timestamp | datetime | str | int | float


@dataclass(frozen=True)
class FrameResult:
    """A frame and where it came from.

    Attributes
    ----------
    frame : pd.DataFrame
        The data (columns per method, see ``data_sources.frames``).
    source : str
        ``"demo"`` or ``"live"``.
    fetched_at : pd.Timestamp
        Oldest fetch time among the parts (UTC): the data are at least this old.
    errors : dict[str, str]
        Venue -> why it is missing.
    stale : dict[str, float]
        Venue -> age in seconds of a value served after its refresh failed.
    versions : tuple[int, ...]
        The cache's fetch number of every part (``Cached.version``): new numbers mean new upstream data.
    """

    frame: pd.DataFrame
    source: str
    fetched_at: pd.Timestamp
    errors: dict[str, str] = field(default_factory=dict)
    stale: dict[str, float] = field(default_factory=dict)
    versions: tuple[int, ...] = ()

    @property
    def age_s(self) -> float:
        return max(0.0, (pd.Timestamp.now(tz="UTC") - self.fetched_at).total_seconds())

    @property
    def token(self) -> tuple[Any, ...]:
        """A hashable name of exactly this data: equal tokens, equal frames (and equal errors and staleness).

        Pages key the results they derive from the data on it (``components.derived``), so a rerun on
        unchanged data reuses them. The fetch numbers identify the cached parts; the frame's length and first
        and last times identify the window cut from them (rows are sorted and unique per time).
        """
        ts = self.frame["ts"] if "ts" in self.frame.columns and len(self.frame) else None
        span = (int(ts.iloc[0].value), int(ts.iloc[-1].value)) if ts is not None else ()
        return (self.source, self.versions, len(self.frame), span, tuple(sorted(self.errors)),
                tuple(sorted(self.stale)))


def to_ms(value: TimeLike, *, name: str) -> int:
    """A timestamp (Timestamp, datetime, ISO string, or epoch ms) as UTC epoch ms; naive means UTC."""
    if isinstance(value, bool):
        raise InvalidQueryError(f"{name} must be a time, not {value!r}")
    if isinstance(value, int | float):
        return int(value)
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError) as e:
        raise InvalidQueryError(f"{name} is not a valid time: {value!r}") from e
    if ts is pd.NaT or pd.isna(ts):
        raise InvalidQueryError(f"{name} is not a valid time: {value!r}")
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return int(ts.value // 1_000_000)


class MarketData:
    """The data-source facade for one source (demo or live). Thread-safe; one per server process.

    Parameters
    ----------
    source : str
        ``"demo"`` or ``"live"``.
    pool : ClientPool
        The ccxt clients.
    cache : DataCache
        TTL caches with single flight and stale-on-error.
    settings : Settings
        Venues and TTLs.
    market : SimMarket, optional
        The simulated market behind demo clients (its clock is the data clock).
    """

    def __init__(
        self,
        *,
        source: str,
        pool: ClientPool,
        cache: DataCache,
        settings: Settings,
        market: SimMarket | None = None,
        max_workers: int = 16,
    ) -> None:
        self.source = source
        self.pool = pool
        self.cache = cache
        self.settings = settings
        self.market = market
        self._executor = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="carrydesk-io")

    # -- identity ------------------------------------------------------------------------------------------
    @property
    def scenario(self) -> str | None:
        return self.market.scenario if self.market is not None else None

    @property
    def source_label(self) -> str:
        if self.source == "demo":
            return f"Simulated exchanges — scenario: {self.scenario}"
        return "Live exchanges"

    @property
    def scenario_description(self) -> str | None:
        return SCENARIOS[self.market.scenario].description if self.market is not None else None

    @property
    def venues(self) -> tuple[str, ...]:
        return tuple(v for v in DERIVATIVE_VENUES if v in self.settings.venues)

    @staticmethod
    def venue_label(venue: str) -> str:
        spec = VENUES.get(venue)
        return spec.label if spec else venue

    def now_ms(self) -> int:
        """The data clock: the simulated market's in demo mode, the wall clock live."""
        return self.market.now_ms() if self.market is not None else time.time_ns() // 1_000_000

    def now(self) -> pd.Timestamp:
        return pd.Timestamp(self.now_ms(), unit="ms", tz="UTC")

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        self.pool.close()

    # -- validation ----------------------------------------------------------------------------------------
    def _check_venues(self, venues: Sequence[str] | None) -> tuple[str, ...]:
        if venues is None:
            return self.venues
        chosen = tuple(dict.fromkeys(venues))
        unknown = [v for v in chosen if v not in self.venues]
        if unknown:
            raise InvalidQueryError(f"unknown exchange(s) {unknown}; choose from {list(self.venues)}")
        if not chosen:
            raise InvalidQueryError("choose at least one exchange")
        return chosen

    @staticmethod
    def _check_base(base: str) -> str:
        if not isinstance(base, str) or not _BASE_RE.match(base.strip().upper()):
            raise InvalidQueryError(f"not a valid base asset: {base!r}")
        return base.strip().upper()

    def _window(self, start: TimeLike, until: TimeLike | None, *,
                max_days: int = MAX_HISTORY_DAYS) -> tuple[int, int, bool]:
        """(start_ms, end_ms, open_ended): ``until`` defaults to now and is capped at now."""
        now = self.now_ms()
        start_ms = to_ms(start, name="start")
        open_ended = until is None
        end_ms = now if until is None else min(to_ms(until, name="until"), now)
        if start_ms >= end_ms:
            raise InvalidQueryError("the window is empty: start must be before until (and before now)")
        if end_ms - start_ms > max_days * DAY_MS:
            raise InvalidQueryError(f"the window is longer than {max_days} days")
        return start_ms, end_ms, open_ended

    # -- fan-out -------------------------------------------------------------------------------------------
    def _fan_out(
        self, venues: Sequence[str], work: Callable[[str], Cached[pd.DataFrame]]
    ) -> tuple[list[pd.DataFrame], dict[str, str], dict[str, float], list[pd.Timestamp], list[int]]:
        futures = {v: self._executor.submit(work, v) for v in venues}
        parts: list[pd.DataFrame] = []
        errors: dict[str, str] = {}
        stale: dict[str, float] = {}
        fetched: list[pd.Timestamp] = []
        versions: list[int] = []
        raised: list[DataSourceError] = []
        for venue, fut in futures.items():
            try:
                cached = fut.result()
            except DataSourceError as e:
                errors[venue] = _reason(e)
                raised.append(e)
                continue
            parts.append(cached.value)
            fetched.append(pd.Timestamp(cached.fetched_at))
            versions.append(cached.version)
            if cached.stale:
                stale[venue] = cached.age_s
                errors.setdefault(venue, f"refresh failed, showing data {cached.age_s:.0f} s old: {cached.error}")
        if not parts:
            if len(raised) == 1:  # a single-venue question: its own error says it best
                raise raised[0]
            detail = "; ".join(f"{self.venue_label(v)}: {m}" for v, m in errors.items())
            raise DataSourceError(f"no exchange answered ({detail})")
        return parts, errors, stale, fetched, versions

    def _result(self, frame: pd.DataFrame, errors: dict[str, str], stale: dict[str, float],
                fetched: list[pd.Timestamp], versions: list[int]) -> FrameResult:
        fetched_at = min(fetched) if fetched else pd.Timestamp.now(tz="UTC")
        if fetched_at.tzinfo is None:
            fetched_at = fetched_at.tz_localize("UTC")
        frame.attrs.update({"source": self.source, "fetched_at": fetched_at})
        return FrameResult(frame=frame, source=self.source, fetched_at=fetched_at, errors=errors, stale=stale,
                           versions=tuple(versions))

    def _derivatives(self, ex: Any, venue: str, base: str) -> list[Contract]:
        spec = VENUES[venue]
        return [c for c in family_of(spec).contracts(ex, spec, base) if c.kind in ("perp", "future")]

    # -- listings ------------------------------------------------------------------------------------------
    def listed(self, venues: Sequence[str] | None = None) -> FrameResult:
        """Which base assets each venue lists perps and unexpired dated futures of, from its loaded markets.

        Columns: ``frames.LISTED_COLUMNS``. Cached like the markets (listings change a few times a day); no
        request beyond the markets' own load.
        """
        chosen = self._check_venues(venues)

        def fetch(venue: str) -> pd.DataFrame:
            def listed(ex: Any) -> pd.DataFrame:
                bases = {m.get("base") for m in (ex.markets or {}).values() if m.get("type") in ("swap", "future")}
                contracts = [c for b in sorted(b for b in bases if isinstance(b, str))
                             for c in self._derivatives(ex, venue, b)]
                return frames.listed_frame(venue, contracts)

            return self.pool.call(venue, listed)

        parts, errors, stale, fetched, versions = self._fan_out(chosen, lambda v: self.cache.get_or_fetch(
            "markets", ("listed", v), lambda: fetch(v)))
        frame = frames.concat_frames(parts, frames.LISTED_COLUMNS, ["venue", "base"])
        return self._result(frame, errors, stale, fetched, versions)

    # -- term structure ------------------------------------------------------------------------------------
    def term_structure(self, base: str = "BTC", venues: Sequence[str] | None = None) -> FrameResult:
        """Every perp and unexpired dated future of ``base`` with last, mark and index per venue.

        Columns: ``frames.TERM_STRUCTURE_COLUMNS``. Perps come first per venue (tenor 0), then by expiry.
        """
        base = self._check_base(base)
        chosen = self._check_venues(venues)

        def work(venue: str) -> Cached[pd.DataFrame]:
            return self.cache.get_or_fetch("quotes", ("term_structure", venue, base),
                                           lambda: self._fetch_term_structure(venue, base))

        parts, errors, stale, fetched, versions = self._fan_out(chosen, work)
        frame = frames.concat_frames(parts, frames.TERM_STRUCTURE_COLUMNS, ["venue"])
        return self._result(frame, errors, stale, fetched, versions)

    def _fetch_term_structure(self, venue: str, base: str) -> pd.DataFrame:
        spec = VENUES[venue]

        def fetch(ex: Any) -> pd.DataFrame:
            contracts = self._derivatives(ex, venue, base)
            quotes = _priced(ex, family_of(spec).quotes(ex, spec, base, contracts), contracts) if contracts else []
            return frames.term_structure_frame(contracts, quotes, now_ms=self.now_ms(),
                                               fetched_at_ms=time.time_ns() // 1_000_000)

        return self.pool.call(venue, fetch)

    # -- funding now ---------------------------------------------------------------------------------------
    def funding_now(
        self, bases: Sequence[str] = ("BTC", "ETH", "SOL"), venues: Sequence[str] | None = None
    ) -> FrameResult:
        """Current funding of every perp of ``bases`` per venue. Columns: ``frames.FUNDING_NOW_COLUMNS``."""
        bases_t = tuple(dict.fromkeys(self._check_base(b) for b in bases))
        if not bases_t:
            raise InvalidQueryError("choose at least one asset")
        chosen = self._check_venues(venues)

        def work(venue: str) -> Cached[pd.DataFrame]:
            return self.cache.get_or_fetch("funding_now", ("funding_now", venue, bases_t),
                                           lambda: self._fetch_funding_now(venue, bases_t))

        parts, errors, stale, fetched, versions = self._fan_out(chosen, work)
        frame = frames.concat_frames(parts, frames.FUNDING_NOW_COLUMNS, ["venue", "base", "symbol"])
        return self._result(frame, errors, stale, fetched, versions)

    def _fetch_funding_now(self, venue: str, bases: tuple[str, ...]) -> pd.DataFrame:
        spec = VENUES[venue]

        def fetch(ex: Any) -> pd.DataFrame:
            perps = [c for b in bases for c in self._derivatives(ex, venue, b) if c.kind == "perp"]
            rows = family_of(spec).funding_now(ex, spec, perps) if perps else []
            if perps and not rows:  # listed perps, an answer without any: no data, not "no perps"
                raise EmptyResultError(f"{ex.id} funding_now: the answer had no funding rows", venue=venue)
            return frames.funding_now_frame(venue, perps, rows, fetched_at_ms=time.time_ns() // 1_000_000)

        return self.pool.call(venue, fetch)

    # -- spot ----------------------------------------------------------------------------------------------
    def spot(self, bases: Sequence[str] = ("BTC", "ETH", "SOL")) -> FrameResult:
        """Spot last price of each base vs USDT on Binance spot. Columns: ``frames.SPOT_COLUMNS``."""
        bases_t = tuple(dict.fromkeys(self._check_base(b) for b in bases))
        spec = VENUES[SPOT_VENUE]

        def fetch(ex: Any) -> pd.DataFrame:
            contracts = [c for b in bases_t for c in family_of(spec).contracts(ex, spec, b)]
            quotes = (_priced(ex, family_of(spec).quotes(ex, spec, ",".join(bases_t), contracts), contracts)
                      if contracts else [])
            return frames.spot_frame(SPOT_VENUE, contracts, quotes, fetched_at_ms=time.time_ns() // 1_000_000)

        def work(venue: str) -> Cached[pd.DataFrame]:
            return self.cache.get_or_fetch("quotes", ("spot", bases_t), lambda: self.pool.call(venue, fetch))

        parts, errors, stale, fetched, versions = self._fan_out((SPOT_VENUE,), work)
        return self._result(parts[0], errors, stale, fetched, versions)

    # -- funding history -----------------------------------------------------------------------------------
    def funding_history(
        self, venue: str, symbol: str, start: TimeLike, until: TimeLike | None = None
    ) -> FrameResult:
        """Every funding settlement of ``symbol`` on ``venue`` in [start, until] (until defaults to now).

        Columns: ``frames.FUNDING_HISTORY_COLUMNS``. Windows up to 366 days. Deribit rows are hourly
        accruals (interval_hours = 1), never its 8h-equivalent figures summed.
        """
        self._check_venues([venue])
        start_ms, end_ms, open_ended = self._window(start, until)
        # The key floors the start to the hour so reruns of an open-ended view share one entry.
        key_start = start_ms // HOUR_MS * HOUR_MS
        key = ("funding_history", venue, symbol, key_start, None if open_ended else end_ms)
        if open_ended:  # valid until the next settlement (all intervals settle on the hour)
            now_ms = self.now_ms()
            if now_ms % HOUR_MS < SETTLEMENT_GRACE_MS:
                ttl = SETTLEMENT_GRACE_TTL_S
            else:
                ttl = ttl_until((now_ms // HOUR_MS + 1) * HOUR_MS, now_ms,
                                max_s=self.settings.ttls["funding_history"])
        else:
            ttl = self.settings.ttls["funding_history"]
        spec = VENUES[venue]

        def fetch() -> pd.DataFrame:
            def call(ex: Any) -> pd.DataFrame:
                self._check_symbol(ex, venue, symbol, kind="swap")
                fetch_end = self.now_ms() if open_ended else end_ms
                points = family_of(spec).funding_history(ex, spec, symbol, key_start, fetch_end)
                return frames.funding_history_frame(points, start_ms=key_start, end_ms=fetch_end)

            return self.pool.call(venue, call)

        parts, errors, stale, fetched, versions = self._fan_out((venue,), lambda v: self.cache.get_or_fetch(
            "funding_history", key, fetch, ttl=ttl))
        frame = parts[0]
        frame = frame[(frame["ts"] >= pd.Timestamp(start_ms, unit="ms", tz="UTC"))
                      & (frame["ts"] <= pd.Timestamp(end_ms, unit="ms", tz="UTC"))].reset_index(drop=True)
        frame.attrs.update({"venue": venue, "symbol": symbol})
        return self._result(frame, errors, stale, fetched, versions)

    @staticmethod
    def _check_symbol(ex: Any, venue: str, symbol: str, *, kind: str | None = None) -> None:
        market = (ex.markets or {}).get(symbol)
        if market is None:
            raise InvalidQueryError(f"{symbol!r} is not listed on {venue}", venue=venue)
        if kind is not None and market.get("type") != kind:
            raise InvalidQueryError(f"{symbol!r} on {venue} is a {market.get('type')}, not a perpetual",
                                    venue=venue)

    # -- proxies and trading calendars ---------------------------------------------------------------------
    @property
    def proxies(self) -> dict[str, Proxy]:
        """The configured gold and Nasdaq-100 proxies (``data_sources.config``), by key."""
        return dict(self.settings.proxies)

    def proxy_candles(self, key: str, timeframe: str = "1d", start: TimeLike | None = None,
                      until: TimeLike | None = None) -> FrameResult:
        """Last-price candles of proxy ``key`` (``gold`` | ``nasdaq``): ``ohlcv`` of its (venue, symbol).

        A proxy listed after ``start`` answers from its first candle on: its history is never padded. The
        frame's attrs carry the proxy (``proxy``, ``label``).
        """
        proxy = self.settings.proxies.get(key)
        if proxy is None:
            raise InvalidQueryError(f"unknown proxy {key!r}; configured: {sorted(self.settings.proxies)}")
        res = self.ohlcv(proxy.venue, proxy.symbol, timeframe, start=start, until=until, price="last")
        res.frame.attrs.update({"proxy": key, "label": proxy.label})
        return res

    def asset_candles(self, base: str, timeframe: str = "1d", start: TimeLike | None = None,
                      until: TimeLike | None = None) -> FrameResult:
        """Last-price candles of crypto asset ``base`` from the most representative market that lists it.

        Binance spot ``BASE/USDT`` where listed (the deepest spot market, history since 2019); else the first
        derivative venue (sidebar order) with a linear USDT or USDC perp of it. The frame's attrs name the
        market used (``venue``, ``symbol``).
        """
        base = self._check_base(base)
        candidates = [(SPOT_VENUE, f"{base}/USDT")]
        for venue in self.venues:
            candidates += [(venue, f"{base}/{q}:{q}") for q in ("USDT", "USDC")]
        for venue, symbol in candidates:
            try:
                listed = symbol in (self.pool.markets(venue).markets or {})
            except DataSourceError:
                continue  # a venue that does not answer cannot be the source; the next one may
            if listed:
                return self.ohlcv(venue, symbol, timeframe, start=start, until=until, price="last")
        raise InvalidQueryError(f"{base} is not listed on Binance spot nor as a linear perp on "
                                f"{', '.join(self.venue_label(v) for v in self.venues)}")

    @staticmethod
    def trading_sessions(calendar: str = "XNYS", start: TimeLike | None = None,
                         until: TimeLike | None = None) -> pd.DataFrame:
        """Sessions (``session``, ``open``, ``close``, UTC) of a market calendar whose close is in [start, until].

        From the ``exchange_calendars`` library (holidays and early closes included); no request is made.
        """
        lo = None if start is None else pd.Timestamp(to_ms(start, name="start"), unit="ms", tz="UTC")
        hi = None if until is None else pd.Timestamp(to_ms(until, name="until"), unit="ms", tz="UTC")
        return calendars.sessions(calendar, lo, hi)

    # -- OHLCV ---------------------------------------------------------------------------------------------
    def ohlcv(
        self,
        venue: str,
        symbol: str,
        timeframe: str = "1h",
        start: TimeLike | None = None,
        until: TimeLike | None = None,
        price: str = "last",
    ) -> FrameResult:
        """Candles of ``symbol`` with open time in [start, until]. Columns: ``frames.OHLCV_COLUMNS``.

        ``price``: last | mark | index | premium_index (the premium as a fraction, where the venue has it;
        else ``UnsupportedError``). The candle still forming at ``until`` = now is included.
        """
        proxy_venues = tuple(p.venue for p in self.settings.proxies.values())
        if venue not in VENUES or venue not in (*self.venues, SPOT_VENUE, *proxy_venues):
            raise InvalidQueryError(f"unknown exchange {venue!r}")
        if timeframe not in TIMEFRAMES_MS:
            raise InvalidQueryError(f"timeframe must be one of {list(TIMEFRAMES_MS)}, not {timeframe!r}")
        if price not in PRICE_FIELDS:
            raise InvalidQueryError(f"price must be one of {list(PRICE_FIELDS)}, not {price!r}")
        tf_ms = TIMEFRAMES_MS[timeframe]
        if start is None:
            start = self.now_ms() - 500 * tf_ms
        start_ms, end_ms, open_ended = self._window(start, until, max_days=MAX_CANDLE_HISTORY_DAYS)
        if (end_ms - start_ms) // tf_ms > 20_000:
            raise InvalidQueryError("too many candles: choose a larger timeframe or a shorter window")
        key_start = start_ms // tf_ms * tf_ms
        spec = VENUES[venue]

        def part(lo: int, hi: int | None, kind: str, ttl: float | None = None) -> Cached[pd.DataFrame]:
            """Candles opening in [lo, hi] (hi None: up to now), cached as one entry of ``kind``."""
            def fetch() -> pd.DataFrame:
                def call(ex: Any) -> pd.DataFrame:
                    self._check_symbol(ex, venue, symbol)
                    fetch_end = self.now_ms() if hi is None else hi
                    rows = family_of(spec).ohlcv(ex, spec, symbol, timeframe, price, lo, fetch_end)
                    return frames.ohlcv_frame(rows, start_ms=lo, end_ms=fetch_end)

                return self.pool.call(venue, call)

            return self.cache.get_or_fetch(kind, ("ohlcv", venue, symbol, timeframe, price, lo, hi), fetch, ttl=ttl)

        now_ms = self.now_ms()
        forming_open = now_ms // tf_ms * tf_ms
        if open_ended and key_start < forming_open:
            # A window up to now: its closed candles are one long-lived entry (a new one each period) and the
            # forming candle a short-lived one, so a page refreshed every minute re-reads one candle, not
            # the whole window. Just after a close, the venue may still be finishing that candle: keep the
            # closed part only briefly then.
            recent_close = now_ms - forming_open < CANDLE_GRACE_MS
            parts, errors, stale, fetched, versions = self._fan_out((venue,), lambda v: part(
                key_start, forming_open - tf_ms, "ohlcv_closed", CANDLE_GRACE_TTL_S if recent_close else None))
            try:
                tail, _, tail_stale, tail_fetched, tail_versions = self._fan_out(
                    (venue,), lambda v: part(forming_open, None, "ohlcv_forming"))
            except DataSourceError as e:  # the closed candles still answer the question
                errors[venue] = f"forming candle unavailable: {_reason(e)}"
            else:
                parts += tail
                stale.update(tail_stale)
                fetched = tail_fetched  # the age that matters: closed candles never change
                versions += tail_versions
            frame = pd.concat(parts, ignore_index=True).drop_duplicates("ts", keep="last").sort_values("ts")
        else:
            closed = not open_ended and end_ms + tf_ms <= now_ms
            kind = "ohlcv_closed" if closed else "ohlcv_forming"
            parts, errors, stale, fetched, versions = self._fan_out(
                (venue,), lambda v: part(key_start, None if open_ended else end_ms, kind))
            frame = parts[0]
        lo = pd.Timestamp(start_ms, unit="ms", tz="UTC")
        frame = frame[(frame["ts"] >= lo) & (frame["ts"] <= pd.Timestamp(end_ms, unit="ms", tz="UTC"))]
        frame = frame.reset_index(drop=True)
        frame.attrs.update({"venue": venue, "symbol": symbol, "price": price, "timeframe": timeframe})
        return self._result(frame, errors, stale, fetched, versions)

    # -- instruments and margin tiers (hedge calculator) ----------------------------------------------------
    def instruments(self, base: str, venues: Sequence[str] | None = None) -> FrameResult:
        """Every perp and unexpired dated future of ``base`` per venue, with what sizing and margining need.

        Columns: ``frames.INSTRUMENT_COLUMNS``. Read off the loaded markets (no request beyond the markets'
        own load) and cached like them: ``contract_size`` base units (linear) or USD (inverse) per contract;
        ``amount_step``/``min_amount`` in contracts (ccxt's amounts converted where they are not contracts:
        Deribit); ``max_leverage`` from the listing, else tier 1 of the contract's tier table (Binance, whose
        listing has none: config), else NaN; ``taker``/``maker`` fractions from ccxt's market (``fee_source``).
        """
        base = self._check_base(base)
        chosen = self._check_venues(venues)

        def fetch(venue: str) -> pd.DataFrame:
            def specs(ex: Any) -> pd.DataFrame:
                per_contract = getattr(family_of(VENUES[venue]), "amount_per_contract", None)
                out = []
                for c in self._derivatives(ex, venue, base):
                    market = ex.markets[c.symbol]
                    out.append(margin.instrument_spec(
                        c, market, precision_mode=int(ex.precisionMode),
                        amount_per_contract=per_contract(market) if per_contract is not None else 1.0,
                        table=self._table_tiers(venue, market)))
                return frames.instruments_frame(out)

            return self.pool.call(venue, specs)

        parts, errors, stale, fetched, versions = self._fan_out(chosen, lambda v: self.cache.get_or_fetch(
            "markets", ("instruments", v, base), lambda: fetch(v)))
        frame = frames.concat_frames(parts, frames.INSTRUMENT_COLUMNS, ["venue"])
        frame.attrs["base"] = base
        return self._result(frame, errors, stale, fetched, versions)

    def _table_tiers(self, venue: str, market: dict[str, Any]) -> list[MarginTier] | None:
        """The contract's tiers that need no request: the user's table, else the built-in table or rule."""
        override = self.settings.margin_tiers.get(f"{venue}:{market['symbol']}")
        return override.tiers(market) if override is not None else margin.rule_tiers(venue, market)

    def margin_tiers(self, venue: str, symbol: str) -> FrameResult:
        """The maintenance-margin tiers of one perp or dated future. Columns: ``frames.TIER_COLUMNS``.

        Per venue: OKX ``GET /api/v5/public/position-tiers`` (isolated; contract counts converted with
        ``ctVal``), Bybit ``GET /v5/market/risk-limit`` (``mmDeduction`` as ``cum``), Binance a dated default
        table from config (its tier endpoint needs an API key), Deribit and Hyperliquid their documented
        rules; a ``[margin_tiers."venue:symbol"]`` table in the user's config replaces any of them. The
        frame's attrs carry ``venue``, ``symbol`` and ``note`` (what the page should say about a table that is
        not the exchange's; None when it is). ``InvalidQueryError`` for an unknown or spot symbol,
        ``UnsupportedError`` where no source exists.
        """
        self._check_venues([venue])
        if not isinstance(symbol, str) or not symbol.strip():
            raise InvalidQueryError(f"not a valid symbol: {symbol!r}")
        spec = VENUES[venue]
        override = self.settings.margin_tiers.get(f"{venue}:{symbol}")

        def fetch() -> pd.DataFrame:
            def call(ex: Any) -> pd.DataFrame:
                fetcher = getattr(family_of(spec), "margin_tiers", None)
                self._check_symbol(ex, venue, symbol)
                market = ex.markets[symbol]
                if market.get("type") not in ("swap", "future"):
                    raise InvalidQueryError(f"{symbol!r} on {venue} is a {market.get('type')} market; margin tiers "
                                            "exist for perpetuals and dated futures", venue=venue)
                if override is not None:
                    tiers = override.tiers(market)
                elif fetcher is not None:
                    tiers = fetcher(ex, spec, symbol)
                else:
                    tiers = margin.rule_tiers(venue, market) or []
                    if not tiers:
                        raise UnsupportedError(f"{self.venue_label(venue)} publishes no margin tiers for {symbol} "
                                               "and none are configured", venue=venue)
                return frames.margin_tiers_frame(tiers, fetched_at_ms=time.time_ns() // 1_000_000)

            return self.pool.call(venue, call)

        # Cached like the markets: see config.DEFAULT_TTLS["margin_tiers"].
        parts, errors, stale, fetched, versions = self._fan_out((venue,), lambda v: self.cache.get_or_fetch(
            "margin_tiers", ("margin_tiers", venue, symbol), fetch))
        frame = parts[0]
        source = str(frame["source"].iloc[0]) if len(frame) else ""
        note = margin.config_note(venue, symbol, source, overridden=override is not None)
        frame.attrs.update({"venue": venue, "symbol": symbol, "note": note})
        return self._result(frame, errors, stale, fetched, versions)


def _reason(e: DataSourceError) -> str:
    """Why a venue is missing, for the page: a plain lead ("timed out", "rate limited (HTTP 429)", ...),
    then the exchange's own words, shortened."""
    text = str(e)
    if e.venue and text.startswith(f"{e.venue}: "):
        text = text[len(e.venue) + 2 :]
    if len(text) > REASON_DETAIL_CHARS:
        text = text[:REASON_DETAIL_CHARS].rstrip() + "…"
    lead = plain_reason(e)
    return f"{lead}: {text}" if lead else text


def _priced(ex: Any, quotes: list[Quote], contracts: list[Contract]) -> list[Quote]:
    """``quotes``, unless not one of the listed ``contracts`` got a price: an empty answer is missing data
    (``EmptyResultError``, so the cache keeps serving the last good prices), never "nothing listed"."""
    if not any(q.last is not None or q.mark is not None or q.index is not None for q in quotes):
        raise EmptyResultError(f"{ex.id} quotes: the answer had no prices for {len(contracts)} listed contracts",
                               venue=ex.id)
    return quotes
