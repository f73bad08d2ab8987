"""Funding: what longs pay on each exchange now and over a window, normalized across funding intervals.

Inputs live in the URL (``components.ui_state.ViewState``): ``sym`` (bases), ``ex`` (venue ids), ``perp``
(which perp per exchange), ``win`` (7d ... 1y or custom with ``from``/``to``), ``unit``, ``cum`` (simple |
compounded), ``side``, ``n`` (notional), ``thr``/``xthr`` (elevated/extreme thresholds in % per 8h), ``hm``
(heatmap symbol) and ``as_of`` (pins the window's end). Histories of every exchange x symbol are fetched
concurrently; the math is in ``analytics.funding_stats``, the figures in ``components.charts_funding``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

import numpy as np
import pandas as pd
import streamlit as st

from analytics import funding as af
from analytics import funding_stats as fs
from components import charts_funding as charts
from components import ui
from components.derived import derived
from components.formatting import fmt_age, fmt_apr, fmt_pct, fmt_time, md_literal
from components.ui_state import ViewState
from components.urlparams import encode_float, encode_multi, format_as_of
from data_sources import DataSourceError, FrameResult

DEFAULT_BASES = ("BTC", "ETH", "SOL")
BASE_RE = re.compile(r"^[A-Z0-9]{2,12}$")
WINDOW_DAYS = {"7d": 7, "30d": 30, "90d": 90, "180d": 180, "1y": 365}
WINDOWS = (*WINDOW_DAYS, "custom")
MAX_DAYS = 366  # the facade's longest history window
UNIT_NAMES = {"interval": "Per interval", "8h": "Per 8h", "apr": "APR", "apy": "APY"}
UNIT_COLUMN = {"interval": "% per interval", "8h": "% per 8h", "apr": "% APR", "apy": "% APY"}
CSV_VALUE = {"interval": "rate_per_interval", "8h": "rate_8h", "apr": "apr", "apy": "apy"}  # fractions
PERP_NAMES = {
    "usdt": "USDT-margined where listed",
    "coin": "Coin-margined where listed",
    "all": "All perps",
}
CONVENTIONS = ("simple", "compounded")
SIDES = ("short", "long")
CURRENCY = "USD"
MAX_FETCH_WORKERS = 12
MAX_FLIPS_LISTED = 6  # the flag names the most recent ones; the statistics table has them all


def pct(x: pd.Series | np.ndarray) -> np.ndarray:
    """Fractions as percent numbers for sortable table columns (0.0001 -> 0.01)."""
    return np.asarray(x, dtype="float64") * 100.0


def pct_col(label: str, decimals: int, help_text: str | None = None, *, signed: bool = False) -> object:
    sign = "+" if signed else ""
    return st.column_config.NumberColumn(label, format=f"%{sign}.{decimals}f%%", help=help_text)


def table_height(rows: int, *, max_rows: int = 20) -> int:
    """Pixel height showing every row up to ``max_rows`` (st.dataframe rows are 35 px, plus the header)."""
    return 35 * (min(rows, max_rows) + 1) + 3


def countdown(seconds: float) -> str:
    if not np.isfinite(seconds):
        return "continuous"
    return "due" if seconds <= 0 else f"in {fmt_age(seconds)}"


def interval_text(hours: float, inferred: bool) -> str:
    if not np.isfinite(hours):
        return "—"
    return f"{hours:g} h" + (" (inferred)" if inferred else "")


def extra_bases(raw: str | None) -> list[str]:
    """Bases a link asks for beyond the defaults (well-formed ones; the rest is reported by ViewState)."""
    items = [x.strip().upper() for x in (raw or "").split(",")]
    return [x for x in dict.fromkeys(items) if BASE_RE.match(x) and x not in DEFAULT_BASES]


st.title("Funding")
st.caption(
    "What longs pay shorts on each exchange — now and over a window — normalized across funding intervals "
    "(1 h, 4 h, 8 h; Deribit accrues hourly). Rate > 0: longs pay shorts, so a short hedge earns it."
)

md = ui.market_data_or_stop()

# -- inputs: the URL seeds every widget; the widgets' values go back to the URL ---------------------------
vs = ViewState("funding")
now = md.now()
as_of = vs.as_of(now)
perp_bases, listing_complete = ui.listed_perp_bases(md)  # offered, so a user can pick rather than guess
listed_perps = sorted(perp_bases - set(DEFAULT_BASES))
sym_options = list(dict.fromkeys([*DEFAULT_BASES, *listed_perps, *extra_bases(st.query_params.get("sym"))]))
url_bases = vs.listed_or_default("sym", vs.multi("sym", sym_options, DEFAULT_BASES), DEFAULT_BASES,
                                 listed=perp_bases, complete=listing_complete)
url_venues = vs.multi("ex", md.venues, md.venues)
url_perp = vs.choice("perp", fs.PERP_PREFERENCES, "usdt")
url_win = vs.choice("win", WINDOWS, "30d")
latest_day = (as_of or now).date()
url_from = vs.day("from", earliest=latest_day - timedelta(days=730), latest=latest_day)
url_to = vs.day("to", earliest=latest_day - timedelta(days=730), latest=latest_day)
url_unit = vs.choice("unit", fs.UNITS, "8h")
url_cum = vs.choice("cum", CONVENTIONS, "simple")
url_side = vs.choice("side", SIDES, "short")
url_notional = vs.number("n", 100_000.0, lo=1.0, hi=1e12)
url_thr = vs.number("thr", af.ELEVATED_RATE_8H * 100, lo=0.0, hi=5.0)
url_xthr = vs.number("xthr", fs.EXTREME_RATE_8H * 100, lo=0.0, hi=50.0)

row1 = st.columns([3, 4, 3])
chosen_bases = row1[0].multiselect(
    "Symbols", sym_options, default=url_bases, key="fund_sym", accept_new_options=True, max_selections=8,
    help="Base assets. Type another base (e.g. DOGE) to add it; each exchange's perp of it is used.")
venues = row1[1].multiselect("Exchanges", md.venues, default=url_venues, format_func=md.venue_label,
                             key="fund_ex")
perp = row1[2].selectbox(
    "Perp per exchange", fs.PERP_PREFERENCES, index=fs.PERP_PREFERENCES.index(url_perp),
    format_func=PERP_NAMES.get, key="fund_perp",
    help="Where an exchange lists several perps of a base: the linear USDT one (else USDC, else its "
    "coin-margined one, e.g. Deribit and Binance COIN-M), the coin-margined one, or all of them.")

row2 = st.columns([2, 2, 2, 4])
win = row2[0].selectbox("Window", WINDOWS, index=WINDOWS.index(url_win), key="fund_win",
                        format_func=lambda w: "Custom dates" if w == "custom" else w,
                        help="Ends at the pinned time (as_of) or now.")
d_from: date | None = None
d_to: date | None = None
if win == "custom":
    d_from = row2[1].date_input("From (UTC)", value=url_from or latest_day - timedelta(days=30),
                                min_value=latest_day - timedelta(days=730), max_value=latest_day, key="fund_from")
    d_to = row2[2].date_input("To (UTC, inclusive)", value=url_to or latest_day,
                              min_value=latest_day - timedelta(days=730), max_value=latest_day, key="fund_to")
unit = row2[3].radio("Unit", fs.UNITS, index=fs.UNITS.index(url_unit), format_func=UNIT_NAMES.get,
                     horizontal=True, key="fund_unit",
                     help="Per interval: as paid. Per 8h: rate × 8 / h. APR: rate × 24 × 365 / h (simple). "
                     "APY: (1 + rate) ^ (24 × 365 / h) − 1 (compounded). Each row uses its own interval h.")

row3 = st.columns([3, 2, 2, 2, 2, 2], vertical_alignment="bottom")
cum_conv = row3[0].radio("Cumulative", CONVENTIONS, index=CONVENTIONS.index(url_cum), horizontal=True,
                         format_func=str.capitalize,
                         key="fund_cum", help="Simple: sum of rates. Compounded: ∏(1 + rate) − 1.")
side = row3[1].radio("Position", SIDES, index=SIDES.index(url_side), horizontal=True, key="fund_side",
                     format_func=str.capitalize, help="Whose funding P&L the cumulative chart shows.")
notional = row3[2].number_input(f"Notional ({CURRENCY})", min_value=1.0, max_value=1e12, value=url_notional,
                                step=10_000.0, format="%.0f", key="fund_n")
thr_pct = row3[3].number_input("Elevated beyond ± (% per 8h)", min_value=0.0, max_value=5.0, value=url_thr,
                               step=0.005, format="%.4f", key="fund_thr",
                               help="Seeds' warning level: 0.01% per 8h (Binance's default interest rate).")
xthr_pct = row3[4].number_input("Extreme beyond ± (% per 8h)", min_value=0.0, max_value=50.0, value=url_xthr,
                                step=0.05, format="%.4f", key="fund_xthr", help="Default 0.1% per 8h (≈110% APR).")
pinned = row3[5].toggle("Pin window end", value=as_of is not None, key="fund_pin",
                        help="Writes the window's end (as_of) into the link so it shows the same history later.")
if pinned and as_of is None:
    as_of = now.floor("min")
elif not pinned:
    as_of = None

# -- validate the choices --------------------------------------------------------------------------------
bases = [b.strip().upper() for b in chosen_bases]
bad_bases = [b for b in bases if not BASE_RE.match(b)]
bases = [b for b in dict.fromkeys(bases) if BASE_RE.match(b)]
end = as_of if as_of is not None else now
if win == "custom" and d_from is not None and d_to is not None:
    start = pd.Timestamp(d_from, tz="UTC")
    end = min(end, pd.Timestamp(d_to, tz="UTC") + pd.Timedelta(days=1))
else:
    start = end - pd.Timedelta(days=WINDOW_DAYS.get(win, 30))
window_problem = None
if end - start > pd.Timedelta(days=MAX_DAYS):
    start = end - pd.Timedelta(days=MAX_DAYS)
    window_problem = f"Windows are at most {MAX_DAYS} days: showing the last {MAX_DAYS} days up to the end date."
open_ended = end >= now  # the facade caches an open-ended window until the next settlement

vs.sync({
    "sym": encode_multi(bases), "ex": encode_multi(venues), "perp": perp, "win": win,
    "from": d_from.isoformat() if isinstance(d_from, date) else None,
    "to": d_to.isoformat() if isinstance(d_to, date) else None,
    "unit": unit, "cum": cum_conv, "side": side, "n": encode_float(notional),
    "thr": encode_float(thr_pct), "xthr": encode_float(xthr_pct),
    "as_of": format_as_of(as_of),
})
vs.show_problems()
if bad_bases:
    st.warning(f"Ignored {', '.join(repr(b) for b in bad_bases)}: a base is 2-12 letters or digits (e.g. DOGE).")
if window_problem:
    st.warning(window_problem)
if start >= end:
    st.error("The window is empty: choose a start date before the end date.")
    st.stop()
if not bases or not venues:
    st.info("Choose at least one symbol and one exchange.")
    st.stop()

thr = float(thr_pct) / 100.0
xthr = float(xthr_pct) / 100.0
compounded = cum_conv == "compounded"
window_text = (f"{fmt_time(start)} → {fmt_time(end)} ({(end - start) / pd.Timedelta(days=1):.0f} days, "
               + ("pinned" if as_of is not None else "custom" if win == "custom" else "ending now") + ")")

# -- data: current funding, then every chosen perp's history concurrently ---------------------------------
try:
    now_res = md.funding_now(bases=bases, venues=venues)
except DataSourceError as e:
    st.error(f"Could not load current funding: {e}", icon=":material/error:")
    st.stop()
ui.venue_errors(now_res.errors, label=md.venue_label, what="current funding")

# Everything derived from the data is computed once per version of it (keyed on the results' tokens,
# components.derived). Settlements fall on whole minutes, so a window cut to the minute holds the same ones.
picked_key = ("funding_picked", now_res.token, perp, tuple(bases), tuple(venues))
picked = derived(picked_key, lambda: fs.label_series(fs.pick_perps(now_res.frame, prefer=perp), label=md.venue_label,
                                                     venue_order=md.venues, base_order=bases))
answered = [v for v in venues if v not in now_res.errors]
unlisted = [f"{b} on {md.venue_label(v)}" for b in bases for v in answered
            if picked[(picked["base"] == b) & (picked["venue"] == v)].empty]
if picked.empty:
    st.warning("None of the chosen exchanges lists a perpetual of " + ", ".join(bases) + ".")
    st.stop()


def fetch_histories(rows: pd.DataFrame) -> tuple[dict[str, pd.DataFrame], dict[str, str], list[FrameResult]]:
    """Every series' funding history, fetched concurrently (the facade is thread-safe and caches each)."""
    until = None if open_ended else end
    workers = max(1, min(MAX_FETCH_WORKERS, len(rows)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="carrydesk-funding") as pool:
        futures = {str(r.series): pool.submit(md.funding_history, r.venue, r.symbol, start, until)
                   for r in rows.itertuples(index=False)}
    parts: dict[str, pd.DataFrame] = {}
    errors: dict[str, str] = {}
    results: list[FrameResult] = []
    for series, fut in futures.items():
        try:
            res = fut.result()
        except DataSourceError as e:
            errors[series] = str(e)
            continue
        if res.frame.empty:  # an answer without settlements must not just vanish from the charts
            errors[series] = "the exchange returned no funding settlements for this window"
            continue
        parts[series] = res.frame
        results.append(res)
    return parts, errors, results


parts, hist_errors, hist_results = fetch_histories(picked)
if hist_errors:
    st.warning("Funding history missing for:\n" + "\n".join(f"- {s}: {m}" for s, m in hist_errors.items()),
               icon=":material/warning:")
hist_key = ("funding_history", picked_key, tuple(r.token for r in hist_results), tuple(hist_errors),
            start.floor("min"), end.floor("min"))
hist = derived(hist_key, lambda: fs.clip_window(fs.combine_histories(parts, picked), start, end))
hist_u = derived((*hist_key, unit), lambda: fs.normalize_frame(hist, unit=unit))
stats = derived((*hist_key, unit, thr),
                lambda: fs.window_stats(hist, unit=unit, threshold_8h=thr, start=start, end=end))
nowf = fs.now_figures(picked, at=now, threshold_8h=thr, extreme_8h=xthr)
stale = {**now_res.stale, **{v: a for r in hist_results for v, a in r.stale.items()}}
age = max([now_res.age_s, *[r.age_s for r in hist_results]])

# -- flags -------------------------------------------------------------------------------------------------
FLAG_TEXT: dict[str, tuple[str, Callable[..., object], str]] = {
    "extreme positive": ("Extreme positive funding now", st.warning, ":material/trending_up:"),
    "extreme negative": ("Extreme negative funding now", st.warning, ":material/trending_down:"),
    "elevated positive": ("Elevated positive funding now", st.info, ":material/north_east:"),
    "elevated negative": ("Negative funding beyond the threshold now", st.info, ":material/south_east:"),
}
LIMITS = {"extreme positive": f"above +{xthr_pct:.4f}% per 8h", "extreme negative": f"below −{xthr_pct:.4f}% per 8h",
          "elevated positive": f"above +{thr_pct:.4f}% per 8h", "elevated negative": f"below −{thr_pct:.4f}% per 8h"}
flagged_any = False
for level, (title, box, icon) in FLAG_TEXT.items():
    rows = nowf[nowf["flag"] == level]
    if rows.empty:
        continue
    flagged_any = True
    items = ", ".join(f"{r.series} {fmt_pct(r.rate_8h, decimals=4, signed=True)} ({fmt_apr(r.apr)} APR)"
                      for r in rows.itertuples(index=False))
    who = "longs pay shorts" if "positive" in level else "shorts pay longs"
    box(f"**{title}** ({LIMITS[level]}; {who}): {items}", icon=icon)
flips = stats[stats["flips"] > 0].sort_values("last_flip", ascending=False, kind="stable")
if not flips.empty:
    flagged_any = True
    shown = flips.head(MAX_FLIPS_LISTED)
    more = len(flips) - len(shown)
    st.info("**Funding changed sign within the window** (most recent first): " + ", ".join(
        f"{r.series} ({r.flips}×, last {fmt_time(r.last_flip)})" for r in shown.itertuples(index=False))
        + (f", and {more} more (see 'Sign flips' in the statistics below)" if more else ""),
        icon=":material/swap_vert:")
if not flagged_any:
    st.success(f"No funding beyond ±{thr_pct:.4f}% per 8h now, and no sign change within the window.",
               icon=":material/check_circle:")

# -- now ---------------------------------------------------------------------------------------------------
st.subheader("Now")
now_table = pd.DataFrame({
    "Symbol": nowf["base"],
    "Exchange": nowf["exchange"],
    "Perp": nowf["symbol"],
    "Margin": [fs.margin_tag(bool(lin), str(s)) for lin, s in zip(nowf["linear"], nowf["settle"], strict=True)],
    "Rate": pct(nowf["rate"]),
    "Interval": [interval_text(h, bool(i)) for h, i in
                 zip(nowf["interval_hours"], nowf["interval_inferred"], strict=True)],
    "Per 8h": pct(nowf["rate_8h"]),
    "APR": pct(nowf["apr"]),
    "Predicted rate": pct(nowf["predicted_rate"]),
    "Next funding": nowf["next_funding_time"],
    "Countdown": [countdown(s) for s in nowf["seconds_to_next"]],
    "Flag": nowf["flag"],
})
ui.table(now_table, height=table_height(len(now_table)),
         key="fund_now_table", column_config={
    "Rate": pct_col("Rate", 4, "Current rate per funding interval, as the exchange reports it."),
    "Interval": st.column_config.TextColumn("Interval", help="Funding interval; '(inferred)' where the exchange "
                                            "does not state it and it was inferred from settlement spacing."),
    "Per 8h": pct_col("Per 8h", 4, "rate × 8 / interval hours"),
    "APR": pct_col("APR", 2, "rate × 24 × 365 / interval hours (simple)"),
    "Predicted rate": pct_col("Predicted rate", 4, "The exchange's predicted next rate, where it gives one."),
    "Next funding": st.column_config.DatetimeColumn("Next funding (UTC)", format="YYYY-MM-DD HH:mm"),
    "Countdown": st.column_config.TextColumn("Countdown", help=f"From {fmt_time(now)}. Deribit funds "
                                             "continuously (no settlement time)."),
})
st.caption(
    f"Current values as of {fmt_time(now)}" + (" — live, not pinned to as_of" if as_of is not None else "")
    + ". Per exchange and symbol: " + PERP_NAMES[perp].lower() + ("" if perp == "all" else
    "; exchanges listing only coin-margined perps (Deribit, Binance COIN-M) show those")
    + ". Deribit: funding realised over the last 8 h, as an 8h rate."
    + (f" Not listed: {', '.join(unlisted)}." if unlisted else "")
)
ui.csv_download("Now table CSV", now_table, "funding_now", key="fund_now_csv")

left, right = st.columns([2, 3])
with left:
    current, current_figure = derived((*picked_key, "heatmap"), lambda: (
        m := fs.current_matrix(nowf, value="apr", row_order=list(dict.fromkeys(picked["exchange"])), col_order=bases),
        charts.current_heatmap_figure(m)))
    st.plotly_chart(current_figure, width="stretch", theme=None, key="fund_heat_now")
    ui.csv_download("Heatmap CSV", current.reset_index(), "funding_apr_heatmap", key="fund_heat_now_csv")
with right:
    spread_now = fs.spread_table(nowf, value="apr", order=bases)
    spread_win = fs.spread_table(stats, value="apr_mean", order=bases)
    spread = pd.DataFrame({
        "Symbol": spread_now["base"],
        "Highest now": spread_now["highest"],
        "Highest APR": pct(spread_now["highest_value"]),
        "Lowest now": spread_now["lowest"],
        "Lowest APR": pct(spread_now["lowest_value"]),
        "Spread APR": pct(spread_now["spread"]),
        "Window spread APR": pct(spread_win.set_index("base").reindex(spread_now["base"])["spread"]),
    })
    st.markdown("**Cross-exchange spread**")
    ui.table(spread, key="fund_spread", column_config={
        "Highest APR": pct_col("Highest APR", 2), "Lowest APR": pct_col("Lowest APR", 2),
        "Spread APR": pct_col("Spread APR", 2, "Highest minus lowest current APR across exchanges."),
        "Window spread APR": pct_col("Window spread APR", 2, "Highest minus lowest time-weighted mean APR over "
                                     "the window (the means are in the statistics table)."),
    })
    st.caption("APR simple (rate × 24 × 365 / h). The spread is what a long on the cheapest exchange and a "
               "short on the richest would collect per year, before fees and basis moves.")
    ui.csv_download("Spread CSV", spread, "funding_spread", key="fund_spread_csv")

# -- history -----------------------------------------------------------------------------------------------
st.subheader("History")
st.caption(f"Window: {window_text}. {len(hist):,} settlements; every row normalized with its own interval.")
intervals = sorted(set(hist["interval_hours"].dropna())) if not hist.empty else []
bands = fs.threshold_bands(thr, unit=unit, intervals=intervals)
history_data = hist_u[["series", "venue", "symbol", "ts", "rate", "interval_hours", "value"]].rename(
    columns={"value": CSV_VALUE[unit]})
st.plotly_chart(derived((*hist_key, unit, thr_pct, "figure"), lambda: charts.history_figure(
    hist_u, unit=unit, bands=bands, band_label=f"±{thr_pct:.4f}% per 8h")),
                width="stretch", theme=None, key="fund_history")
ui.csv_download("History CSV", history_data, "funding_history", key="fund_history_csv")

st.subheader("Cumulative")
cum_key = (*hist_key, compounded, float(notional))
cum = derived(cum_key, lambda: fs.cumulative_frame(hist, compounded=compounded, notional=float(notional)))
st.plotly_chart(derived((*cum_key, side), lambda: charts.cumulative_figure(
    cum, side=side, notional=float(notional), currency=CURRENCY, compounded=compounded)),
    width="stretch", theme=None, key="fund_cum_chart")
summary = derived((*cum_key, "summary"),
                  lambda: fs.cumulative_summary(hist, compounded=compounded, notional=float(notional)))
summary_table = pd.DataFrame({
    "Symbol": summary["base"], "Exchange": summary["exchange"], "Settlements": summary["periods"],
    "Long (%)": pct(summary["long_pnl"]), f"Long ({CURRENCY})": summary["long_amount"],
    "Short (%)": pct(summary["short_pnl"]), f"Short ({CURRENCY})": summary["short_amount"],
})
ui.table(summary_table, height=table_height(len(summary_table)),
         key="fund_cum_table", column_config={
    "Long (%)": pct_col("Long (%)", 3, signed=True), "Short (%)": pct_col("Short (%)", 3, signed=True),
    f"Long ({CURRENCY})": st.column_config.NumberColumn(format="%+,.2f"),
    f"Short ({CURRENCY})": st.column_config.NumberColumn(format="%+,.2f"),
})
st.caption(f"Over the window, {cum_conv}: " + ("sum of settled rates" if not compounded else "∏(1 + rate) − 1")
           + f" on a {float(notional):,.0f} {CURRENCY} notional. Longs pay what shorts receive (negative: shorts "
           "paid). Inverse perps pay funding in the coin; shown at its USD value.")
cum_data = cum[["series", "venue", "symbol", "ts", f"{side}_pnl", f"{side}_amount"]]
ui.csv_download("Cumulative CSV", cum_data, "funding_cumulative", key="fund_cum_csv")

# -- heatmap over time -------------------------------------------------------------------------------------
st.subheader("Heatmap over time")
raw_hm = str(st.query_params.get("hm", "")).upper()
url_hm = raw_hm if raw_hm in bases else bases[0]  # silently: removing a symbol must not warn about the link
if raw_hm and raw_hm not in sym_options:  # ...but a symbol the page never offers is a tampered link
    hm_problem = f"hm={st.query_params.get('hm', '')[:80]!r} is not one of {', '.join(bases)}; showing {url_hm}"
    st.warning("Link parameter ignored: " + md_literal(hm_problem), icon=":material/link_off:")
hm_base = st.columns([1, 3])[0].selectbox("Symbol", bases, index=bases.index(url_hm), key="fund_hm")
vs.sync({"hm": hm_base})
days = (end - start) / pd.Timedelta(days=1)
bin_hours = 8.0 if days <= 31 else 24.0


def heatmap() -> tuple[pd.DataFrame, object]:
    one = hist_u[hist_u["base"] == hm_base]
    m = fs.history_matrix(one, freq_hours=bin_hours, row_order=list(dict.fromkeys(one["exchange"])))
    return m, charts.history_heatmap_figure(
        m, unit=unit, title=f"{hm_base} funding {fs.UNIT_LABELS[unit]}, mean per {bin_hours:g} h bin")


matrix, heatmap_figure = derived((*hist_key, unit, hm_base, bin_hours, "heatmap"), heatmap)
st.plotly_chart(heatmap_figure, width="stretch", theme=None, key="fund_heat_history")
ui.csv_download("Heatmap over time CSV", matrix.T.reset_index(), "funding_heatmap_history", key="fund_heat_history_csv")

# -- statistics --------------------------------------------------------------------------------------------
st.subheader("Statistics over the window")
u = UNIT_COLUMN[unit]
dec = 4 if unit in ("interval", "8h") else 2
stats_table = pd.DataFrame({
    "Symbol": stats["base"], "Exchange": stats["exchange"], "Perp": stats["symbol"],
    "Interval (h)": stats["interval_hours"], "Inferred": stats["interval_inferred"],
    "Periods": stats["periods"], "Expected": stats["expected"],
    f"Mean ({u})": pct(stats["mean"]), f"Median ({u})": pct(stats["median"]), f"Std ({u})": pct(stats["std"]),
    f"Min ({u})": pct(stats["min"]), f"Max ({u})": pct(stats["max"]),
    "Positive (%)": pct(stats["pct_positive"]), "Above +thr": stats["above"], "Below −thr": stats["below"],
    "Mean APR": pct(stats["apr_mean"]), "Realized APY": pct(stats["apy_realized"]),
    "Sign flips": stats["flips"], "Last flip": stats["last_flip"],
})
stats_config = {c: pct_col(c, dec) for c in stats_table.columns if c.endswith(f"({u})")}
stats_config.update({
    "Inferred": st.column_config.CheckboxColumn("Inferred", help="The exchange did not state the interval; it "
                                                "was inferred from the spacing of its settlements."),
    "Positive (%)": pct_col("Positive (%)", 1, "Share of settlements with rate > 0 (longs paid)."),
    "Expected": st.column_config.NumberColumn("Expected", format="%d",
                                              help="Settlements the interval grid holds in the window."),
    "Above +thr": st.column_config.NumberColumn(help=f"Settlements above +{thr_pct:.4f}% per 8h."),
    "Below −thr": st.column_config.NumberColumn(help=f"Settlements below −{thr_pct:.4f}% per 8h."),
    "Mean APR": pct_col("Mean APR", 2, "Time-weighted: sum(rate) × 8760 / hours covered (simple)."),
    "Realized APY": pct_col("Realized APY", 2, "∏(1 + rate) annualized over the hours covered."),
    "Last flip": st.column_config.DatetimeColumn("Last flip (UTC)", format="YYYY-MM-DD HH:mm"),
})
ui.table(stats_table, height=table_height(len(stats_table)),
         key="fund_stats", column_config=stats_config)
st.caption(f"Window: {window_text}. Periods vs expected shows gaps in an exchange's history.")
ui.csv_download("Statistics CSV", stats_table, "funding_stats", key="fund_stats_csv")

ui.freshness(age, stale=stale, label=md.venue_label)
