"""Perp premium: where perps trade against the index now, how stretched that is, and does funding agree.

Inputs live in the URL (``base``, ``ex``, ``px``, ``thr``, ``qthr``, ``hb``, ``sym``, ``win``, ``res``,
``as_of``, ``fp``, ``fu``), so a shared link reopens the same view; ``as_of`` pins the history window.
The math is ``analytics.premium``'s; the figures are ``components.charts_premium``'s.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, time
from typing import NamedTuple

import pandas as pd
import streamlit as st

from analytics import contracts
from analytics import premium as ap
from components import charts_premium as charts
from components import ui
from components import urlparams as up
from components.derived import derived
from components.ui_state import ViewState
from data_sources import DataSourceError, FrameResult, UnsupportedError

BASES = ("BTC", "ETH", "SOL")
DEFAULT_BASES = ("BTC", "ETH")
WINDOWS_DAYS = ("1", "3", "7", "14", "30", "90")
RESOLUTIONS = ("1h", "1d")
RES_DELTA = {"1h": pd.Timedelta(hours=1), "1d": pd.Timedelta(days=1)}
FUNDING_UNIT_LABELS = {"8h": "% per 8h", "apr": "APR (simple)"}
HISTORY_COLUMNS = ("ts", "premium")

st.title("Perp premium")
st.caption(
    "Premium = (perp price − index) / index, the perp's own exchange index. Positive: a premium (longs "
    "crowded); negative: a discount. Mark is the default perp price (what margin uses); switch to last below."
)

md = ui.market_data_or_stop()

vs = ViewState("perp_premium")
now = md.now()
problems_box = st.empty()  # link problems are collected while reading inputs and shown up here


def perp_key(venue: str, symbol: str) -> str:
    """A perp's id in the URL: ``<venue id>:<ccxt symbol>``."""
    return f"{venue}:{symbol}"


def perp_base(key: str) -> str:
    """The base asset of a perp's URL id ("okx:BTC/USDT:USDT" -> "BTC")."""
    return key.partition(":")[2].split("/")[0]


def perp_label(key: str) -> str:
    venue, _, symbol = key.partition(":")
    return f"{md.venue_label(venue)} · {symbol}"


def soft_choice(param: str, options: list[str], default: str, *, known: tuple[str, ...]) -> str:
    """Like ``vs.choice``, but a value that is valid and merely not offered now (e.g. an asset just
    deselected) falls back silently; only an unknown value is reported."""
    raw = st.query_params.get(param)
    if raw is not None and raw not in options and raw in known:
        return default
    return vs.choice(param, options, default)


# -- inputs: what to look at ------------------------------------------------------------------------------
c_base, c_ex, c_px, c_thr = st.columns([2, 4, 1.4, 1.4], vertical_alignment="bottom")
bases = c_base.multiselect("Assets", BASES, default=vs.multi("base", BASES, DEFAULT_BASES), key="pp_base")
venues = c_ex.multiselect("Exchanges", list(md.venues), default=vs.multi("ex", md.venues, md.venues),
                          format_func=md.venue_label, key="pp_ex")
px = c_px.radio("Perp price", ap.PRICE_FIELDS, index=ap.PRICE_FIELDS.index(vs.choice("px", ap.PRICE_FIELDS, "mark")),
                horizontal=True, key="pp_px", help="Mark (default, what margin uses) or last traded.")
thr_pct = c_thr.number_input(
    "Premium band ± %", min_value=0.0, max_value=10.0, step=0.05, format="%.2f",
    value=vs.number("thr", ap.DEFAULT_BAND * 100, lo=0.0, hi=10.0), key="pp_thr",
    help="Threshold band: beyond it a premium is 'extreme'. Also the perp side of the divergence rule.")
band = thr_pct / 100.0
vs.sync({"base": up.encode_multi(bases), "ex": up.encode_multi(venues), "px": px, "thr": up.encode_float(thr_pct)})

if not bases or not venues:
    with problems_box.container():
        vs.show_problems()
    st.info("Choose at least one asset and one exchange.")
    st.stop()


