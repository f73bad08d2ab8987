"""Term structure: each exchange's curve by expiry, where carry is richest, contango or backwardation, history.

Inputs live in the URL (``base``, ``ex``, ``px``, ``ref``, ``ann``, ``r``, ``y``, ``hc``, ``win``, ``res``,
``as_of``) so a link reopens the same view. Data comes from ``data_sources``; every number from
``analytics.term_structure`` / ``analytics.basis``; figures from ``components.charts_term``.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import streamlit as st

from analytics import basis as ab
from analytics import term_structure as ts
from components import charts_term as ct
from components import ui
from components import urlparams as up
from components.derived import derived
from components.formatting import fmt_apr, fmt_days, fmt_pct, fmt_time
from components.ui_state import ViewState
from data_sources import DataSourceError, FrameResult, MarketData

MAJORS = ("BTC", "ETH")  # listed first, and offered even when the exchanges' listings cannot be read
PRICE_LABELS = {"mark": "Mark", "last": "Last"}
REFERENCE_LABELS = {"index": "Exchange index", "spot": "Spot (Binance last)"}
ANN_LABELS = {"simple": "Simple", "compounded": "Compounded"}
Y_LABELS = {ct.Y_ANNUALIZED: "Annualized basis", ct.Y_PRICE: "Price"}
WINDOWS = ("7", "14", "30", "60", "90")  # history window, days
RESOLUTIONS = {"1h": "Hourly", "1d": "Daily"}
DEFAULT_RATE_PCT = 5.0
HISTORY_TENOR = 90  # days, the constant maturity charted over time
SPOT_VENUE = "binance"
NO_INDEX_CANDLES = ("deribit",)  # venues publishing no index (or mark) candles
LAST_ONLY_CANDLES = ("deribit",)

st.title("Term structure")
st.caption("Each exchange's futures curve against its index: carry by tenor, where it is richest, whether "
           "the curve is in contango or backwardation, and how the basis has moved.")

md = ui.market_data_or_stop()

label: Callable[[str], str] = md.venue_label
def futures_bases(md: MarketData) -> list[str]:
    """Assets with at least one dated future on any configured exchange: BTC and ETH first, then A-Z."""
    try:
        listed = md.listed().frame
    except DataSourceError:
        return list(MAJORS)
    with_futures = set(listed.loc[listed["futures"] > 0, "base"])
    return [*MAJORS, *sorted(with_futures - set(MAJORS))]


vs = ViewState("term_structure")
as_of = vs.as_of(md.now())

# -- inputs: read from the URL, then widgets (keys persist the session's choices) ---------------------------
row1 = st.columns([1, 4])
bases = futures_bases(md)
base = row1[0].selectbox("Asset", bases, index=bases.index(vs.choice("base", bases, "BTC")), key="ts_base",
                         help="Every asset with a dated future on the configured exchanges.")
venue_ids = list(md.venues)
exchanges = row1[1].multiselect("Exchanges", venue_ids, default=vs.multi("ex", venue_ids, venue_ids),
                                format_func=label, key="ts_ex")
row2 = st.columns([1, 1.3, 1.2, 1])
px = row2[0].radio("Futures price", list(PRICE_LABELS), format_func=PRICE_LABELS.get, horizontal=True,
                   index=list(PRICE_LABELS).index(vs.choice("px", list(PRICE_LABELS), "mark")), key="ts_px",
                   help="F: the contract's mark (the exchange's fair price) or last traded price.")
ref = row2[1].radio("Reference S", list(REFERENCE_LABELS), format_func=REFERENCE_LABELS.get, horizontal=True,
                    index=list(REFERENCE_LABELS).index(vs.choice("ref", list(REFERENCE_LABELS), "index")),
                    key="ts_ref", help="Each exchange's own index, or Binance spot last for every exchange.")
ann = row2[2].radio("Annualization", list(ANN_LABELS), format_func=ANN_LABELS.get, horizontal=True,
                    index=list(ANN_LABELS).index(vs.choice("ann", list(ANN_LABELS), "simple")), key="ts_ann",
                    help="Simple: basis % × 365 / days. Compounded: (F / S)^(365 / days) − 1. ACT/365.")
rate_pct = row2[3].number_input("Fair-value rate r (% a year)", min_value=-50.0, max_value=200.0, step=0.5,
                                value=vs.number("r", DEFAULT_RATE_PCT, lo=-50.0, hi=200.0), key="ts_r",
                                help="Cost of carry: F* = S × (1 + r × days / 365), drawn on the chart.")
compounded = ann == "compounded"
rate = float(rate_pct) / 100.0

# -- data --------------------------------------------------------------------------------------------------
if not exchanges:
    vs.sync({"base": base, "ex": "", "px": px, "ref": ref, "ann": ann, "r": up.encode_float(rate_pct)})
    vs.show_problems()
    st.info("Choose at least one exchange.")
    st.stop()

try:
    term: FrameResult = md.term_structure(base=base, venues=exchanges)
except DataSourceError as e:
    vs.show_problems()
    st.error(f"Could not load {base} futures and perps: {e}", icon=":material/error:")
    st.stop()

spot_last: float | None = None
spot_note = ""
if ref == "spot":
    try:
        spot_frame = md.spot().frame
        hit = spot_frame[spot_frame["base"] == base]
        spot_last = float(hit["last"].iloc[0]) if not hit.empty else None
        spot_note = f"Binance spot {hit['symbol'].iloc[0]} last" if not hit.empty else "no Binance spot price"
    except DataSourceError as e:
        st.error(f"Could not load the Binance spot price (reference = spot): {e}", icon=":material/error:")
        spot_note = "Binance spot unavailable"

# Everything below is derived from the quotes and the inputs: computed once per version of the data
# (components.derived), so a rerun on the same quotes redraws without recomputing.
view_key = ("term_structure", base, tuple(exchanges), term.token, px, ref, spot_last)
table = derived((*view_key, "table"), lambda: ts.term_table(term.frame, price=px, reference=ref, spot=spot_last))
names = ct.curve_names(table["curve"], label)
colors = {c: ct.venue_color(ts.curve_venue(c)) for c in names}
ref_text = "each exchange's index" if ref == "index" else spot_note
ann_text = "annualized, compounded, ACT/365" if compounded else "annualized, simple, ACT/365"
ann_title = ann_text[0].upper() + ann_text[1:]
futures = table[table["kind"] == "future"]

problems_slot = st.container()  # link problems are known only once the history options are; shown up here
ui.venue_errors(term.errors, label=label)

# -- headline: curve state and richest / cheapest carry ------------------------------------------------------
states = derived((*view_key, "states"), lambda: ts.curve_states(table))
overall = ts.overall_state(states)
BADGE = {"contango": ":green-badge[Contango]", "backwardation": ":red-badge[Backwardation]",
         "flat": ":gray-badge[Flat]", ts.MIXED: ":orange-badge[Mixed]"}


def _state_line() -> str:
    if overall is None:
        return f"No {base} dated future more than {ts.NEAR_EXPIRY_DAYS:g} days from expiry on the chosen exchanges."
    agree = int((states["state"] == overall).sum()) if overall != ts.MIXED else None
    longest = states.loc[states["days"].idxmax()]
    counts = ", ".join(f"{int(n)} {s}" for s, n in states["state"].value_counts().items())
    tail = f"{agree} of {len(states)} curves" if agree is not None else counts
    return (f"Curve: {BADGE[overall]} — by each curve's longest liquid tenor ({tail}). Longest: "
            f"{names.get(longest['curve'], longest['curve'])} `{longest['symbol']}` "
            f"({fmt_days(longest['days'], decimals=0)}), basis {fmt_pct(longest['basis_pct'], signed=True)}.")


def _extreme_line(row: pd.Series) -> str:
    n, v = int(row["contracts"]), int(row["venues"])
    head = f"**{row['bucket']}** ({n} contract{'s' if n != 1 else ''}, {v} exchange{'s' if v != 1 else ''})"
    where = f"{names.get(row['rich_curve'], row['rich_curve'])} `{row['rich_symbol']}` **{fmt_apr(row['rich'])}**"
    if row["contracts"] == 1:
        return f"{head}: only {where}"
    rich = f"richest {where}"
    cheap = (f"cheapest {names.get(row['cheap_curve'], row['cheap_curve'])} `{row['cheap_symbol']}` "
             f"**{fmt_apr(row['cheap'])}**")
    return f"{head}: {rich} · {cheap} · spread {row['spread'] * 100:.2f} pt"


with st.container(border=True):
    st.markdown(_state_line())
    extremes = derived((*view_key, "extremes", compounded), lambda: ts.carry_extremes(table, compounded=compounded))
    if not extremes.empty:
        st.markdown("\n".join(f"- {_extreme_line(r)}" for _, r in extremes.iterrows()))
    st.caption(f"Carry = {ann_text}, F = {PRICE_LABELS[px].lower()} price, S = {ref_text}. Buckets compare "
               f"contracts across exchanges by days to expiry; contracts within {ts.NEAR_EXPIRY_DAYS:g} days of "
               "expiry are left out. The curve label follows the sign of the basis of each curve's longest "
               "tenor that is more than 3 days from expiry.")

# -- curve chart ---------------------------------------------------------------------------------------------
y_mode = st.radio("Chart", list(Y_LABELS), format_func=Y_LABELS.get, horizontal=True, key="ts_y",
                  index=list(Y_LABELS).index(vs.choice("y", list(Y_LABELS), ct.Y_ANNUALIZED)))
ref_label = "index" if ref == "index" else spot_note
points, curve_figure = derived((*view_key, "curve", y_mode, compounded, rate, ref_label), lambda: (
    p := ct.curve_points(table, y_mode=y_mode, compounded=compounded, rate=rate, names=names,
                         reference_label=ref_label),
    ct.curve_chart(p, y_mode=y_mode, compounded=compounded, colors=colors,
                   title=f"{base} term structure — {Y_LABELS[y_mode].lower()}")))
st.plotly_chart(curve_figure, width="stretch", key="ts_curve_chart")
n_flagged = int(points["flagged"].sum()) if not points.empty else 0
st.caption(
    "x: days to expiry from each quote's time (tick labels: expiry dates). y: "
    + (f"{ann_text} of each future; perps at tenor 0 show their premium (F / S − 1, not annualized); the "
       "reference line is zero basis. " if y_mode == ct.Y_ANNUALIZED else
       ("each contract's price; the reference line is S, the mean of the exchanges' indexes. " if ref == "index"
        else f"each contract's price; the reference line is S, {spot_note}. "))
    + f"Fair value: F* = S × (1 + r × days / 365) with r = {fmt_pct(rate)}"
    + (" (its simple annualized basis is r). " if y_mode == ct.Y_ANNUALIZED and not compounded else ". ")
    + "Dotted lines: inverse (coin-margined) curves. "
    + (f"{n_flagged} contract(s) within {ts.NEAR_EXPIRY_DAYS:g} days of expiry are drawn in red and kept out of "
       "the y-range (arrows mark values beyond it)." if n_flagged else "")
)
ui.csv_download("Download chart data (CSV)", points, f"term_curve_{base}", key="ts_curve_csv")

# -- constant maturities -------------------------------------------------------------------------------------
st.subheader("Constant maturity")
cm = derived((*view_key, "cm", compounded), lambda: ts.constant_maturity_table(table, compounded=compounded).merge(
    states[["curve", "state"]], on="curve", how="left"))
cm_view = pd.DataFrame({  # percent columns in percent units, so every figure shows two decimals
    "Exchange": cm["curve"].map(names),
    "Margin": cm["linear"].map({True: "linear", False: "inverse"}),
    **{f"{t}-day %": cm[f"cm_{t}"] * 100.0 for t in ts.CM_TENORS},
    "Curve": cm["state"],
    "From (d)": cm["shortest_days"],
    "To (d)": cm["longest_days"],
    "Contracts": cm["contracts"],
})
ui.table(cm_view, key="ts_cm_table", column_config={
    **{f"{t}-day %": st.column_config.NumberColumn(format="%.2f%%", help=f"{ann_text}, interpolated at {t} days")
       for t in ts.CM_TENORS},
    "From (d)": st.column_config.NumberColumn(format="%.1f", help="Shortest contract used (> 3 days out)"),
    "To (d)": st.column_config.NumberColumn(format="%.1f", help="Longest contract: never extrapolated past it"),
})
st.caption(f"{ann_title}, linearly interpolated in days between the two contracts either side of "
           f"the tenor; blank where the tenor is not between the shortest and longest contract more than "
           f"{ts.NEAR_EXPIRY_DAYS:g} days out (never extrapolated).")
ui.csv_download("Download constant maturities (CSV)", cm_view, f"constant_maturity_{base}", key="ts_cm_csv")

# -- contracts table -----------------------------------------------------------------------------------------
st.subheader("Contracts")
ref_header = "Index" if ref == "index" else "Spot"
size_unit = table["base"].where(table["linear"], table["quote"])
contracts_view = pd.DataFrame({
    "Exchange": table["curve"].map(names),
    "Contract": table["symbol"],
    "Expiry": table["expiry"],
    "Days": table["days_to_expiry"],
    f"Price ({px})": table["price"],
    ref_header: table["reference"],
    "Basis": table["basis"],
    "Basis %": table["basis_pct"] * 100.0,  # percent units: the table shows (and the CSV holds) percent
    "Ann. simple %": table["ann_simple"] * 100.0,
    "Ann. compounded %": table["ann_compounded"] * 100.0,
    "State": table["carry"],
    "Margin": table["linear"].map({True: "linear", False: "inverse"}),
    "Contract size": [f"{s:g} {u}" for s, u in zip(table["contract_size"], size_unit, strict=True)],
    "Near expiry": table["near_expiry"],
    "Quote time": table["ts"],
})
ui.table(contracts_view, height="content", key="ts_table", column_config={
    "Contract": st.column_config.TextColumn(pinned=True),
    "Expiry": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm", timezone="UTC"),
    "Days": st.column_config.NumberColumn(format="%.2f", help="(expiry − quote time) / 1 day"),
    f"Price ({px})": st.column_config.NumberColumn(format="%,.2f", help="F, quote currency"),
    ref_header: st.column_config.NumberColumn(format="%,.2f", help=f"S: {ref_text}"),
    "Basis": st.column_config.NumberColumn(format="%+,.2f", help="F − S, quote currency"),
    "Basis %": st.column_config.NumberColumn(format="%.3f%%", help="F / S − 1 (a perp: its premium)"),
    "Ann. simple %": st.column_config.NumberColumn(format="%.2f%%", help="Basis % × 365 / days (ACT/365)"),
    "Ann. compounded %": st.column_config.NumberColumn(format="%.2f%%", help="(F / S)^(365 / days) − 1"),
    "Near expiry": st.column_config.CheckboxColumn(help=f"≤ {ts.NEAR_EXPIRY_DAYS:g} days: annualized figures "
                                                         "explode; left out of ranges and interpolation"),
    "Quote time": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss", timezone="UTC"),
})
st.caption(f"Basis = F − S; basis % = F / S − 1; annualized simple = basis % × 365 / days; compounded = "
           f"(F / S)^(365 / days) − 1 (ACT/365, days from the quote time). F = {PRICE_LABELS[px].lower()} price, "
           f"S = {ref_text}. Contango: F > S; backwardation: F < S. Click a header to sort.")
ui.csv_download("Download contracts (CSV)", contracts_view, f"term_structure_{base}", key="ts_table_csv")
ui.freshness(term.age_s, stale=term.stale, label=label)


# -- basis history -------------------------------------------------------------------------------------------
def _history_options() -> list[str]:
    """``venue:symbol`` of every future whose history can be built with this reference, default first."""
    rows = futures if ref == "spot" else futures[~futures["venue"].isin(NO_INDEX_CANDLES)]
    rows = rows.assign(_v=rows["venue"].map(lambda v: venue_ids.index(v) if v in venue_ids else 99),
                       _d=(rows["days_to_expiry"] - HISTORY_TENOR).abs() + rows["near_expiry"] * 1e6)
    rows = rows.sort_values(["_v", "_d"], kind="stable")
    default = [f"{r.venue}:{r.symbol}" for r in rows.head(1).itertuples()]
    others = [f"{r.venue}:{r.symbol}" for r in rows.sort_values(["_v", "curve", "days_to_expiry"]).itertuples()]
    return default + [o for o in others if o not in default]


def _option_label(option: str) -> str:
    venue, symbol = option.split(":", 1)
    row = table[(table["venue"] == venue) & (table["symbol"] == symbol)].iloc[0]
    when = f"{row['expiry'].day} {row['expiry'].strftime('%b %Y')}, {fmt_days(row['days_to_expiry'], decimals=0)}"
    return f"{names.get(row['curve'], row['curve'])} · {symbol} ({when})"


def _fetch(what: str, call: Callable[[], FrameResult], problems: list[str]) -> FrameResult | None:
    try:
        return call()
    except DataSourceError as e:
        problems.append(f"{what}: {e}")
        return None


def _reference_candles(venue: str, linear: bool, tf: str, start: pd.Timestamp, until: pd.Timestamp | None,
                       problems: list[str]) -> tuple[FrameResult | None, str]:
    if ref == "spot":
        symbol = f"{base}/USDT"
        return _fetch(f"Binance spot {symbol}", lambda: md.ohlcv(SPOT_VENUE, symbol, tf, start, until, "last"),
                      problems), f"Binance spot {symbol} last"
    perps = table[(table["venue"] == venue) & (table["kind"] == "perp")]
    same = perps[perps["linear"] == linear]
    pick = (same if not same.empty else perps).head(1)
    if pick.empty:
        problems.append(f"{label(venue)} lists no {base} perp whose index candles could serve as reference")
        return None, ""
    symbol = str(pick["symbol"].iloc[0])
    return _fetch(f"{label(venue)} {symbol} index", lambda: md.ohlcv(venue, symbol, tf, start, until, "index"),
                  problems), f"{label(venue)} index ({symbol} index candles)"


def _history_section(choice: str, window_days: int, tf: str) -> None:
    venue, symbol = choice.split(":", 1)
    contract = table[(table["venue"] == venue) & (table["symbol"] == symbol)].iloc[0]
    end = as_of if as_of is not None else md.now()
    start = end - pd.Timedelta(days=window_days)
    bar = pd.Timedelta(hours=1) if tf == "1h" else pd.Timedelta(days=1)
    field = "last" if venue in LAST_ONLY_CANDLES else px
    problems: list[str] = []
    reference, ref_desc = _reference_candles(venue, bool(contract["linear"]), tf, start, as_of, problems)
    curve = table[(table["curve"] == contract["curve"]) & (table["kind"] == "future")]
    days_at_end = dict(zip(curve["symbol"], ab.days_to_expiry(curve["expiry"], now=end), strict=True))
    needed = ts.cm_history_contracts(days_at_end, tenor=HISTORY_TENOR, window_days=window_days)
    candles: dict[str, FrameResult] = {}
    if reference is not None:
        for sym in dict.fromkeys([symbol, *needed]):
            got = _fetch(f"{label(venue)} {sym} {field}", lambda s=sym: md.ohlcv(venue, s, tf, start, as_of, field),
                         problems)
            if got is not None:
                candles[sym] = got
    for p in problems:
        st.warning(p, icon=":material/warning:")
    expiries = {sym: curve.loc[curve["symbol"] == sym, "expiry"].iloc[0] for sym in candles}
    # a candle counts as closed only if it had closed when both series were fetched (cached); candles close on
    # whole minutes, so the minute decides the same ones (and keys the cache). No reference: no candles.
    closed_by = {sym: min(end, got.fetched_at, reference.fetched_at).floor("min")
                 for sym, got in candles.items() if reference is not None}
    cm_name = f"{HISTORY_TENOR}-day {ct.CM_PREFIX} ({names.get(contract['curve'], contract['curve'])})"
    title = f"Basis history — {RESOLUTIONS[tf].lower()}, {window_days} days to {fmt_time(end)}"

    def build() -> tuple[pd.DataFrame, object]:
        histories = {sym: ts.basis_history(got.frame, reference.frame, expiry=expiries[sym], bar=bar,
                                           until=closed_by[sym])
                     for sym, got in candles.items() if reference is not None}
        empty = pd.DataFrame({c: pd.Series(dtype="float64") for c in ts.HISTORY_COLUMNS})
        cm_hist = ts.constant_maturity_history({s: h for s, h in histories.items() if s in needed},
                                               tenor=HISTORY_TENOR, compounded=compounded)
        data = ct.history_data(histories.get(symbol, empty), cm_hist)
        return data, ct.history_chart(data, contract_name=f"{symbol} ({label(venue)})", cm_name=cm_name,
                                      compounded=compounded, title=title)

    data, figure = derived((
        "term_structure_history", venue, symbol, tuple(needed), tuple(expiries.items()), tf, field, compounded,
        None if reference is None else reference.token, tuple((s, c.token) for s, c in candles.items()),
        tuple(closed_by.values()), title, cm_name), build)
    st.plotly_chart(figure, width="stretch", key="ts_history_chart")
    used = ", ".join(f"`{s}`" for s in needed) or "none listed that bracket it"
    st.caption(
        f"{ann_title} of F = {label(venue)} {field} candles' close against S = {ref_desc} close, "
        f"on identical candle times only (a candle missing on either side is dropped, never matched to a "
        f"neighbour); closed candles only; days to expiry count from each candle's close. "
        + ("Deribit publishes last-price candles only, so F is its last price here. "
           if venue in LAST_ONLY_CANDLES and px != "last" else "")
        + f"The {HISTORY_TENOR}-day constant maturity interpolates, at each candle, between the curve's contracts "
        f"either side of {HISTORY_TENOR} days ({used}); it is built from the contracts listed now, so contracts "
        "that expired inside the window are not in it, and it is blank where no pair brackets the tenor."
    )
    file_symbol = symbol.replace("/", "-").replace(":", "_")
    ui.csv_download("Download history (CSV)", data, f"basis_history_{venue}_{file_symbol}", key="ts_history_csv")


st.subheader("Basis history")
options = _history_options()
hist_cols = st.columns([3, 1, 1, 1], vertical_alignment="bottom")
if options:
    chosen = vs.choice("hc", options, options[0])
    history_choice = hist_cols[0].selectbox(
        "Contract", options, index=options.index(chosen), key="ts_hc",
        format_func=_option_label)
else:
    history_choice = None
window = int(hist_cols[1].selectbox("Window (days)", WINDOWS, index=WINDOWS.index(vs.choice("win", WINDOWS, "30")),
                                    key="ts_win"))
resolution = hist_cols[2].radio("Resolution", list(RESOLUTIONS), format_func=RESOLUTIONS.get, horizontal=True,
                                index=list(RESOLUTIONS).index(vs.choice("res", list(RESOLUTIONS), "1h")),
                                key="ts_res")
pinned = hist_cols[3].toggle("Pin window end", value=as_of is not None, key="ts_pin",
                            help="Writes the history window's end (as_of) into the link, so a shared link shows "
                                 "the same history later. The curve above is always live.")
if pinned and as_of is None:
    as_of = md.now().floor("min")
elif not pinned:
    as_of = None
if ref == "index" and any(v in exchanges for v in NO_INDEX_CANDLES):
    st.caption("Deribit publishes no index candles, so its contracts have a history here only with "
               "reference = spot (Binance spot last).")
if as_of is not None:
    st.caption(f"History pinned to end at {fmt_time(as_of)} (as_of); the curve above is live.")

vs.sync({"base": base, "ex": up.encode_multi(exchanges), "px": px, "ref": ref, "ann": ann,
         "r": up.encode_float(rate_pct), "y": y_mode, "hc": history_choice, "win": str(window), "res": resolution,
         "as_of": up.format_as_of(as_of)})
with problems_slot:
    vs.show_problems()

if history_choice is None:
    st.info(f"No {base} dated future on the chosen exchanges has candles to build a history from.")
else:
    _history_section(history_choice, window, resolution)
