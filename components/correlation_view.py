"""The correlation view shared by the Correlation page and the Overview: load closes, run the analytics.

``load`` fetches every asset's and proxy's candles concurrently through the facade (it is thread-safe and
caches each series); ``compute`` is pure: aligned closes in, every frame the page charts out (the finance is
``analytics.correlation``'s). Nothing here imports streamlit, so both pages and tests call it alike.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from analytics import correlation as ac
from components.charts_correlation import PRICES_COLUMNS, ROLLING_COLUMNS
from components.derived import derived
from components.formatting import fmt_date
from data_sources import DataSourceError, FrameResult, MarketData

TIMEFRAMES: dict[str, pd.Timedelta] = {"1d": pd.Timedelta(days=1), "4h": pd.Timedelta(hours=4)}
# Lookbacks offered per timeframe (days shown on the page). 4h bars: a year would be ~9,000 candles a series.
LOOKBACKS: dict[str, tuple[int, ...]] = {"1d": (90, 180, 365, 730), "4h": (30, 60, 90, 180)}
DEFAULT_LOOKBACK = {"1d": 365, "4h": 90}
# The band is the rolling correlation's own mean ± k std over this much trailing history (DOMAIN.md: "more
# than 2 standard deviations from its 1-year mean"); for 4h bars three months keep the fetch bounded.
BAND_DAYS = {"1d": 365, "4h": 90}
TRADING_PERIODS_PER_YEAR = 252  # NYSE sessions a year
PAIR_SEP = " · "
RETURNS_COLUMNS: tuple[str, ...] = ("ts", "pair", "asset", "proxy", "asset_return", "proxy_return")
EPISODE_TABLE_COLUMNS: tuple[str, ...] = ("pair", "flag", "rule", "start", "end", "observations", "active",
                                          "trigger")


@dataclass(frozen=True)
class Params:
    """Everything that defines a correlation view (the page keeps each in the URL)."""

    assets: tuple[str, ...] = ("BTC", "ETH")
    proxies: tuple[str, ...] = ("gold", "nasdaq")
    timeframe: str = "1d"
    windows: tuple[int, ...] = (30, 90)
    lookback_days: int = 365
    as_of: pd.Timestamp | None = None
    alignment: str = "trading"
    k: int = int(ac.DEFAULTS["k"])
    asset_drop: float = float(ac.DEFAULTS["asset_drop"])
    gold_rise: float = float(ac.DEFAULTS["gold_rise"])
    flat: float = float(ac.DEFAULTS["flat"])
    index_drop: float = float(ac.DEFAULTS["index_drop"])
    sign_threshold: float = float(ac.DEFAULTS["sign_threshold"])
    band_k: float = float(ac.DEFAULTS["band_k"])

    @property
    def window(self) -> int:
        """The main window: the band, flags, beta and matrix use it."""
        return self.windows[0]

    @property
    def bar(self) -> pd.Timedelta:
        return TIMEFRAMES[self.timeframe]


@dataclass
class Loaded:
    """Closes per series name (assets by base, proxies by label), where each came from, what failed."""

    closes: dict[str, pd.Series]
    sources: dict[str, str]
    errors: dict[str, str]
    kinds: dict[str, str]  # name -> "asset" | "gold" | "nasdaq"
    ages: list[float] = field(default_factory=list)
    stale: dict[str, float] = field(default_factory=dict)
    start: pd.Timestamp | None = None
    end: pd.Timestamp | None = None
    tokens: dict[str, tuple[object, ...]] = field(default_factory=dict)  # name -> FrameResult.token

    def key(self) -> tuple[object, ...]:
        """A hashable name of exactly this load (which data, which window, what failed)."""
        return (tuple(self.closes), tuple(sorted(self.tokens.items())), tuple(sorted(self.errors.items())),
                tuple(sorted(self.kinds.items())), self.start, self.end)


def periods_per_year(timeframe: str, alignment: str) -> float:
    """Observations a year of this timeframe and alignment yields (trading: NYSE sessions)."""
    per_day = TIMEFRAMES["1d"] / TIMEFRAMES[timeframe]
    if alignment == "trading":
        # a 4h bar overlaps an NYSE session (14:30-21:00 UTC) 2-3 times a session; 3 is the winter count
        return TRADING_PERIODS_PER_YEAR * (1 if timeframe == "1d" else 3)
    return 365 * per_day


def band_lookback(params: Params) -> int:
    """Observations in the band's trailing history."""
    return int(round(periods_per_year(params.timeframe, params.alignment) * BAND_DAYS[params.timeframe] / 365))