# -- data: current quotes per asset; each asset (and venue) may fail on its own -----------------------------
def fetch(call: Callable[[], FrameResult]) -> tuple[FrameResult | None, str | None]:
    try:
        return call(), None
    except DataSourceError as e:
        return None, str(e)


terms: dict[str, FrameResult] = {}
errors: dict[str, str] = {}
stale: dict[str, float] = {}
for b in bases:
    result, problem = fetch(lambda b=b: md.term_structure(base=b, venues=venues))
    if result is None:
        st.error(f"Could not load {b} perps: {problem}", icon=":material/error:")
        continue
    terms[b] = result
    for v, msg in result.errors.items():
        errors.setdefault(v, msg)
    for v, age in result.stale.items():
        stale[v] = max(age, stale.get(v, 0.0))
ui.venue_errors(errors, label=md.venue_label)
if not terms:
    with problems_box.container():
        vs.show_problems()
    st.stop()
# What follows is derived from the quotes and candles: computed once per version of the data (keyed on the
# results' tokens, components.derived), so a rerun on the same data redraws without recomputing.
terms_key = tuple((b, r.token) for b, r in terms.items())
term = derived(("perp_premium_term", terms_key),
               lambda: pd.concat([r.frame for r in terms.values()], ignore_index=True))
venue_order = {v: i for i, v in enumerate(md.venues)}  # the sidebar's exchange order, not alphabetical ids
current = derived(("perp_premium_now", terms_key, px, band), lambda: (
    ap.current_premiums(term, price=px, band=band).pipe(lambda c: c.assign(_order=c["venue"].map(venue_order)))
    .sort_values(["base", "_order", "symbol"], kind="stable").drop(columns="_order").reset_index(drop=True)))

# -- section 1: premium now ----------------------------------------------------------------------------------
st.subheader("Premium now")
if current.empty:
    st.info("No perpetuals listed for this choice.")
else:
    st.plotly_chart(derived(("perp_premium_bars", terms_key, px, band), lambda: charts.current_premium_bars(
        current, band=band, label=md.venue_label, price=px)), width="stretch", key="pp_now_chart")
    now_table = pd.DataFrame({
        "Asset": current["base"],
        "Exchange": current["venue"].map(md.venue_label),
        "Perp": current["symbol"],
        "Margin": [f"{'linear' if lin else 'inverse'} ({s})" for lin, s in zip(current["linear"], current["settle"],
                                                                               strict=True)],
        "Mark": current["mark"],
        "Last": current["last"],
        "Index": current["index"],
        f"{px.capitalize()} − index": current["premium_abs"],
        "Premium (mark) %": current["premium_mark"] * 100.0,
        "Premium (last) %": current["premium_last"] * 100.0,
        "State": current["state"].fillna("no index"),
        "Quote time (UTC)": current["ts"],
    })
    pct = st.column_config.NumberColumn(format="%+.4f%%")
    price_col = st.column_config.NumberColumn(format="%,.2f")
    ui.table(now_table, where=st.container(key="pp_now_table"), column_config={
        "Mark": price_col, "Last": price_col, "Index": price_col,
        f"{px.capitalize()} − index": st.column_config.NumberColumn(format="%+,.2f", help="Quote currency."),
        "Premium (mark) %": pct, "Premium (last) %": pct,
        "State": st.column_config.TextColumn(help=f"Of the {px} premium; 'extreme' beyond ±{thr_pct:g}%."),
        "Quote time (UTC)": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss"),
    })
    ui.csv_download("Download CSV", now_table, "premium_now", key="pp_now_csv")
ui.freshness(max(r.age_s for r in terms.values()), stale=stale, label=md.venue_label)

# -- section 2: premium history -------------------------------------------------------------------------------
st.subheader("Premium history")
h1, h2 = st.columns([1, 5], vertical_alignment="bottom")
hist_base = h1.selectbox("Asset", bases, index=bases.index(soft_choice("hb", bases, bases[0], known=BASES)),
                         key="pp_hb")
