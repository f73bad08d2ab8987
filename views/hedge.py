"""Hedge calculator: holdings in, the cheapest safe futures hedge out (DOMAIN.md "Hedging spot with futures").

One ``st.form``: nothing recomputes until the user submits. The settings live in the URL (``veh``, ``inst``,
``ex``, ``mg``, ``ratio`` %, ``lev``, ``hz`` days, ``fa`` current|mean|custom, ``fn`` days, ``fr`` % per 8h,
``fee`` bps, ``lo``/``hi`` scenario %, ``bw`` beta days, ``mmr`` %, ``liq`` %, ``drag`` % per 8h); the holdings
(``h``, with their per-row overrides) and the rows picked in "Hedge with" (``pk``, ``ASSET@exchange@symbol;...``:
a pick names an asset held) only when the user ticks "include holdings in link" (``inc=1``). Holdings stay in this
session's form and state (the last submitted ones in ``st.session_state``, so a pick recomputes without a
resubmit): never cached, logged or shared. Parsing and the plan: ``components.hedge_view``; math:
``analytics.hedge``; chart: ``components.charts_hedge``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar, cast

import pandas as pd
import streamlit as st

from analytics import hedge as hg
from components import charts_hedge as charts
from components import hedge_view as hv
from components import ui
from components import urlparams as up
from components.formatting import MISSING, md_literal
from components.ui_state import ViewState

GO = "hedge_go"  # session state: the form was submitted in this session (or a link brought holdings)
SUBMITTED = "hedge_submitted"  # session state: (holdings, settings) of the last submit; a pick reruns from it
MEMO = "hedge_memo"  # session state: the last book with its key and what the page built from it (this session only)
PICK = "hedge_pick_"  # + asset: the "Hedge with" selectbox of that holding
RATIO_PRESETS = {"full": "Full (100 %)", "half": "Half (50 %)", "custom": "Custom"}
FUNDING_NAMES = {"current": "Current rate", "mean": "Mean of the last N days", "custom": "Custom rate"}
VEHICLE_NAMES = {"self": "The asset itself", "BTC": "BTC (proxy, beta)", "ETH": "ETH (proxy, beta)"}
MARGIN_NAMES = {"any": "Any", "linear": "Linear (USDT/USDC)", "inverse": "Inverse (coin-margined)"}
D = hv.Settings()
T = TypeVar("T")

st.title("Hedge calculator")
st.caption(
    "How many contracts to short, where, what it costs or earns over your horizon, how far the short is from "
    "liquidation, and your book across price moves (seed 003; definitions in DOMAIN.md). Holdings stay in this "
    "browser session: they are not stored, logged or shared, and go into the link only if you tick it."
)

md = ui.market_data_or_stop()
vs = ViewState("hedge")
venues = list(md.venues)
label: Callable[[str], str] = md.venue_label
problems: dict[str, list[str]] = {}


def problem(field: str, message: str) -> None:
    problems.setdefault(field, []).append(message)


def url_choice(param: str, options: list[str], default: str, field: str) -> str:
    p = up.parse_choice(st.query_params.get(param), options, default, param=param)
    if p.problem:
        problem(field, f"link: {p.problem}")
    return p.value


def url_number(param: str, default: float | None, lo: float, hi: float, field: str) -> float | None:
    raw = st.query_params.get(param)
    if raw is None or raw == "":
        return default
    p = up.parse_float(raw, default if default is not None else float("nan"), param=param, lo=lo, hi=hi)
    if p.problem:
        problem(field, f"link: {p.problem.replace('; using nan', '; ignored')}")
        return default
    return p.value


# -- link values (validated; a tampered value is named next to its field and not used) -------------------------
for m in vs.problems:  # a parameter given twice, with different values: dropped by ViewState
    problem("holdings", f"link: {m}")
u_veh = url_choice("veh", list(hv.VEHICLES), D.vehicle, "vehicle")
u_inst = st.query_params.get("inst") or D.instrument
if u_inst not in hv.INSTRUMENTS and not hv.SYMBOL_RE.match(u_inst):
    problem("instrument", f"link: inst={u_inst[:80]!r} is not best, perp, future or a contract symbol; using best")
    u_inst = D.instrument
u_ex = url_choice("ex", ["any", *venues], D.exchange, "exchange")
u_mg = url_choice("mg", list(hv.MARGINS), D.margin, "margin")
u_ratio = url_number("ratio", D.ratio * 100, 0, 100, "ratio")
u_lev = url_number("lev", D.leverage, 1, 125, "leverage")
u_hz = url_number("hz", D.horizon_days, 1, hg.MAX_HORIZON_DAYS, "horizon")
u_fa = url_choice("fa", list(hv.FUNDING_MODES), D.funding_mode, "funding")
u_fn = url_number("fn", D.funding_days, 1, 365, "funding")
u_fr = url_number("fr", D.funding_custom_8h * 100, -5, 5, "funding")
u_fee = url_number("fee", None, -10, 100, "fee")
u_lo = url_number("lo", D.move_lo * 100, -95, 0, "scenario")
u_hi = url_number("hi", D.move_hi * 100, 0, 1000, "scenario")
u_bw = url_choice("bw", [str(d) for d in hv.BETA_WINDOWS], str(D.beta_days), "vehicle")
u_mmr = url_number("mmr", None, 0, 50, "mmr")
u_liq = url_number("liq", D.liq_warn * 100, 0, 100, "liq")
u_drag = url_number("drag", D.drag_8h * 100, 0, 5, "liq")
raw_inc = st.query_params.get("inc")
u_inc = raw_inc == "1"
if raw_inc not in (None, "", "0", "1"):
    problem("holdings", f"link: inc={raw_inc[:80]!r} is not 1; holdings are not kept in the link")
u_picks, pick_link_problems = hv.parse_picks(st.query_params.get("pk"), venues)
for m in pick_link_problems:
    problem("holdings", m)

known = hv.known_assets(md)
link_holdings, link_problems = hv.parse_holdings(hv.link_rows(st.query_params.get("h")),
                                                 known=lambda a: a in known, venues=venues)
for p in link_problems:
    problem("holdings", p.message)
if "hedge_seed" not in st.session_state:
    st.session_state["hedge_seed"] = hv.editor_frame(link_holdings)
    if link_holdings:
        st.session_state[GO] = True  # a shared link with holdings shows its result without a click

# -- the form ------------------------------------------------------------------------------------------------
slots: dict[str, object] = {}
with st.form("hedge_form", border=True):
    st.markdown("**Holdings** — one row per asset; blank override cells use the settings below (apply to all)")
    edited = st.data_editor(
        st.session_state["hedge_seed"], key="hedge_holdings", num_rows="dynamic", hide_index=True, width="stretch",
        placeholder=MISSING,
        column_config={
            "Asset": st.column_config.TextColumn(help="Base asset, e.g. BTC, ETH, SOL"),
            "Quantity": st.column_config.NumberColumn(help="Coins held (> 0)", format="%.8g"),
            "Cost basis": st.column_config.NumberColumn(help="Optional: USD per coin paid", format="%.2f"),
            "Hedge with": st.column_config.SelectboxColumn(options=list(hv.VEHICLES),
                                                           help="self = its own futures; BTC/ETH = proxy with beta"),
            "Exchange": st.column_config.SelectboxColumn(options=["any", *venues]),
            "Margin": st.column_config.SelectboxColumn(options=list(hv.MARGINS)),
            "Instrument": st.column_config.TextColumn(help="best, perp, future, or a symbol from the ranking"),
            "Ratio %": st.column_config.NumberColumn(help="0-100"),
            "Leverage": st.column_config.NumberColumn(help="Within the market's maximum"),
            "Horizon d": st.column_config.NumberColumn(help=f"1-{hg.MAX_HORIZON_DAYS:g} days"),
            "Funding": st.column_config.SelectboxColumn(options=list(hv.FUNDING_MODES),
                                                        help="current, mean (of the last N days) or custom"),
            "Funding N d": st.column_config.NumberColumn(help="Days averaged by 'mean' (1-365)"),
            "Funding %/8h": st.column_config.NumberColumn(help="The rate 'custom' assumes (-5..5 % per 8h)",
                                                          format="%.4f"),
            "Fee bps": st.column_config.NumberColumn(help="Taker fee (-10..100 bps); blank: the setting below"),
            "Scenario from %": st.column_config.NumberColumn(help="-95..0"),
            "Scenario to %": st.column_config.NumberColumn(help="0..1000"),
        })
    slots["holdings"] = st.empty()
    c = st.columns(2)
    paste = c[0].text_area("…or paste CSV: asset,quantity[,cost]", key="hedge_paste", height=110,
                           placeholder="asset,quantity,cost\nBTC,1.5,42000\nETH,20")
    upload = c[1].file_uploader("…or upload a CSV (asset,quantity[,cost])", type=["csv", "txt"],
                                key="hedge_upload")
    slots["csv"] = st.empty()

    st.markdown("**Hedge settings** — apply to all holdings")
    r = st.columns(5)
    vehicle = r[0].selectbox("Hedge vehicle", list(hv.VEHICLES), index=list(hv.VEHICLES).index(u_veh),
                             format_func=VEHICLE_NAMES.get, key="hedge_vehicle",
                             help="Seed 003 example 3: hedge an altcoin with BTC or ETH futures, sized by beta.")
    beta_days = r[0].selectbox("Beta window", [str(d) for d in hv.BETA_WINDOWS],
                               index=[str(d) for d in hv.BETA_WINDOWS].index(u_bw), key="hedge_bw",
                               format_func=lambda d: f"{d} days of daily closes")
    slots["vehicle"] = r[0].empty()
    inst_options = list(dict.fromkeys([*hv.INSTRUMENTS, u_inst]))
    instrument = r[1].selectbox("Instrument", inst_options, index=inst_options.index(u_inst), key="hedge_inst",
                                accept_new_options=True,
                                help="best = cheapest over the horizon; perp; future = cheapest dated future; "
                                     "or type a symbol from the ranking (e.g. BTC/USDT:USDT-270326).")
    slots["instrument"] = r[1].empty()
    exchange = r[2].selectbox("Exchange", ["any", *venues], index=["any", *venues].index(u_ex),
                              format_func=lambda v: "Any (rank all)" if v == "any" else label(v), key="hedge_ex")
    slots["exchange"] = r[2].empty()
    margin = r[3].selectbox("Margin", list(hv.MARGINS), index=list(hv.MARGINS).index(u_mg),
                            format_func=MARGIN_NAMES.get, key="hedge_mg",
                            help="Inverse contracts use the exchange's real contract size (e.g. 100 USD).")
    slots["margin"] = r[3].empty()
    preset_default = "full" if u_ratio == 100 else "half" if u_ratio == 50 else "custom"
    preset = r[4].radio("Hedge ratio", list(RATIO_PRESETS), index=list(RATIO_PRESETS).index(preset_default),
                        format_func=RATIO_PRESETS.get, key="hedge_preset", horizontal=True)
    ratio_custom = r[4].number_input("Custom ratio %", min_value=0.0, max_value=100.0, value=float(u_ratio or 0),
                                     step=5.0, key="hedge_ratio")
    slots["ratio"] = r[4].empty()

    r = st.columns(5)
    leverage = r[0].number_input("Leverage", min_value=1.0, max_value=125.0, value=float(u_lev or 1), step=1.0,
                                 key="hedge_lev", help="Checked against the chosen market's maximum.")
    slots["leverage"] = r[0].empty()
    horizon = r[1].number_input("Horizon (days)", min_value=1.0, max_value=hg.MAX_HORIZON_DAYS,
                                value=float(u_hz or 30), step=1.0, key="hedge_hz")
    slots["horizon"] = r[1].empty()
    funding_mode = r[2].radio("Funding assumption", list(hv.FUNDING_MODES),
                              index=list(hv.FUNDING_MODES).index(u_fa), format_func=FUNDING_NAMES.get,
                              key="hedge_fa")
    fc = r[2].columns(2)
    funding_days = fc[0].number_input("N days", min_value=1, max_value=365, value=int(u_fn or 30), key="hedge_fn")
    funding_rate = fc[1].number_input("Custom %/8h", min_value=-5.0, max_value=5.0, value=float(u_fr or 0),
                                      step=0.001, format="%.4f", key="hedge_fr")
    slots["funding"] = r[2].empty()
    fee = r[3].number_input("Taker fee (bps)", min_value=-10.0, max_value=100.0, value=u_fee, step=0.5,
                            key="hedge_fee", placeholder="each exchange's",
                            help="Blank: each exchange's published base-tier taker fee (from its markets; "
                                 f"{hv.DEFAULT_TAKER_BPS:g} bps where none is published).")
    slots["fee"] = r[3].empty()
    mmr = r[3].number_input("Maintenance margin %", min_value=0.0, max_value=50.0, value=u_mmr, step=0.1,
                            key="hedge_mmr", placeholder="exchange's tiers",
                            help="Blank: the exchange's tiers (OKX, Bybit: their public endpoints; Binance: a "
                                 "dated default table; Deribit: its documented rates). Set to override.")
    slots["mmr"] = r[3].empty()
    sc = r[4].columns(2)
    # "is None", not "or": a link's lo=0 or hi=0 is a value, not a missing one
    move_lo = sc[0].number_input("Scenario from %", min_value=-95.0, max_value=0.0,
                                 value=float(D.move_lo * 100 if u_lo is None else u_lo), step=5.0, key="hedge_lo")
    move_hi = sc[1].number_input("to %", min_value=0.0, max_value=1000.0,
                                 value=float(D.move_hi * 100 if u_hi is None else u_hi), step=5.0, key="hedge_hi")
    wc = r[4].columns(2)
    liq_warn = wc[0].number_input("Warn: liq. within %", min_value=0.0, max_value=100.0,
                                  value=float(u_liq or 0), step=5.0, key="hedge_liq")
    drag = wc[1].number_input("Warn: funding %/8h", min_value=0.0, max_value=5.0, value=float(u_drag or 0),
                              step=0.005, format="%.4f", key="hedge_drag",
                              help="Seed 003's costly drag: the short pays more than this per 8h.")
    slots["scenario"] = r[4].empty()
    slots["liq"] = r[4].empty()
    include = st.checkbox("Include holdings in link", value=u_inc, key="hedge_inc",
                          help="Off (default): the link carries only the settings; your holdings stay here.")
    submitted = st.form_submit_button("Compute hedge", type="primary", icon=":material/calculate:")

if submitted:
    st.session_state[GO] = True

# -- parse what the form holds ---------------------------------------------------------------------------------
rows = hv.editor_rows(edited)
if paste and paste.strip():
    pasted, csv_problems = hv.csv_rows(paste, "pasted")
    rows += pasted
    for p in csv_problems:
        problem("csv", p.message)
if upload is not None:
    text, file_problems = hv.decode_upload(upload.getvalue(), upload.name)
    for p in file_problems:
        problem("csv", p.message)
    if text:
        from_file, csv_problems = hv.csv_rows(text, f"file {upload.name}")
        rows += from_file
        for p in csv_problems:
            problem("csv", p.message)
holdings, holding_problems = hv.parse_holdings(rows, known=lambda a: a in known, venues=venues)
if st.session_state.get(GO) or submitted:
    for p in holding_problems:  # a pasted or uploaded line's message goes under the paste box
        problem("csv" if p.message.startswith(("pasted", "file ")) else "holdings", p.message)

ratio = {"full": 1.0, "half": 0.5}.get(preset, ratio_custom / 100.0)
settings = hv.Settings(
    vehicle=vehicle, instrument=str(instrument).strip() or "best", exchange=exchange, margin=margin, ratio=ratio,
    leverage=float(leverage), horizon_days=float(horizon), funding_mode=funding_mode, funding_days=int(funding_days),
    funding_custom_8h=funding_rate / 100.0, fee_bps=None if fee is None else float(fee),
    move_lo=move_lo / 100.0, move_hi=move_hi / 100.0, beta_days=int(beta_days),
    mmr=None if mmr is None else mmr / 100.0, liq_warn=liq_warn / 100.0, drag_8h=drag / 100.0)
settings_problems = hv.check_settings(settings, venues)
for p in settings_problems:
    problem(p.field, p.message)

vs.sync({
    "veh": vehicle, "inst": settings.instrument, "ex": exchange, "mg": margin, "ratio": up.encode_float(ratio * 100),
    "lev": up.encode_float(leverage), "hz": up.encode_float(horizon), "fa": funding_mode, "fn": str(funding_days),
    "fr": up.encode_float(funding_rate), "fee": None if fee is None else up.encode_float(fee),
    "lo": up.encode_float(move_lo), "hi": up.encode_float(move_hi), "bw": str(beta_days),
    "mmr": None if mmr is None else up.encode_float(mmr), "liq": up.encode_float(liq_warn),
    "drag": up.encode_float(drag),
    "inc": "1" if include else None, "h": hv.encode_holdings(holdings) if include and holdings else None,
})

# -- compute (only from valid input, only after a submit or a link with holdings) --------------------------------
# A "Hedge with" pick reruns the page without a submit: it recomputes from the holdings last submitted, kept in
# this session's state only (never in a cache), not from whatever the form holds now.
if submitted or SUBMITTED not in st.session_state:
    st.session_state[SUBMITTED] = (holdings, settings)
run_holdings, run_settings = st.session_state[SUBMITTED]
picks: dict[str, hv.Pick] = {}
for h in run_holdings:
    chosen_value = st.session_state.get(PICK + h.asset)
    if chosen_value is None and (from_link := u_picks.get(h.asset)) is not None:
        picks[h.asset] = from_link
    elif (pick := hv.parse_pick(chosen_value, venues)) is not None:
        picks[h.asset] = pick
book = None
if st.session_state.get(GO) and run_holdings and not hv.check_settings(run_settings, venues):
    book = hv.compute(md, run_holdings, run_settings, picks=picks, memo=st.session_state.setdefault(MEMO, {}))
    for p in book.problems:
        problem(p.field, p.message)
    # a pick names the asset held: like the holdings, it goes into the link only when the user ticks it
    picked = {p.holding.asset: picks[p.holding.asset] for p in book.plans if p.picked}
    vs.sync({"pk": hv.encode_picks(picked) if include else None})


def built(name: str, build: Callable[[], T]) -> T:
    """``build()`` once per book: kept beside the book in this session's memo (never shared), so a rerun on the
    same book (a click elsewhere, a refresh within the data's TTL) redraws without rebuilding tables and charts."""
    memo = st.session_state.setdefault(MEMO, {})
    views = memo.setdefault("views", {})
    serial = memo.get("serial")
    if serial is None or name not in views or views[name][0] != serial:
        views[name] = (serial, build())
    return cast(T, views[name][1])


def show_problems() -> None:
    """Every problem next to its field (the slots under the widgets); the rest under the holdings."""
    for field, messages in problems.items():
        slot = slots.get(field, slots["holdings"])
        text = "\n".join(f"- {md_literal(m)}" for m in dict.fromkeys(messages))  # echoed input: as text
        slot.error(text, icon=":material/error:")  # type: ignore[attr-defined]


show_problems()
if book is None:
    if not st.session_state.get(GO):
        st.info("Enter your holdings (table, paste or CSV file) and press **Compute hedge**.",
                icon=":material/edit_note:")
    elif not holdings:
        st.warning("No valid holding to hedge: see the messages in the form.", icon=":material/warning:")
    elif settings_problems:
        st.warning("Fix the settings named in the form; nothing is computed from them.", icon=":material/warning:")
    st.stop()

errors = {k: v for m in book.markets.values() for k, v in m.errors.items()}
if errors:
    ui.venue_errors(errors, label=label, what="the market data")

# -- where to hedge ------------------------------------------------------------------------------------------------
st.header("Where to hedge")
st.caption("Every (exchange, instrument, margin type) that can hedge each holding, ranked by expected cost over the "
           "horizon: **cost > 0 you pay, < 0 the short earns**. Perpetual: fees minus the funding a short earns "
           "(negative funding makes it cost money). Dated future: fees minus the basis locked in (a short in "
           "contango earns F0 − S0 as it converges), annualized carry beside it; one expiring inside the horizon "
           "rolls into the next one at today's curve. To hedge with another row, pick it in **Hedge with** under "
           "the table: that holding's plan follows at once (rows without a known cost cannot be picked).")
for plan in book.plans:
    h = plan.holding
    with st.container(border=True):
        vehicle_text = f" with {plan.vehicle} (proxy)" if plan.vehicle and plan.vehicle != h.asset else ""
        st.subheader(f"{h.asset}: {h.quantity:,.8g} {'coin' if h.quantity == 1 else 'coins'}{vehicle_text}")
        if (own := hv.overrides_text(h)) is not None:
            st.caption(f"This row's own settings: {own} (the rest: apply to all).")
        if plan.error:
            st.error(md_literal(plan.error), icon=":material/block:")
            continue
        if plan.beta is not None:
            b = plan.beta
            st.caption(f"Beta of {h.asset} on {plan.vehicle}: **{b.value:.3f}** from {b.n} daily log returns over "
                       f"{plan.settings.beta_days} days (correlation {b.correlation:.2f}, residual daily volatility "
                       f"{b.residual_vol:.2%}); {b.sources}.")
        ranking = built(f"ranking {h.asset}", lambda plan=plan: hv.ranking_table(plan, label))
        ui.table(ranking, key=f"hedge_rank_{h.asset}", column_config=ui.number_formats({
            "Hedge notional": "%,.2f", "Funding %/8h or basis %": "%+.4f%%", "Annualized carry %": "%+.2f%%",
            "Fees USD": "%,.2f", "Funding/basis USD": "%+,.2f", "Expected cost USD": "%+,.2f", "Cost %": "%+.3f%%",
            "Contracts": "%.6g",
        }))
        options = hv.pick_options(plan)
        key = PICK + h.asset
        if st.session_state.get(key) not in options:  # first draw (the link's pick), or the ranking changed
            wanted = hv.pick_value(*picks[h.asset]) if plan.picked else hv.PICK_BEST
            st.session_state[key] = wanted if wanted in options else hv.PICK_BEST
        option_labels = built(f"pick labels {h.asset}", lambda plan=plan, options=options: hv.pick_labels(
            plan, options, label))
        st.selectbox("Hedge with", options, key=key, format_func=option_labels.__getitem__,
                     help="best = the cheapest row above; or any ranked row (exchange · symbol · margin). Sizing, "
                          "costs, margin and scenarios of this holding follow; the link keeps the pick.")
        if plan.pick_problem:
            st.warning(md_literal(plan.pick_problem), icon=":material/swap_horiz:")
        chosen = plan.chosen or {}
        basis = chosen.get("funding_basis")
        cheapest = not plan.picked and plan.settings.instrument in ("best", "perp", "future")
        st.caption(f"Chosen: **{label(str(chosen.get('venue')))} {chosen.get('symbol')}** "
                   f"({'the cheapest' if cheapest else 'your pick'})."
                   + (f" Funding: {basis}." if isinstance(basis, str) else "") + f" Fees: {chosen.get('fee_source')}."
                   + f" Price used for {h.asset}: {plan.price_source}.")
        if plan.cost is not None and plan.cost.note:
            st.info(plan.cost.note, icon=":material/info:")
        for w in plan.warnings:
            st.warning(w, icon=":material/warning:")

ok = [p for p in book.plans if p.sizing is not None and not p.error]
if not ok:
    st.stop()

# -- sizing -------------------------------------------------------------------------------------------------------
st.header("Sizing")
sizing = built("sizing", lambda: hv.sizing_table(ok, label))
ui.table(sizing, key="hedge_sizing", column_config=ui.number_formats(
    {c: "%,.2f" for c in sizing.columns if c.endswith("USD") or c == "Price used"}))
st.caption("Hedge notional = ratio × notional, or ratio × beta × notional for a proxy hedge (DOMAIN.md). Linear "
           "contracts = hedge / (price × contract size); inverse = hedge USD / face value per contract; rounded to "
           "the market's step. Residual > 0: under-hedged. Net delta is what stays exposed after the hedge.")

st.header("Costs over the horizon")
costs = built("costs", lambda: hv.cost_table(ok))
ui.table(costs, key="hedge_costs", column_config=ui.number_formats({"USD (cost > 0)": "%+,.2f"}))
assumptions = dict.fromkeys(a for p in ok if p.cost for a in p.cost.assumptions)
st.caption("Assumptions: " + "; ".join(assumptions) + ".")

# -- margin -------------------------------------------------------------------------------------------------------
st.header("Margin and liquidation")
margin_frame = built("margin", lambda: hv.margin_table(ok))
ui.table(margin_frame, key="hedge_margin", column_config=ui.number_formats({
    "Entry price": "%,.2f", "Initial margin": "%,.6g", "Maintenance margin": "%,.6g", "cum": "%,.6g",
    "Initial margin USD": "%,.2f", "Liquidation price": "%,.2f", "Distance %": "%+.1f%%", "MMR %": "%.3f%%",
}))
st.markdown(f"Isolated short, Binance-style with `cum`, fees and funding ignored: linear `{hg.LINEAR_SHORT_FORMULA}`; "
            f"inverse `{hg.INVERSE_SHORT_FORMULA}` — no liquidation price when the denominator is ≤ 0 (a 1x "
            "coin-margined short funded by the coin itself cannot be liquidated on the way up). WB = initial "
            "margin = position / leverage; MMR and cum from the tier holding the position at the liquidation price. "
            "Each exchange's tiers, fees and mark price move the real figure.")
for p in ok:
    if p.liquidation is not None and p.liquidation.price is None:
        st.success(f"{p.holding.asset}: {p.liquidation.reason}.", icon=":material/shield:")
    if p.margin_problem:
        st.warning(f"{p.holding.asset}: {p.margin_problem}", icon=":material/warning:")
for note in dict.fromkeys(p.tiers_note for p in ok if p.tiers_note):
    st.caption(f"Tiers: {note}.")

# -- scenarios ----------------------------------------------------------------------------------------------------
st.header("Scenarios")
scen = built("scenarios", lambda: hv.scenario_tables(ok))
if not scen.empty:
    horizons = {p.settings.horizon_days for p in ok}
    ranges = {(p.settings.move_lo, p.settings.move_hi) for p in ok}
    over = f"{horizons.pop():g} days" if len(horizons) == 1 else "each holding's horizon"
    moves = f"{ok[0].settings.move_lo:+.0%} .. {ok[0].settings.move_hi:+.0%}" if len(ranges) == 1 else \
        "each holding's range (Total: the moves all share)"
    if (scen_note := hv.scenario_note(ok)) is not None:
        st.info(scen_note, icon=":material/info:")
    st.plotly_chart(built("scenario chart", lambda: charts.scenario_figure(
        scen, title=f"Book P&L over {over} across price moves {moves}")),
                    width="stretch", theme=None, key="hedge_scenario_chart")
    st.plotly_chart(built("net chart", lambda: charts.net_figure(
        scen, title="Net P&L of the hedged book (USD): what the hedge leaves, with funding/basis and fees")),
                    width="stretch", theme=None, key="hedge_net_chart")
    special = {"Move %": "%+.0f%%", "Price": "%,.2f", "Hedge asset price": "%,.2f", "Net %": "%+.3f%%"}
    ui.table(scen, key="hedge_scenarios", column_config=ui.number_formats(
        {c: "%+,.2f" for c in scen.columns if c != "Asset" and c not in special} | special))
    st.caption("Spot P&L = quantity × (P1 − P0); hedge P&L linear = −contracts × size × (P1 − P0), inverse = "
               "contracts × face × (1/P1 − 1/P0) coin valued at P1 (non-linear). Funding/basis and fees over the "
               "horizon on today's notional. Net % of the starting value. For a proxy hedge the asset moves "
               "beta × the hedge asset's move, ± the beta residual (1 sd over the horizon).")

# -- downloads ------------------------------------------------------------------------------------------------------
rank_all = built("ranking all", lambda: pd.concat([hv.ranking_table(p, label).assign(Asset=p.holding.asset)
                                                    for p in ok], ignore_index=True))
c = st.columns(5)
ui.csv_download("Plan CSV", lambda: hv.plan_csv(sizing, costs, margin_frame, scen, rank_all), "hedge_plan",
                key="hedge_plan_csv", where=c[0])
ui.csv_download("Sizing CSV", sizing, "hedge_sizing", key="hedge_sizing_csv", where=c[1])
ui.csv_download("Margin CSV", margin_frame, "hedge_margin", key="hedge_margin_csv", where=c[2])
ui.csv_download("Scenarios CSV", scen, "hedge_scenarios", key="hedge_scenarios_csv", where=c[3])
ui.csv_download("Where to hedge CSV", rank_all, "hedge_ranking", key="hedge_ranking_csv", where=c[4])
ages = [a for m in book.markets.values() for a in m.ages]
ui.freshness(max(ages) if ages else None, stale={k: v for m in book.markets.values() for k, v in m.stale.items()},
             label=label)
