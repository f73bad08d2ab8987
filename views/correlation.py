"""Correlation: is BTC trading like a tech stock or like gold right now, and has that just broken?

Inputs live in the URL (``components.ui_state.ViewState``): ``assets``, ``px`` (proxies: gold, nasdaq),
``tf`` (1d | 4h), ``w`` and ``w2`` (rolling windows in observations), ``lb`` (lookback days), ``align``
(trading | calendar), ``as_of`` (pins the view's end) and the decoupling thresholds ``k``, ``drop``,
``rise``, ``flat``, ``idrop``, ``sthr``, ``bk``. Data: ``components.correlation_view.load`` (candles through
the facade); math: ``analytics.correlation`` via ``correlation_view.compute``; figures:
``components.charts_correlation``.
"""

from __future__ import annotations

import re

import pandas as pd
import streamlit as st

from analytics import correlation as ac
from components import charts_correlation as charts
from components import correlation_view as cv
from components import ui
from components.derived import derived
from components.formatting import fmt_time
from components.ui_state import ViewState
from components.urlparams import encode_float, encode_multi, format_as_of

DEFAULT_ASSETS = ("BTC", "ETH")
BASE_RE = re.compile(r"^[A-Z0-9]{2,12}$")
ALIGN_NAMES = {"trading": "NYSE trading days", "calendar": "Calendar days"}
ALIGN_IN_TITLE = {"trading": "NYSE trading days", "calendar": "calendar days"}
TF_NAMES = {"1d": "1 day", "4h": "4 hours"}
FLAG_NAMES = {"flight_to_safety": "Flight to safety without BTC", "risk_rotation": "Rotation out of risk",
              "band_exit": "Correlation left its band", "sign_change": "Correlation changed sign"}


def extra_bases(raw: str | None) -> list[str]:
    items = [x.strip().upper() for x in (raw or "").split(",")]
    return [x for x in dict.fromkeys(items) if BASE_RE.match(x) and x not in DEFAULT_ASSETS]


st.title("Correlation")
st.caption(
    "Rolling correlation of crypto log returns with gold and Nasdaq-100 proxies, beta, the correlation "
    "matrix and decoupling flags (seed 001, table 1). Correlation of log returns, never of price levels."
)

md = ui.market_data_or_stop()
vs = ViewState("correlation")
now = md.now()
proxies = md.proxies

# -- inputs ------------------------------------------------------------------------------------------------
perp_bases, listing_complete = ui.listed_perp_bases(md)
listed = sorted(perp_bases - set(DEFAULT_ASSETS))
asset_options = list(dict.fromkeys([*DEFAULT_ASSETS, *listed, *extra_bases(st.query_params.get("assets"))]))
url_assets = vs.listed_or_default("assets", vs.multi("assets", asset_options, DEFAULT_ASSETS), DEFAULT_ASSETS,
                                  listed=perp_bases, complete=listing_complete)
url_px = vs.multi("px", list(proxies), list(proxies))
url_tf = vs.choice("tf", list(cv.TIMEFRAMES), "1d")
lookbacks = [str(d) for d in cv.LOOKBACKS[url_tf]]
url_lb = vs.choice("lb", lookbacks, str(cv.DEFAULT_LOOKBACK[url_tf]))
url_w = int(vs.number("w", 30, lo=5, hi=250))
url_w2 = int(vs.number("w2", 90, lo=0, hi=500))
url_align = vs.choice("align", list(ac.ALIGNMENTS), "trading")
url_as_of = vs.as_of(now)
D = ac.DEFAULTS
url_k = int(vs.number("k", float(D["k"]), lo=1, hi=60))
url_drop = vs.number("drop", float(D["asset_drop"]) * 100, lo=0.0, hi=90.0)
url_rise = vs.number("rise", float(D["gold_rise"]) * 100, lo=0.0, hi=90.0)
url_flat = vs.number("flat", float(D["flat"]) * 100, lo=0.0, hi=90.0)
url_idrop = vs.number("idrop", float(D["index_drop"]) * 100, lo=0.0, hi=90.0)
url_sthr = vs.number("sthr", float(D["sign_threshold"]), lo=0.0, hi=0.9)
url_bk = vs.number("bk", float(D["band_k"]), lo=0.5, hi=5.0)

row1 = st.columns([2.6, 4.2, 1.2, 1.2, 1.5], vertical_alignment="bottom")
assets = row1[0].multiselect("Assets", asset_options, default=url_assets, key="corr_assets", max_selections=6,
                             accept_new_options=True, help="Crypto assets: Binance spot close where listed, else "
                             "the first exchange's linear perp. Type another base (e.g. DOGE) to add it.")
chosen_px = row1[1].multiselect("Proxies", list(proxies), default=url_px, key="corr_px",
                                format_func=lambda k: f"{proxies[k].label} ({proxies[k].symbol}, "
                                                      f"{md.venue_label(proxies[k].venue)})",
                                help="Configured in carrydesk.toml or CARRYDESK_PROXY_GOLD / CARRYDESK_PROXY_NASDAQ "
                                     "(venue:symbol).")