hist_perps = current[current["base"] == hist_base]
perp_options = [perp_key(v, s) for v, s in zip(hist_perps["venue"], hist_perps["symbol"], strict=True)]
# each exchange's primary perp of the asset, in the table's order
primary_perps = contracts.primary_rows(hist_perps, by=("venue",))
primary = [perp_key(v, s) for v, s in zip(primary_perps["venue"], primary_perps["symbol"], strict=True)]
raw_sym = st.query_params.get("sym")
if raw_sym is not None:  # perps of another known asset (the asset just changed) are dropped silently
    raw_sym = ",".join(k for k in raw_sym.split(",") if perp_base(k) not in set(BASES) - {hist_base})
parsed = up.parse_multi(raw_sym, perp_options, primary, param="sym")
if parsed.problem:
    vs.problems.append(parsed.problem)
chosen = h2.multiselect("Perps", perp_options, default=parsed.value, format_func=perp_label,
                        key=f"pp_sym_{hist_base}", help="Default: each exchange's primary perp (linear USDT first).")

h3, h4, h5, h6 = st.columns([1, 1.4, 1.2, 2.4], vertical_alignment="bottom")
win = h3.selectbox("Window (days)", WINDOWS_DAYS, index=WINDOWS_DAYS.index(vs.choice("win", WINDOWS_DAYS, "7")),
                   key="pp_win")
res = h4.radio("Resolution", RESOLUTIONS, index=RESOLUTIONS.index(vs.choice("res", RESOLUTIONS, "1h")),
               horizontal=True, key="pp_res")
url_as_of = vs.as_of(now)
pinned = h5.toggle("Pin window end", value=url_as_of is not None, key="pp_pin",
                   help="Fix the window's end (as_of) so a shared link shows the same history later.")
as_of: pd.Timestamp | None = None
if pinned:
    default_end = url_as_of if url_as_of is not None else now.floor("h")
    d_col, t_col = h6.columns(2)
    end_day = d_col.date_input("End date (UTC)", value=default_end.date(), max_value=now.date(), key="pp_asof_d")
    end_time = t_col.time_input("End time (UTC)", value=default_end.time().replace(second=0, microsecond=0),
                                step=3600, key="pp_asof_t")
    as_of = pd.Timestamp(datetime.combine(end_day, end_time or time(0), tzinfo=UTC))
    if as_of > now:
        st.caption(f"The end {as_of:%Y-%m-%d %H:%M} UTC is in the future; the window ends now.")
        as_of = now.floor("min")
tf = RES_DELTA[res]
end = as_of if as_of is not None else now
start = end - pd.Timedelta(days=int(win))
# A pinned window keeps only candles closed by as_of, so the link shows the same numbers later; an open one
# ends with the still-forming candle (the latest premium).
until = as_of - tf if as_of is not None else None

vs.sync({"hb": hist_base, "sym": up.encode_multi(chosen), "win": win, "res": res,
         "as_of": up.format_as_of(as_of)})

NO_CANDLES = "the exchange returned no candles for this window"
EMPTY = pd.DataFrame({"ts": pd.Series([], dtype="datetime64[ns, UTC]"), "premium": pd.Series([], dtype="float64")})


class History(NamedTuple):
    """A perp's premium history as the page shows it: the ts/premium frame, where it came from, why it is
    missing, the data's age, and the candles' tokens (what the charts built from it are keyed on)."""

    frame: pd.DataFrame
    source: str
    error: str | None = None
    age_s: float = float("nan")
    tokens: tuple[object, ...] = ()