def fetch_window(params: Params, now: pd.Timestamp) -> tuple[pd.Timestamp, pd.Timestamp]:
    """(start, end) of the candles to fetch: the lookback, plus warm-up for the longest window and the band."""
    end = params.as_of if params.as_of is not None else now
    per_year = periods_per_year(params.timeframe, params.alignment)
    warmup_obs = max(params.windows) + band_lookback(params)
    warmup_days = math.ceil(warmup_obs / per_year * 365) + 7
    return end - pd.Timedelta(days=params.lookback_days + warmup_days), end


def load(md: MarketData, params: Params, *, workers: int = 8) -> Loaded:
    """Every asset's and proxy's last-price candles over ``fetch_window``; failures are named, not raised.

    "Now" is taken to the minute: bars close on whole minutes, so the view is the same for the whole minute
    and reruns within it reuse what was computed from it (``compute_shared``)."""
    start, end = fetch_window(params, md.now().floor("min"))
    # Closed bars only (the last one closes at or before ``end``): a forming bar's "close" is just the last
    # price, and a pinned link must show the same numbers later.
    until = end - params.bar
    jobs: dict[str, tuple[str, Callable[[], FrameResult]]] = {}
    for base in params.assets:
        jobs[base] = ("asset", partial(md.asset_candles, base, params.timeframe, start, until))
    labels: dict[str, str] = {}
    for key in params.proxies:
        proxy = md.proxies.get(key)
        if proxy is None:
            continue
        labels[key] = f"{proxy.symbol} on {md.venue_label(proxy.venue)}"
        jobs[proxy.label] = (key, partial(md.proxy_candles, key, params.timeframe, start, until))
    out = Loaded(closes={}, sources={}, errors={}, kinds={}, start=start, end=end)
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(jobs))), thread_name_prefix="corr-load") as pool:
        futures = {name: pool.submit(call) for name, (_, call) in jobs.items()}
    for name, fut in futures.items():
        kind = jobs[name][0]
        out.kinds[name] = kind
        try:
            res = fut.result()
        except DataSourceError as e:
            out.errors[name] = str(e)
            if kind in labels:
                out.sources[name] = labels[kind]
            continue
        frame = res.frame
        if frame.empty:  # an answer without candles must not just vanish from the page
            venue = md.venue_label(str(frame.attrs.get("venue", "")))
            out.errors[name] = f"{venue}: the exchange returned no candles for this window"
            if kind in labels:
                out.sources[name] = labels[kind]
            continue
        closes = pd.Series(frame["close"].to_numpy(dtype="float64"), index=pd.DatetimeIndex(frame["ts"]), name=name)
        out.closes[name] = closes
        venue, symbol = frame.attrs.get("venue", ""), frame.attrs.get("symbol", "")
        out.sources[name] = f"{symbol} on {md.venue_label(str(venue))}"
        out.ages.append(res.age_s)
        out.stale.update(res.stale)
        out.tokens[name] = res.token
    return out