tf = row1[2].selectbox("Timeframe", list(cv.TIMEFRAMES), index=list(cv.TIMEFRAMES).index(url_tf),
                       format_func=TF_NAMES.get, key="corr_tf")
lookbacks = [str(d) for d in cv.LOOKBACKS[tf]]
lb_value = url_lb if url_lb in lookbacks else str(cv.DEFAULT_LOOKBACK[tf])
lb = row1[3].selectbox("Lookback", lookbacks, index=lookbacks.index(lb_value), key=f"corr_lb_{tf}",
                       format_func=lambda d: f"{d} days")
align = row1[4].radio("Alignment", list(ac.ALIGNMENTS), index=list(ac.ALIGNMENTS).index(url_align),
                      format_func=ALIGN_NAMES.get, key="corr_align", horizontal=True,
                      help="NYSE trading days: returns from one session's close to the next for every series "
                           "(weekends and holidays folded into the next session). Calendar days: every day; the "
                           "equity proxy then shows flat weekends, which pulls correlation toward zero.")

row2 = st.columns([1.2, 1.2, 1.6, 4], vertical_alignment="bottom")
w = int(row2[0].number_input("Window (obs.)", min_value=5, max_value=250, value=url_w, step=5, key="corr_w",
                             help="Observations in the rolling window; the band, flags, beta and matrix use it."))
w2 = int(row2[1].number_input("Second window", min_value=0, max_value=500, value=url_w2, step=10, key="corr_w2",
                              help="A longer window drawn beside the first (0: none)."))
pinned = row2[2].toggle("Pin window end", value=url_as_of is not None, key="corr_pin",
                        help="Writes the view's end (as_of) into the link so it shows the same numbers later.")
as_of = (url_as_of if url_as_of is not None else now.floor("D")) if pinned else None

with st.expander("Decoupling rules and thresholds", icon=":material/tune:"):
    r = st.columns(7)
    k = int(r[0].number_input("k (sessions)", min_value=1, max_value=60, value=url_k, key="corr_k",
                              help="Observations the two move rules look back over."))
    drop = r[1].number_input("BTC drop ≥ %", min_value=0.0, max_value=90.0, value=url_drop, step=0.5,
                             format="%.2f", key="corr_drop")
    rise = r[2].number_input("Gold rise ≥ %", min_value=0.0, max_value=90.0, value=url_rise, step=0.25,
                             format="%.2f", key="corr_rise")
    flat = r[3].number_input("BTC flat within ± %", min_value=0.0, max_value=90.0, value=url_flat, step=0.25,
                             format="%.2f", key="corr_flat")
    idrop = r[4].number_input("Index drop ≥ %", min_value=0.0, max_value=90.0, value=url_idrop, step=0.25,
                              format="%.2f", key="corr_idrop")
    sthr = r[5].number_input("Sign beyond ±", min_value=0.0, max_value=0.9, value=url_sthr, step=0.05,
                             format="%.2f", key="corr_sthr",
                             help="A sign change counts when the correlation crosses from beyond +x to beyond −x.")
    bk = r[6].number_input("Band ± std", min_value=0.5, max_value=5.0, value=url_bk, step=0.5, format="%.1f",
                           key="corr_bk")

bad_assets = [a for a in (x.strip().upper() for x in assets) if not BASE_RE.match(a)]
assets = [a for a in dict.fromkeys(x.strip().upper() for x in assets) if BASE_RE.match(a)]
windows = tuple(dict.fromkeys(x for x in (w, w2) if x > 0))
vs.sync({
    "assets": encode_multi(assets), "px": encode_multi(chosen_px), "tf": tf, "lb": lb, "w": str(w),
    "w2": str(w2), "align": align, "as_of": format_as_of(as_of),
    "k": str(k), "drop": encode_float(drop), "rise": encode_float(rise), "flat": encode_float(flat),
    "idrop": encode_float(idrop), "sthr": encode_float(sthr), "bk": encode_float(bk),
})
vs.show_problems()
if bad_assets:
    st.warning(f"Ignored {', '.join(repr(a) for a in bad_assets)}: an asset is 2-12 letters or digits (e.g. DOGE).")
if not assets or not chosen_px:
    st.info("Choose at least one asset and one proxy.")
    st.stop()

params = cv.Params(assets=tuple(assets), proxies=tuple(chosen_px), timeframe=tf, windows=windows,
                   lookback_days=int(lb), as_of=as_of, alignment=align, k=k, asset_drop=drop / 100,
                   gold_rise=rise / 100, flat=flat / 100, index_drop=idrop / 100, sign_threshold=sthr, band_k=bk)

# -- data --------------------------------------------------------------------------------------------------
loaded = cv.load(md, params)
for name, message in loaded.errors.items():
    if loaded.kinds.get(name) in ("gold", "nasdaq"):
        what = f"the {name} proxy ({loaded.sources.get(name, '')})"
    else:
        what = f"the asset {name}"
    st.error(f"Could not load {what}: {message}. The rest of the page is computed without it.",
             icon=":material/error:")
