"""Overview: the desk's morning glance -- price, perp premium, funding APR and quarterly basis per asset.

Reads the exchange choice from the URL (``?exchange=<venue id>``), fetches through ``data_sources``, lets
``components.tables`` (which calls ``analytics``) build the table, and renders it. Below it, the 30-session
correlations of BTC and ETH with the gold and Nasdaq-100 proxies and their active decoupling flags
(``components.correlation_view.overview``), each linking to the Correlation page with the same view.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from components import correlation_view as cv
from components import tables, ui
from components.derived import derived
from components.formatting import fmt_apr, fmt_pct, fmt_price, is_missing
from components.ui_state import ViewState
from data_sources import DataSourceError, FrameResult

BASES = ("BTC", "ETH", "SOL")
EXCHANGE_PARAM = "exchange"
ALL_LABEL = "All exchanges (mean)"

st.title("Overview")

md = ui.market_data_or_stop()

# -- inputs: the exchange lives in the URL as a venue id, so a shared link opens the same view -----------
vs = ViewState("overview")
options = [tables.ALL_VENUES, *md.venues]
requested = vs.choice(EXCHANGE_PARAM, options, tables.ALL_VENUES)
vs.show_problems()
venue = st.selectbox(
    "Premium, funding and basis from",
    options,
    index=options.index(requested),
    format_func=lambda v: ALL_LABEL if v == tables.ALL_VENUES else md.venue_label(v),
    key="overview_exchange",
    width=360,
    help="One exchange's primary perp (USDT-margined where listed) and quarterly, "
    "or the mean across exchanges.",
)
vs.sync({EXCHANGE_PARAM: None if venue == tables.ALL_VENUES else venue})
chosen = None if venue == tables.ALL_VENUES else [venue]
venue_text = ALL_LABEL if venue == tables.ALL_VENUES else md.venue_label(venue)

# -- data: each part may fail on its own; show what we have and name what is missing ----------------------
failures: dict[str, list[str]] = {}  # message -> what it took out (one venue down fails several calls alike)


def fetch(what: str, call: Callable[[], FrameResult]) -> FrameResult | None:
    try:
        return call()
    except DataSourceError as e:
        failures.setdefault(str(e), []).append(what)
        return None


terms = {
    b: fetch(f"{b} futures and perps", lambda b=b: md.term_structure(base=b, venues=chosen)) for b in BASES
}
funding = fetch("funding", lambda: md.funding_now(bases=BASES, venues=chosen))
spot = fetch("spot prices", lambda: md.spot(bases=BASES))

results = [r for r in (*terms.values(), funding, spot) if r is not None]
errors: dict[str, str] = {}
stale: dict[str, float] = {}
for r in results:
    for v, msg in r.errors.items():
        errors.setdefault(v, msg)
    for v, age in r.stale.items():
        stale[v] = max(age, stale.get(v, 0.0))
shared_age = max([r.age_s for r in (funding, spot) if r is not None], default=float("nan"))
ages = {b: max(r.age_s, shared_age) if r is not None else float("nan") for b, r in terms.items()}
source_text = "simulated" if md.source == "demo" else md.source  # the scenario is on the badge

for message, parts in failures.items():
    st.error(f"Could not load {', '.join(parts)}: {message}", icon=":material/error:")
ui.venue_errors(errors, label=md.venue_label)
if not results:
    st.stop()

# Computed once per version of the quotes (components.derived); only the ages change from run to run.
frame = derived(
    ("overview", tuple((b, None if r is None else r.token) for b, r in terms.items()),
     None if funding is None else funding.token, None if spot is None else spot.token, venue, source_text),
    lambda: tables.overview_frame(
        tables.stack([r.frame if r is not None else None for r in terms.values()]),
        funding.frame if funding is not None else None,
        spot.frame if spot is not None else None,
        bases=BASES,
        venue=None if venue == tables.ALL_VENUES else venue,
        label=md.venue_label,
        source=source_text,
    ),
).assign(age_s=[float(ages.get(b, float("nan"))) for b in BASES])

# -- render ------------------------------------------------------------------------------------------------
cards = st.columns(len(BASES))
for col, row in zip(cards, frame.itertuples(index=False), strict=True):
    with col.container(border=True):
        st.metric(row.asset, fmt_price(row.price), help=f"Price is the {row.price_source}.")
        quarterly = "no quarterly" if is_missing(row.basis_ann) else f"quarterly **{fmt_apr(row.basis_ann)}** ann."
        st.caption(
            f"Premium **{fmt_pct(row.premium, decimals=3, signed=True)}** · "
            f"funding **{fmt_apr(row.funding_apr)}** APR · {quarterly}"
        )

names = tables.OVERVIEW_DISPLAY
help_texts = {
    "price": "Quote currency (USD / USDT).",
    "price_source": "An exchange's index, the mean of the venues' indexes, or Binance spot last.",
    "premium": "(mark − index) / index of the perp.",
    "funding_apr": "Current rate × 24 × 365 / interval hours: simple APR.",
    "funding_source": "The perp(s) behind premium and funding, with the funding interval.",
    "basis_ann": "(F / S − 1) × 365 / days: annualized, simple, ACT/365.",
    "basis_contract": "Nearest quarterly (last Friday of Mar/Jun/Sep/Dec) more than 3 days out.",
    "data": "Where the numbers come from and how old they are.",
}
column_config = {names["asset"]: st.column_config.TextColumn(pinned=True)}
for col, text in help_texts.items():
    align = "right" if col in tables.OVERVIEW_NUMERIC_DISPLAY else None
    column_config[names[col]] = st.column_config.TextColumn(help=text, alignment=align)
ui.table(tables.overview_display(frame), key="overview_table",
         column_config=column_config)
st.caption(
    f"Premium, funding and basis from: **{venue_text}**. "
    "Premium = (mark − index) / index of each venue's primary perp (USDT-margined where listed). "
    "Funding APR = rate × 24 × 365 / interval hours (simple). "
    "Quarterly basis = (F / S − 1) × 365 / days to expiry (annualized, simple, ACT/365) of the nearest "
    "quarterly more than 3 days out; F = the future's mark, S = the same venue's index."
)
ui.freshness(max(ages.values()), stale=stale, label=md.venue_label)
ui.csv_download("Download CSV", frame, "overview", key="overview_csv")

# -- cross-asset correlation: the Correlation page's default view, one card per asset ----------------------
st.subheader("Cross-asset correlation")
FLAG_NAMES = {"flight_to_safety": "flight to safety without it", "risk_rotation": "rotation out of risk",
              "band_exit": "correlation left its band", "sign_change": "correlation changed sign"}
summaries, corr_loaded = cv.overview(md)
for name, message in corr_loaded.errors.items():
    st.error(f"Correlation: could not load {name}: {message}", icon=":material/error:")
cards = st.columns(len(summaries))
for col, summary in zip(cards, summaries, strict=True):
    view = summary.view
    with col.container(border=True, key=f"overview_corr_{summary.asset}"):
        st.markdown(f"**{summary.asset}**, {cv.OVERVIEW_WINDOW}-session correlation of daily log returns")
        if not view.pairs:
            st.caption("Not available: the asset or every proxy failed to load.")
        for pair in view.pairs:
            proxy = pair.split(cv.PAIR_SEP)[1]
            est = view.current[pair]
            if est.value != est.value:  # NaN: say why
                st.caption(f"with {proxy}: — ({est.reason})")
                continue
            band = view.band_now.get(pair)
            where = ""
            if band is not None and band[1] == band[1]:
                where = (" · inside its band" if band[1] <= est.value <= band[2]
                         else " · outside its band")
            st.markdown(f"with {proxy}: **{est.value:+.2f}**{where}")
        active = cv.active_episodes(view)
        for row in active.itertuples(index=False):
            st.warning(f"{row.pair}: {FLAG_NAMES.get(str(row.flag), row.flag)} since {row.start:%Y-%m-%d}",
                       icon=":material/crisis_alert:")
        if view.pairs and active.empty:
            st.caption("No decoupling flag active.")
        st.page_link("views/correlation.py", label=f"{summary.asset} on the Correlation page",
                     icon=":material/ssid_chart:", query_params=summary.link)