def load_history(key: str) -> History:
    """One perp's premium history. Runs in a worker thread: no st."""
    venue, _, symbol = key.partition(":")
    if until is not None and until <= start:
        return History(EMPTY, "window shorter than one candle")

    def candles(price: str) -> FrameResult:
        return md.ohlcv(venue, symbol, res, start=start, until=until, price=price)

    try:
        if px == "mark":  # the exchange's own premium series where it publishes one
            try:
                r = candles("premium_index")
                hist = derived(("premium_from_index_klines", r.token), lambda: ap.premium_from_index_klines(r.frame))
                if hist.empty:
                    return History(EMPTY, "failed", NO_CANDLES)
                return History(hist, ap.SOURCE_PREMIUM_INDEX, None, r.age_s, (r.token,))
            except UnsupportedError:
                pass
        try:
            idx = candles("index")
        except UnsupportedError:
            return History(EMPTY, f"not available: {md.venue_label(venue)} publishes no index candles")
        try:
            price = candles(px)
        except UnsupportedError:
            return History(EMPTY, f"not available: {md.venue_label(venue)} publishes no {px} candles")
        hist = derived(("premium_from_klines", price.token, idx.token),
                       lambda: ap.premium_from_klines(price.frame, idx.frame))
        if hist.empty:  # an answer without candles must not just vanish from the chart
            return History(EMPTY, "failed", NO_CANDLES)
        return History(hist, ap.premium_history_source(px), None, max(idx.age_s, price.age_s),
                       (price.token, idx.token))
    except DataSourceError as e:
        return History(EMPTY, "failed", str(e))


with ThreadPoolExecutor(max_workers=8, thread_name_prefix="pp-history") as pool:  # venues answer in parallel
    loaded = dict(zip(chosen, pool.map(load_history, chosen), strict=True))

histories = {k: h.frame for k, h in loaded.items()}
history_key = tuple((k, h.source, h.error, h.tokens) for k, h in loaded.items())
for k, h in loaded.items():
    if h.error:
        st.warning(f"No history for {perp_label(k)}: {h.error}", icon=":material/warning:")

window_text = (f"{start:%Y-%m-%d %H:%M} → {end:%Y-%m-%d %H:%M} UTC"
               + (" (pinned)" if as_of is not None else " (now)"))
if not chosen:
    st.info("Choose at least one perp for the history.")
else:
    long = derived(("perp_premium_history", history_key), lambda: ap.stack_histories(
        list(histories.values()), [perp_label(k) for k in histories]))
    order = [perp_label(k) for k in chosen]
    st.plotly_chart(derived(("perp_premium_history_chart", history_key, band, tuple(order)),
                            lambda: charts.premium_history_chart(long, band=band, order=order)),
                    width="stretch", key="pp_hist_chart")
    rows = []
    for k, h in loaded.items():
        s = ap.window_stats(h.frame)
        rows.append({
            "Exchange": md.venue_label(k.partition(":")[0]), "Perp": k.partition(":")[2],
            "Latest %": s.latest * 100, "z-score": s.z,
            "Stretched": abs(s.z) >= ap.Z_STRETCHED if math.isfinite(s.z) else None,  # None: no z-score
            "State": ap.premium_state(s.latest, band=band) or "—",
            "Mean %": s.mean * 100, "Std %": s.std * 100, "Low %": s.low * 100, "High %": s.high * 100,
            "Points": s.n, "From (UTC)": s.start, "To (UTC)": s.end, "Source": h.source,
        })
    stats = pd.DataFrame(rows)
    pct = st.column_config.NumberColumn(format="%+.4f%%")
    when = st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm")
    ui.table(stats, where=st.container(key="pp_hist_table"), column_config={
        "Source": st.column_config.TextColumn(help="Where the history comes from (see below)."),
        "Points": st.column_config.NumberColumn(width="small"),
        "From (UTC)": when, "To (UTC)": when,
        "Mean %": pct, "Std %": st.column_config.NumberColumn(format="%.4f%%"), "Low %": pct, "High %": pct,
        "Latest %": pct, "z-score": st.column_config.NumberColumn(format="%+.2f", width="small"),
        "Stretched": st.column_config.CheckboxColumn(help=f"|z| ≥ {ap.Z_STRETCHED:g} against the window."),
    })
    missing = [f"{perp_label(k)}: {h.source}" for k, h in loaded.items() if h.frame.empty and not h.error]
    if missing:  # said in words too: the table's Source column may be scrolled out of view
        st.caption(":material/info: No premium history for " + "; ".join(missing) + ".")
    ages = [h.age_s for h in loaded.values() if math.isfinite(h.age_s)]
    ui.freshness(max(ages) if ages else None)
    st.caption(
        f"Window {window_text}, {res} candles. With mark: the exchange's premium-index klines where it "
        "publishes them (Binance, Bybit linear), else mark − index klines on identical timestamps; with last: "
        "last − index klines. z-score = (latest − mean) / std of the window (sample std, the latest included); "
        f"'stretched' when |z| ≥ {ap.Z_STRETCHED:g}. Band ±{thr_pct:g}%."
    )
    c1, c2, _ = st.columns([1, 1, 3])
    ui.csv_download("Download history CSV", lambda: long.assign(premium=long["premium"] * 100).rename(
        columns={"premium": "premium_pct"}), "premium_history", key="pp_hist_csv", where=c1)
    ui.csv_download("Download stats CSV", stats, "premium_stats", key="pp_stats_csv", where=c2)