@dataclass
class View:
    """Everything the page shows, each frame exactly as charted and downloaded."""

    params: Params
    aligned: pd.DataFrame  # close instants x series (no forward fill)
    returns: pd.DataFrame  # log returns of ``aligned`` (every series on shared instants: the matrix)
    pair_returns: pd.DataFrame  # RETURNS_COLUMNS over the lookback: each pair's own aligned returns
    prices: pd.DataFrame  # PRICES_COLUMNS, over the lookback
    rolling: pd.DataFrame  # ROLLING_COLUMNS, over the lookback
    episodes: pd.DataFrame  # EPISODE_TABLE_COLUMNS + the analytics' numbers, over the lookback
    matrix: pd.DataFrame
    current: dict[str, ac.Estimate]  # pair -> correlation over the main window ending at the view's end
    betas: dict[str, ac.Estimate]
    band_now: dict[str, tuple[float, float, float]]  # pair -> (mean, lo, hi) at the last observation
    pairs: list[str]
    short_history: dict[str, str]  # series -> why its history is shorter than asked
    alignment_text: str
    band_obs: int
    lookback_start: pd.Timestamp | None


def pair_name(asset: str, proxy: str) -> str:
    return f"{asset}{PAIR_SEP}{proxy}"


def _short_history(loaded: Loaded, names: Sequence[str], lookback_start: pd.Timestamp | None) -> dict[str, str]:
    """Series whose first close is later than the data asked for: shown as such, never padded."""
    out: dict[str, str] = {}
    if loaded.start is None or lookback_start is None:
        return out
    for n in names:
        first = loaded.closes[n].index.min()
        if first - lookback_start > pd.Timedelta(days=3):
            out[n] = (f"history starts {fmt_date(first)}, after the view's start {fmt_date(lookback_start)}: "
                      "its lines begin there")
        elif first - loaded.start > pd.Timedelta(days=3):
            out[n] = (f"history starts {fmt_date(first)}: the early part of the view has fewer past correlations "
                      "for the band")
    return out


@dataclass
class _Pair:
    returns: pd.DataFrame  # RETURNS_COLUMNS: the pair's aligned log returns, as correlated
    rolling: list[pd.DataFrame]
    episodes: pd.DataFrame
    current: ac.Estimate
    beta: ac.Estimate
    band_now: tuple[float, float, float] | None


def _align(closes: Mapping[str, pd.Series], params: Params, sessions: pd.DataFrame | None) -> pd.DataFrame:
    return ac.align_closes(closes, bar=params.bar, alignment=params.alignment, sessions=sessions,
                           calendar_name="NYSE")


def _pair(loaded: Loaded, a: str, p: str, params: Params, sessions: pd.DataFrame | None, band_obs: int) -> _Pair:
    """Aligned returns, rolling series, band, flags and the current estimates of one (asset, proxy) pair.

    Each pair is aligned on its own two series, so a proxy with a short history shortens only its pairs."""
    pair = pair_name(a, p)
    aligned = _align({a: loaded.closes[a], p: loaded.closes[p]}, params, sessions)
    returns = ac.aligned_returns(aligned) if len(aligned) > 1 else aligned.iloc[0:0]
    ra, rp = returns[a], returns[p]
    parts: list[pd.DataFrame] = []
    main_corr, main_band = None, None
    for w in params.windows:
        corr = ac.rolling_correlation(ra, rp, window=w)
        part = pd.DataFrame({"ts": returns.index, "pair": pair, "asset": a, "proxy": p, "window": w,
                             "correlation": corr.to_numpy(),
                             "beta": ac.rolling_beta(ra, rp, window=w).to_numpy(),
                             "band_mean": np.nan, "band_lo": np.nan, "band_hi": np.nan})
        if w == params.window:
            main_corr = corr
            main_band = ac.correlation_band(corr, lookback=band_obs, min_obs=min(int(ac.DEFAULTS["band_min_obs"]),
                                                                                 band_obs), k=params.band_k)
            part = part.assign(band_mean=main_band["mean"].to_numpy(), band_lo=main_band["lo"].to_numpy(),
                               band_hi=main_band["hi"].to_numpy())
        parts.append(part)
    assert main_corr is not None and main_band is not None  # windows[0] is the main window
    found = [ac.correlation_breaks(main_corr, main_band, sign_threshold=params.sign_threshold, asset=a, proxy=p,
                                   sign_hold=params.window)]
    kind = loaded.kinds.get(p)
    if kind == "gold":
        found.append(ac.flight_to_safety(ra, rp, k=params.k, asset_drop=params.asset_drop,
                                         gold_rise=params.gold_rise, asset=a, proxy=p))
    elif kind == "nasdaq":
        found.append(ac.risk_rotation(ra, rp, k=params.k, flat=params.flat, index_drop=params.index_drop,
                                      asset=a, proxy=p))
    found = [ep for ep in found if not ep.empty]
    episodes = (pd.concat(found, ignore_index=True) if found else ac.empty_episodes()).assign(pair=pair)
    band_now = None
    if len(main_band):
        last = main_band.iloc[-1]
        band_now = (float(last["mean"]), float(last["lo"]), float(last["hi"]))
    pair_returns = pd.DataFrame({"ts": returns.index, "pair": pair, "asset": a, "proxy": p,
                                 "asset_return": ra.to_numpy(), "proxy_return": rp.to_numpy()})
    return _Pair(returns=pair_returns, rolling=parts, episodes=episodes,
                 current=ac.correlation(ra, rp, window=params.window),
                 beta=ac.beta(ra, rp, window=params.window), band_now=band_now)