sessions = cv.sessions_for(md, loaded, params)
view = cv.compute_shared(loaded, params, sessions=sessions)  # once per version of the data (components.derived)
view_key = ("correlation", params, loaded.key())
if not view.pairs:
    st.warning("Nothing to correlate: no asset and proxy both answered.")
    st.stop()
for name, why in view.short_history.items():
    st.info(f"{name}: {why}. Nothing is padded or extrapolated.", icon=":material/history:")

first, last = cv.window_dates(view.returns, params.window)
unit = "sessions" if align == "trading" and tf == "1d" else "observations"
counts = view.pair_returns.groupby("pair").size().reindex(view.pairs, fill_value=0)
n_text = f"{counts.min():,}" if counts.min() == counts.max() else f"{counts.min():,}–{counts.max():,}"
st.caption(f"**{view.alignment_text}** {n_text} aligned returns a pair of {TF_NAMES[tf]} closes "
           f"(each bar's close, the same UTC instant for every series), up to {fmt_time(loaded.end)}"
           + (" (pinned)." if as_of is not None else ".")
           + f" Main window: {params.window} {unit}, {fmt_time(first)} → {fmt_time(last)}. "
           + "Sources: " + "; ".join(f"{n}: {s}" for n, s in loaded.sources.items() if n not in loaded.errors)
           + ".")

# -- the reading and the flags -------------------------------------------------------------------------------
for sentence in cv.reading(view):
    st.info(sentence, icon=":material/insights:")
active = cv.active_episodes(view)
if active.empty:
    st.success("No decoupling flag is active at the view's end.", icon=":material/check_circle:")
for row in active.itertuples(index=False):
    st.warning(f"**{FLAG_NAMES.get(str(row.flag), row.flag)}: {row.pair}** since {fmt_time(row.start)} — "
               f"{row.trigger}. Rule: {row.rule}.", icon=":material/crisis_alert:")

# -- charts ------------------------------------------------------------------------------------------------
prices_title = f"Prices rebased to 100 ({TF_NAMES[tf]} closes, {ALIGN_IN_TITLE[align]})"
st.plotly_chart(derived((*view_key, "prices", prices_title),
                        lambda: charts.rebased_figure(view.prices, title=prices_title)),
                width="stretch", theme=None, key="corr_prices")
pairs = view.pairs
rolling_title = (f"Rolling correlation of log returns ({', '.join(str(x) for x in windows)} {unit}); band: "
                 f"{params.window}-{unit[:-1]} correlation's mean ± {bk:g} std over the trailing {view.band_obs} "
                 f"observations; ◆ episode starts")
st.plotly_chart(derived((*view_key, "rolling", rolling_title), lambda: charts.correlation_figure(
    view.rolling, view.episodes, pairs=pairs, windows=windows, band_window=params.window, title=rolling_title)),
    width="stretch", theme=None, key="corr_rolling")
left, right = st.columns([3, 2])
with left:
    beta_title = f"Rolling beta, {params.window} {unit}: cov(asset, proxy) / var(proxy)"
    st.plotly_chart(derived((*view_key, "beta", beta_title), lambda: charts.beta_figure(
        view.rolling, pairs=pairs, window=params.window, title=beta_title)), width="stretch", theme=None,
        key="corr_beta")
with right:
    matrix_title = f"Correlation matrix, last {params.window} {unit} to {fmt_time(last)}"
    st.plotly_chart(derived((*view_key, "matrix", matrix_title),
                            lambda: charts.matrix_figure(view.matrix, title=matrix_title)),
                    width="stretch", theme=None, key="corr_matrix")

# -- episodes ------------------------------------------------------------------------------------------------
st.subheader("Decoupling episodes")
rules = {flag: cv.rule_text(flag, params, "BTC", "the proxy") for flag in FLAG_NAMES}
st.caption("Rules: " + " · ".join(f"**{FLAG_NAMES[f]}**: {t}" for f, t in rules.items()) + ".")
episode_table = pd.DataFrame({
    "Pair": view.episodes["pair"], "Flag": view.episodes["flag"].map(FLAG_NAMES),
    "Start (UTC)": view.episodes["start"], "End (UTC)": view.episodes["end"],
    "Observations": view.episodes["observations"], "Active": view.episodes["active"].astype(bool),
    "Trigger": view.episodes["trigger"],
})
ui.table(episode_table, key="corr_episodes", column_config={
    "Start (UTC)": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
    "End (UTC)": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
})
if view.episodes.empty:
    st.caption(f"No episode over the {lb}-day lookback.")

# -- downloads and freshness ---------------------------------------------------------------------------------
c = st.columns(4)
ui.csv_download("Aligned returns CSV", view.pair_returns, "correlation_returns", key="corr_returns_csv", where=c[0])
ui.csv_download("Rolling series CSV", view.rolling, "correlation_rolling", key="corr_rolling_csv", where=c[1])
ui.csv_download("Episodes CSV", view.episodes, "correlation_episodes", key="corr_episodes_csv", where=c[2])
ui.csv_download("Prices CSV", view.prices, "correlation_prices", key="corr_prices_csv", where=c[3])
ui.freshness(max(loaded.ages) if loaded.ages else None, stale=loaded.stale, label=md.venue_label)