# -- section 3: premium and funding -------------------------------------------------------------------------
st.subheader("Premium and funding")
fp = fu = None
if chosen:
    f1, f2, _ = st.columns([3, 1.6, 2], vertical_alignment="bottom")
    raw_fp = st.query_params.get("fp")
    all_perps = tuple(perp_key(v, s) for v, s in zip(current["venue"], current["symbol"], strict=True))
    fp_default = soft_choice("fp", chosen, chosen[0], known=all_perps) if raw_fp else chosen[0]
    fp = f1.selectbox("Perp", chosen, index=chosen.index(fp_default), format_func=perp_label,
                      key=f"pp_fp_{hist_base}")
    fu_default = vs.choice("fu", ap.FUNDING_UNITS, "8h")
    fu = f2.radio("Funding unit", ap.FUNDING_UNITS, index=ap.FUNDING_UNITS.index(fu_default),
                  format_func=FUNDING_UNIT_LABELS.get, horizontal=True, key="pp_fu")
    venue, _, symbol = fp.partition(":")
    funding_result, funding_error = fetch(lambda: md.funding_history(venue, symbol, start=start, until=as_of))
    if funding_error:
        st.warning(f"No funding history for {perp_label(fp)}: {funding_error}", icon=":material/warning:")
        funding = pd.DataFrame({"ts": [], "rate": [], "interval_hours": [], "value": []})
    else:
        funding = derived(("normalized_funding", funding_result.token, fu),
                          lambda: ap.normalized_funding(funding_result.frame, unit=fu))
    prem_hist, prem_source = histories[fp], loaded[fp].source
    funding_axis = "Funding, % per 8h" if fu == "8h" else "Funding APR, %"
    funding_token = None if funding_error else funding_result.token
    st.plotly_chart(derived(
        ("perp_premium_funding_chart", fp, loaded[fp].tokens, funding_token, fu, px, band), lambda: (
            charts.premium_funding_chart(prem_hist, funding, premium_name=f"Premium ({px})",
                                         funding_name=f"Funding ({FUNDING_UNIT_LABELS[fu]})",
                                         funding_axis=funding_axis, band=band, title=perp_label(fp)))),
        width="stretch", key="pp_funding_chart")
    hours = sorted(set(funding["interval_hours"].dropna())) if not funding.empty else []
    interval_text = ", ".join(f"{h:g}h" for h in hours) or "—"
    st.caption(
        f"Premium source: {prem_source}. Funding settled per interval ({interval_text}), shown as "
        + ("rate × 8 / interval hours (% per 8h)" if fu == "8h" else "rate × 24 × 365 / interval hours (APR, simple)")
        + ". Positive funding: longs pay shorts; it should follow the premium's sign. Both axes are symmetric "
        "around zero so the zero lines coincide."
        + (" Deribit funding accrues hourly: each row is one hour's accrual." if venue == "deribit" else "")
    )
    pf_csv = pd.concat([
        prem_hist.assign(series=f"premium ({px}) %", value=prem_hist["premium"] * 100)[["ts", "series", "value"]],
        funding.assign(series=f"funding {FUNDING_UNIT_LABELS[fu]}", value=funding["value"] * 100)[
            ["ts", "series", "value"]],
    ], ignore_index=True)
    ui.csv_download("Download CSV", pf_csv, "premium_funding", key="pp_funding_csv")