def _concat(parts: Sequence[pd.DataFrame], columns: Sequence[str]) -> pd.DataFrame:
    return (pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=list(columns)))[list(columns)]


def sessions_for(md: MarketData, loaded: Loaded, params: Params) -> pd.DataFrame | None:
    """The NYSE sessions a trading-day alignment of ``loaded`` needs (None for calendar days)."""
    if params.alignment != "trading":
        return None
    return derived(("xnys_sessions", loaded.start, loaded.end),
                   lambda: md.trading_sessions("XNYS", loaded.start, loaded.end))


def compute_shared(loaded: Loaded, params: Params, *, sessions: pd.DataFrame | None) -> View:
    """``compute``, once per (load, params) in the process (``components.derived``: read-only, shared)."""
    return derived(("correlation_view", params, loaded.key()), lambda: compute(loaded, params, sessions=sessions))


def compute(loaded: Loaded, params: Params, *, sessions: pd.DataFrame | None) -> View:
    """Align, return, roll, band and flag every (asset, proxy) pair of ``loaded`` (pure)."""
    names = [n for n in loaded.closes if not loaded.closes[n].empty]
    assets = [n for n in names if loaded.kinds.get(n) == "asset"]
    proxies = [n for n in names if loaded.kinds.get(n) in ("gold", "nasdaq")]
    pairs = [pair_name(a, p) for a in assets for p in proxies]
    # every series on the instants they all share: the matrix (one window at the end) and the caption
    aligned = _align({n: loaded.closes[n] for n in names}, params, sessions) if names else pd.DataFrame()
    returns = ac.aligned_returns(aligned) if len(aligned) > 1 else aligned.iloc[0:0]
    lookback_start = None if loaded.end is None else loaded.end - pd.Timedelta(days=params.lookback_days)
    band_obs = band_lookback(params)
    results = {pair_name(a, p): _pair(loaded, a, p, params, sessions, band_obs) for a in assets for p in proxies}

    rolling = _concat([part for r in results.values() for part in r.rolling], ROLLING_COLUMNS)
    pair_returns = _concat([r.returns for r in results.values()], RETURNS_COLUMNS)
    episode_parts = [r.episodes for r in results.values() if not r.episodes.empty]
    episodes = (pd.concat(episode_parts, ignore_index=True) if episode_parts
                else ac.empty_episodes().assign(pair=pd.Series(dtype="str")))
    if lookback_start is not None:
        rolling = rolling[rolling["ts"] >= lookback_start].reset_index(drop=True)
        pair_returns = pair_returns[pair_returns["ts"] >= lookback_start].reset_index(drop=True)
        episodes = episodes[episodes["end"] >= lookback_start].reset_index(drop=True)
    series = {n: _align({n: loaded.closes[n]}, params, sessions).iloc[:, 0] for n in names}
    prices = rebased({n: s[s.index >= lookback_start] if lookback_start is not None else s
                      for n, s in series.items()})
    matrix = ac.correlation_matrix(returns, window=params.window) if len(returns.columns) > 1 else pd.DataFrame()
    return View(params=params, aligned=aligned, returns=returns, pair_returns=pair_returns, prices=prices,
                rolling=rolling, episodes=describe_episodes(episodes, params), matrix=matrix,
                current={k: r.current for k, r in results.items()}, betas={k: r.beta for k, r in results.items()},
                band_now={k: r.band_now for k, r in results.items() if r.band_now is not None}, pairs=pairs,
                short_history=_short_history(loaded, names, lookback_start),
                alignment_text=str(aligned.attrs.get("alignment", "")), band_obs=band_obs,
                lookback_start=lookback_start)