vs.sync({"fp": fp, "fu": fu})

# -- section 4: perp vs quarterly ---------------------------------------------------------------------------
st.subheader("Perp vs quarterly")
q1, _ = st.columns([1.4, 5])
qthr_pct = q1.number_input(
    "Quarterly threshold ± % a year", min_value=0.0, max_value=100.0, step=0.5, format="%.1f",
    value=vs.number("qthr", ap.DEFAULT_QUARTERLY_THRESHOLD * 100, lo=0.0, hi=100.0), key="pp_qthr",
    help="The quarterly side of the divergence rule (annualized basis, simple, ACT/365).")
vs.sync({"qthr": up.encode_float(qthr_pct)})
pvq = derived(("perp_vs_quarterly", terms_key, px, band, qthr_pct), lambda: (
    ap.perp_vs_quarterly(term, price=px, perp_threshold=band, quarterly_threshold=qthr_pct / 100.0)
    .pipe(lambda q: q.assign(_order=q["venue"].map(venue_order))).sort_values(["base", "_order"], kind="stable")
    .drop(columns="_order").reset_index(drop=True)))
rule = ap.divergence_rule(perp_threshold=band, quarterly_threshold=qthr_pct / 100.0)
if pvq.empty:
    st.info("No perps to compare.")
else:
    flagged = pvq[pvq["divergence"]]
    if flagged.empty:
        st.success("No extreme divergence between perps and quarterlies.", icon=":material/check_circle:")
    else:
        lines = "\n".join(f"- {md.venue_label(r.venue)} {r.base}: {r.reading}" for r in flagged.itertuples())
        st.warning(f"Extreme divergence:\n{lines}", icon=":material/warning:")
    pvq_table = pd.DataFrame({
        "Asset": pvq["base"],
        "Exchange": pvq["venue"].map(md.venue_label),
        "Perp": pvq["perp_symbol"],
        f"Perp premium ({px}) %": pvq["perp_premium"] * 100,
        "Quarterly": pvq["quarterly_symbol"].fillna("none listed"),
        "Expiry (UTC)": pvq["expiry"],
        "Days": pvq["days_to_expiry"],
        "Quarterly basis %": pvq["quarterly_basis_pct"] * 100,
        "Quarterly ann. %": pvq["quarterly_ann"] * 100,
        "Divergence": pvq["divergence"],
        "Reading": pvq["reading"],
    })
    pct = st.column_config.NumberColumn(format="%+.4f%%")
    ui.table(pvq_table, where=st.container(key="pp_pvq_table"), column_config={
        f"Perp premium ({px}) %": pct, "Quarterly basis %": pct,
        "Quarterly ann. %": st.column_config.NumberColumn(format="%+.2f%%", help="Annualized: simple, ACT/365."),
        "Divergence": st.column_config.CheckboxColumn(help="The extreme-divergence rule below holds."),
        "Expiry (UTC)": st.column_config.DatetimeColumn(format="YYYY-MM-DD", help="At 08:00 UTC."),
        "Days": st.column_config.NumberColumn(format="%.1f", width="small"),
    })
    st.caption(
        f"**Rule.** {rule} Quarterly = the nearest last-Friday-of-Mar/Jun/Sep/Dec expiry more than 3 days out, "
        f"settled like the perp where listed; its basis = {px} / index − 1 of the same exchange, annualized "
        "× 365 / days."
    )
    ui.csv_download("Download CSV", pvq_table, "perp_vs_quarterly", key="pp_pvq_csv")

with problems_box.container():
    vs.show_problems()