def rebased(series: Mapping[str, pd.Series]) -> pd.DataFrame:
    """Long frame (``PRICES_COLUMNS``): each series' close and close / its first close * 100 (each series from
    its own first close: a proxy listed later starts later, at 100)."""
    parts = [pd.DataFrame({"ts": s.index, "series": name, "price": s.to_numpy(),
                           "rebased": (s / s.iloc[0] * 100.0).to_numpy()})
             for name, s in series.items() if len(s)]
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype="float64") for c in PRICES_COLUMNS})
    return pd.concat(parts, ignore_index=True)[list(PRICES_COLUMNS)]


def rule_text(flag: str, params: Params, asset: str, proxy: str) -> str:
    """The rule of ``flag`` with this view's thresholds, as the page shows it."""
    return ac.rule_text(flag, asset=asset, proxy=proxy, window=params.window, k=params.k,
                        asset_drop=params.asset_drop, gold_rise=params.gold_rise, flat=params.flat,
                        index_drop=params.index_drop, sign_threshold=params.sign_threshold, band_k=params.band_k)


def describe_episodes(episodes: pd.DataFrame, params: Params) -> pd.DataFrame:
    """The analytics' episodes with the page's columns: pair, rule text and the numbers that triggered it."""
    if episodes.empty:
        return pd.DataFrame(columns=[*EPISODE_TABLE_COLUMNS, *ac.EPISODE_COLUMNS[3:]])
    rules, triggers = [], []
    for r in episodes.itertuples(index=False):
        rules.append(rule_text(str(r.flag), params, str(r.asset), str(r.proxy)))
        triggers.append(trigger_text(r))
    out = episodes.assign(rule=rules, trigger=triggers).sort_values("start", ascending=False, kind="stable")
    return out[[*EPISODE_TABLE_COLUMNS, *[c for c in ac.EPISODE_COLUMNS if c not in EPISODE_TABLE_COLUMNS]]] \
        .reset_index(drop=True)


def _pct(x: float) -> str:
    return "—" if not np.isfinite(x) else f"{math.expm1(x) * 100:+.1f}%"


def trigger_text(r: Any) -> str:
    """The numbers behind one episode, in words."""
    flag = str(r.flag)
    if flag in ("flight_to_safety", "risk_rotation"):
        return (f"{r.asset} {_pct(float(r.asset_move))}, {r.proxy} "
                f"{_pct(float(r.proxy_move))} at the start")
    start, extreme = float(r.corr_start), float(r.corr_extreme)
    if flag == "band_exit":
        return (f"correlation {start:+.2f} outside its band [{float(r.band_lo):+.2f}, "
                f"{float(r.band_hi):+.2f}]; furthest {extreme:+.2f}")
    return f"correlation turned {start:+.2f}; furthest {extreme:+.2f}"


def reading(view: View, *, labels: Mapping[str, str] | None = None) -> list[str]:
    """A short plain reading of the current state, one sentence per asset: its main-window correlation with
    each proxy, and whether that sits inside its band."""
    unit = "session" if view.params.alignment == "trading" and view.params.timeframe == "1d" else "observation"
    out = []
    assets = list(dict.fromkeys(p.split(PAIR_SEP)[0] for p in view.pairs))
    for a in assets:
        parts = []
        for pair in [p for p in view.pairs if p.startswith(a + PAIR_SEP)]:
            proxy = pair.split(PAIR_SEP)[1]
            est = view.current.get(pair)
            if est is None or not np.isfinite(est.value):
                parts.append(f"with {proxy} not available ({est.reason if est else 'no data'})")
                continue
            mean, lo, hi = view.band_now.get(pair, (math.nan, math.nan, math.nan))
            if np.isfinite(lo) and np.isfinite(hi):
                where = "inside" if lo <= est.value <= hi else ("above" if est.value > hi else "below")
                # mean ± k std can pass ±1; a correlation cannot, so the band is read out clipped
                parts.append(f"with {proxy} {est.value:.2f}, {where} its band ({max(lo, -1.0):+.2f} to "
                             f"{min(hi, 1.0):+.2f})")
            else:
                parts.append(f"with {proxy} {est.value:.2f} (too little history for a band)")
        if parts:
            out.append(f"{a}'s {view.params.window}-{unit} correlation " + "; ".join(parts) + ".")
    return out


def active_episodes(view: View) -> pd.DataFrame:
    """Episodes still running at the view's last observation."""
    if view.episodes.empty:
        return view.episodes
    return view.episodes[view.episodes["active"].astype(bool)].reset_index(drop=True)


def window_dates(returns: pd.DataFrame, window: int) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    """First and last observation of the last ``window`` returns."""
    if len(returns) == 0:
        return None, None
    tail = returns.index[-window:]
    return tail[0], tail[-1]


def pair_order(assets: Sequence[str], proxies: Sequence[str]) -> list[str]:
    return [pair_name(a, p) for a in assets for p in proxies]


# -- the Overview's summary: the page's default view, per asset ----------------------------------------------
OVERVIEW_WINDOW = 30  # DOMAIN.md: "the 30-day correlation"


@dataclass(frozen=True)
class AssetSummary:
    """One asset's current correlations with every proxy, its active flags and the link to the same view."""

    asset: str
    view: View
    link: dict[str, str]  # the Correlation page's URL parameters that reproduce ``view``


def link_params(params: Params) -> dict[str, str]:
    """URL parameters of the Correlation page that open ``params`` (the page's defaults left out)."""
    default = Params()
    out = {"assets": ",".join(params.assets)}
    if params.proxies != default.proxies:
        out["px"] = ",".join(params.proxies)
    if params.windows[0] != default.windows[0]:
        out["w"] = str(params.windows[0])
    return out


def overview(md: MarketData, assets: Sequence[str] = ("BTC", "ETH"),
             proxies: Sequence[str] | None = None) -> tuple[list[AssetSummary], Loaded]:
    """Each asset's Correlation-page default view (main window ``OVERVIEW_WINDOW``), computed from one load.

    Each asset gets its own view, as its link opens it (the page aligns only the series it shows)."""
    keys = tuple(proxies) if proxies is not None else tuple(md.proxies)
    # Only the main window: the page's second window never changes the main window's correlation, band or
    # flags, so the linked page shows these numbers without the Overview computing what it does not show.
    base = Params(assets=tuple(assets), proxies=keys, windows=(OVERVIEW_WINDOW,))
    loaded = load(md, base)
    sessions = sessions_for(md, loaded, base)
    out = []
    for a in assets:
        params = Params(assets=(a,), proxies=keys, windows=base.windows)
        keep = [n for n in loaded.closes if n == a or loaded.kinds.get(n) != "asset"]
        one = Loaded(closes={n: loaded.closes[n] for n in keep}, sources=loaded.sources, errors=loaded.errors,
                     kinds=loaded.kinds, ages=loaded.ages, stale=loaded.stale, start=loaded.start, end=loaded.end,
                     tokens={n: t for n, t in loaded.tokens.items() if n in keep})
        out.append(AssetSummary(asset=a, view=compute_shared(one, params, sessions=sessions),
                                link=link_params(params)))
    return out, loaded
