"""Every page x every venue x every fault kind: a failing exchange takes nothing down (issue 11).

Each case runs one page three times on the demo market, the real ccxt clients answering from the simulated
exchanges, with one fault injected into the facade's ``FaultPlan``:

1. fault-free, cold: the baseline of this case (the market clock is frozen, so runs are comparable);
2. the venue fails after that good fetch (fresh values dropped, last good values kept): the page still
   shows the venue's numbers, says they are stale and how old they are;
3. the venue fails from the start (every cache and its ccxt client forgotten): the page names the venue
   with a reason a reader can act on.

In every run the page renders without an exception element or a traceback, and every number attributed
to another venue is the baseline's. A venue the page never asks (the fault hit no request) changes
nothing at all (then the remaining kinds are skipped: faults match by venue, so none would reach it).
The pages come from app.py's ``st.Page`` list (a page joins once its view file exists), the venues from
``data_sources.venues.VENUES``, the kinds from ``KINDS``. Open bugs are listed in ``KNOWN``: a test whose
only failures are known ones is an xfail naming them, anything else fails.

Speed: the client timeout is 50 ms (a ``slow`` answer costs that per attempt), retries do not sleep, the
rate limiter is off (``demo_env``), and one facade (clients, loaded markets) serves the whole module.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

import data_sources.source as source
from data_sources import get_market_data
from data_sources.config import parse_demo_faults
from data_sources.simulated import FAULT_KINDS, Fault
from data_sources.simulated.market import SimMarket
from data_sources.venues import VENUES
from tests.views.conftest import APP, assert_no_exception

ROOT = Path(APP).parent
# The fault kinds a user can name in CARRYDESK_DEMO_FAULTS (latency alone fails nothing).
KINDS = ("timeout", "down", "rate_limit", "ban", "server_error", "malformed", "empty", "slow")
# What the page must say for each kind, besides the venue's name (case-insensitive regex).
REASONS: dict[str, str] = {
    "timeout": r"timed out",
    "down": r"connection refused",
    "rate_limit": r"rate ?limit|too many|429|ddos",
    "ban": r"banned|forbidden|403|418|access denied|ddos|1015|rate ?limit",
    "server_error": r"5\d\d|server|system error|not ?available|service|internal|retry",
    "malformed": r"not json|malformed|bad ?response",
    "empty": r"no data|no markets|empty|no prices|no \w+ rows|returned no|nullresponse|listed no",
    "slow": r"timed out",
}
CLIENT_TIMEOUT_MS = 50
VENUE_IDS = tuple(VENUES)


def _app_pages() -> list[str]:
    """app.py's ``st.Page`` scripts that exist (a page being written joins the matrix with its file)."""
    scripts = re.findall(r"st\.Page\(\s*[\"'](views/[\w/]+\.py)[\"']", (ROOT / "app.py").read_text(encoding="utf-8"))
    return [s for s in dict.fromkeys(scripts) if (ROOT / s).is_file()]


PAGES = _app_pages()
CASES = [(p, v, k) for p in PAGES for v in VENUE_IDS for k in KINDS]
_RAN: list[float] = []


# -- set-up ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def frozen_market() -> Iterator[SimMarket]:
    """The demo market with its clock stopped, so the baseline and the faulted runs show the same numbers."""
    now_ms = (time.time_ns() // 1_000_000) // 60_000 * 60_000 + 17_000  # off the minute, like a real "now"
    market = SimMarket(seed=7, scenario="normal", clock=lambda: now_ms)
    real_load = source.load_settings
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(source, "shared_market", lambda seed=7, scenario="normal": market)
        # Retries still happen (three attempts per call); only their backoff sleeps go.
        mp.setattr(source, "load_settings", lambda *a, **k: replace(real_load(*a, **k), retry_backoff_s=0.0))
        yield market


@pytest.fixture
def matrix_env(demo_env: pytest.MonkeyPatch, frozen_market: SimMarket) -> Iterator[Any]:
    """``demo_env`` plus a tiny client timeout; yields the module's one facade with an empty fault plan."""
    demo_env.setenv("CARRYDESK_CCXT_OPTIONS", json.dumps({"*": {"timeout": CLIENT_TIMEOUT_MS}}))
    md = get_market_data()
    assert md.market is frozen_market
    md.faults.clear()
    md.cache.clear()
    yield md
    md.faults.clear()


# -- what a page shows -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Shown:
    """One number (or text cell) on the page and the venues its row, column or trace names."""

    value: Any
    venues: frozenset[str]


_LABELS = {v: VENUES[v].label for v in VENUE_IDS}
# Ages move with the wall clock between runs ("simulated · 0 s", "3 s old"); they are not venue numbers.
_AGE = re.compile(r"\b\d+(?:\.\d+)?\s?(?:s|min|h)\b(?! to)")


def _venues_in(text: str) -> frozenset[str]:
    found = set()
    for venue, label in _LABELS.items():
        if label in text or re.search(rf"\b{re.escape(venue)}\b", text):
            found.add(venue)
    # "Binance spot" is also "Binance ..." text; a label that is a prefix of another is not a second venue.
    return frozenset(found)


def _norm(value: Any) -> Any:
    if isinstance(value, str):
        return _AGE.sub("<age>", value)
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    if hasattr(value, "isoformat"):
        return str(value)
    if isinstance(value, list | tuple):
        return tuple(_norm(v) for v in value)
    return value


def numbers(at: AppTest) -> dict[tuple, Shown]:
    """Every table cell, metric and chart trace of the page, keyed so that rows can come and go."""
    out: dict[tuple, Shown] = {}
    for d in at.dataframe:
        df = d.value
        table = ("table", tuple(map(str, df.columns)))
        col_venues = {c: _venues_in(str(c)) for c in df.columns}
        seen: dict[tuple, int] = {}
        for row in df.itertuples(index=False):
            cells = [_norm(v) for v in row]
            labels = tuple(str(c) for c in cells if isinstance(c, str))
            n = seen[labels] = seen.get(labels, -1) + 1
            row_venues = _venues_in(" ".join(labels))
            for col, cell in zip(df.columns, cells, strict=True):
                out[(*table, labels, n, str(col))] = Shown(cell, row_venues | col_venues[col])
    for m in at.metric:
        out[("metric", m.label)] = Shown(_norm(m.value), _venues_in(f"{m.label} {m.value}"))
    for i, chart in enumerate(at.get("plotly_chart")):
        spec = json.loads(chart.proto.spec)
        title = str((spec.get("layout", {}).get("title") or {}).get("text") or i)
        for j, trace in enumerate(spec.get("data", [])):
            name = str(trace.get("name") or j)
            data = tuple(_norm(trace.get(axis)) for axis in ("x", "y", "z"))
            out[("chart", _AGE.sub("<age>", title), name)] = Shown(data, _venues_in(f"{title} {name}"))
    return out


def texts(at: AppTest) -> list[str]:
    """The text of every message, caption and markdown element (where a traceback would show)."""
    found = []
    for kind in ("error", "warning", "info", "success", "exception", "caption", "markdown", "code", "text"):
        found.extend(str(getattr(el, "value", "")) for el in at.get(kind))
    return found


def messages(at: AppTest) -> list[str]:
    return [str(el.value) for kind in ("error", "warning", "info") for el in at.get(kind)]


def assert_renders(at: AppTest) -> None:
    assert_no_exception(at)
    shown = texts(at)
    assert not [t for t in shown if "Traceback (most recent call last)" in t], shown
    assert at.title, "the page did not get as far as its title"


def assert_others_unchanged(baseline: dict[tuple, Shown], now: dict[tuple, Shown], venue: str, *, used: bool) -> None:
    """Numbers of other venues are the baseline's; numbers of no venue too when the page never asked ``venue``.

    A number of no single venue (a mean across venues, a cross-venue spread, a page total) may include the
    failing venue, so it is compared only when the fault reached nothing.
    """

    def others(shown: dict[tuple, Shown]) -> dict[tuple, Any]:
        # A number of two or more venues (a cross-venue spread, "highest: X, lowest: Y") is an aggregate too.
        return {k: s.value for k, s in shown.items()
                if (len(s.venues) == 1 and venue not in s.venues) or not used}

    want, got = others(baseline), others(now)
    # New numbers of other venues may appear (a page falls back to the next exchange's contract); none may
    # go or change.
    missing = sorted(set(want) - set(got), key=str)[:5]
    changed = [(k, want[k], got[k]) for k in want if k in got and want[k] != got[k]][:5]
    assert not missing and not changed, {"missing": missing, "changed": changed}


def forget_venue(md: Any, venue: str) -> None:
    """Drop the venue's ccxt client and loaded markets, as on a fresh server where it was down from the start."""
    pool = md.pool
    with pool._lock:  # test-only reach into the pool: it has no public "forget one venue"
        ex = pool._clients.pop(venue, None)
        pool._markets_loaded_at.pop(venue, None)
    if ex is not None and getattr(ex, "session", None) is not None:
        ex.session.close()


# -- the matrix --------------------------------------------------------------------------------------------
# Known bugs (see the issue 11 report), so the matrix is green while they are open and red on anything new:
# (page stem or "*", venue ids, kind, step) -> why.
KNOWN: list[tuple[str, frozenset[str], str, str, str]] = []  # (page, venues, kind, step, why): none open


def _known(page: str, venue: str, kind: str, step: str) -> str | None:
    for k_page, k_venues, k_kind, k_step, why in KNOWN:
        if (k_page in ("*", Path(page).stem) and venue in k_venues and k_kind == kind
                and k_step in ("*", step)):
            return why
    return None


def _check(failures: list[str], case: str, check: Any, *args: Any, **kwargs: Any) -> None:
    """Run one assertion of one case; a failure is recorded so the other kinds of the venue still run."""
    try:
        check(*args, **kwargs)
    except AssertionError as e:
        failures.append(f"{case}: {str(e)[:1500]}")


def check_stale(at: AppTest, baseline: dict[tuple, Shown], label: str, page: str) -> None:
    """The venue's last good values are on the page, said to be stale, with their age."""
    stale_lines = [t for t in texts(at) if "stale after an error" in t and label in t]
    assert stale_lines, f"{label} failed after a good fetch but {page} names no stale data: {messages(at)}"
    assert re.search(rf"{re.escape(label)}[^·]*\(\d+ s old\)", stale_lines[0]), stale_lines
    now = numbers(at)
    # Served stale, the venue's numbers (and so every number on the page) are the last good ones.
    missing = sorted(set(baseline) - set(now), key=str)[:5]
    changed = [(k, baseline[k].value, now[k].value) for k in baseline if k in now and baseline[k] != now[k]][:5]
    assert not missing and not changed, {"missing": missing, "changed": changed}


def same_numbers(a: dict[tuple, Shown], b: dict[tuple, Shown]) -> bool:
    return {k: s.value for k, s in a.items()} == {k: s.value for k, s in b.items()}


def check_named(at: AppTest, label: str, kind: str, *, used: bool) -> None:
    """A venue whose failure took something off the page is named, with a reason that fits the fault."""
    named = [m for m in messages(at) if label in m]
    if used:
        assert named, f"{label} failed ({kind}) but no message names it: {messages(at)}"
        assert any(re.search(REASONS[kind], m, re.IGNORECASE) for m in named), (kind, named)
    else:
        assert not named, f"{label} was never asked, yet named: {named}"


@pytest.mark.parametrize(("page", "venue"), [(p, v) for p in PAGES for v in VENUE_IDS],
                         ids=[f"{Path(p).stem}-{v}" for p in PAGES for v in VENUE_IDS])
def test_page_survives_every_fault_of_a_venue(matrix_env: Any, page: str, venue: str) -> None:
    """One (page, venue) and each fault kind: after a good fetch (stale), then from the start (named)."""
    started = time.perf_counter()
    md = matrix_env
    label = _LABELS[venue]
    failures: list[str] = []
    known: list[str] = []
    skip_rest = False
    at = AppTest.from_file(APP, default_timeout=60)
    at.switch_page(page)
    at.run()
    assert_renders(at)
    baseline = numbers(at)  # may be empty: a form page (hedge) shows its numbers after input
    faults = {}
    for kind in KINDS:
        (spec,) = parse_demo_faults(f"{venue}:{kind}")  # the syntax a user types
        faults[kind] = Fault(**spec)

    # The venue fails after a good fetch: fresh values dropped, last good ones kept. An empty answer is an
    # answer (it becomes the cached value, so the page names the venue rather than serving it stale); it
    # goes last so the other kinds find the good values.
    for kind in sorted(KINDS, key=lambda k: k == "empty"):
        case = f"{Path(page).stem} x {venue} x {kind}, after a good fetch"
        md.faults.clear()
        md.faults.add(faults[kind])
        md.cache.invalidate()
        at.run()
        _check(failures, case, assert_renders, at)
        used = md.faults.hits() > 0
        now = numbers(at)
        found: list[str] = []
        _check(found, case, assert_others_unchanged, baseline, now, venue, used=used)
        if used and kind == "empty":
            if not same_numbers(baseline, now):
                _check(found, case, check_named, at, label, kind, used=True)
        elif used:
            _check(found, case, check_stale, at, baseline, label, page)
        else:
            _check(found, case, check_named, at, label, kind, used=False)
        why = _known(page, venue, kind, "after a good fetch")
        known.extend(f"{f} [known: {why}]" for f in found) if why else failures.extend(found)
        if not used:  # faults match by venue: when one kind reaches nothing, none does
            break

    # The venue fails from the start: no cache, no client, no markets.
    for kind in KINDS:
        case = f"{Path(page).stem} x {venue} x {kind}, from the start"
        if skip_rest:  # the page never asks this venue: every kind hits nothing, checked with the first
            break
        md.faults.clear()
        md.faults.add(faults[kind])
        md.cache.clear()
        forget_venue(md, venue)
        at.run()
        _check(failures, case, assert_renders, at)
        used = md.faults.hits() > 0
        now = numbers(at)
        found = []
        _check(found, case, assert_others_unchanged, baseline, now, venue, used=used)
        # A failure that changed nothing on the page (e.g. only an asset picker's extra options) may go unsaid.
        if not used or not same_numbers(baseline, now):
            _check(found, case, check_named, at, label, kind, used=used)
        why = _known(page, venue, kind, "from the start")
        known.extend(f"{f} [known: {why}]" for f in found) if why else failures.extend(found)
        skip_rest = not used
    md.faults.clear()
    forget_venue(md, venue)  # the next test starts with a healthy client
    _RAN.append(time.perf_counter() - started)
    assert not failures, "\n".join(failures)
    if known:
        pytest.xfail("known bugs only:\n" + "\n".join(known))


@pytest.mark.parametrize("size", [f"{len(CASES)} cases"])
def test_fault_matrix_size(size: str) -> None:
    """The matrix's size, printed and in this test's id ("fault matrix: N cases"), so shrinking is noticed."""
    print(f"\nfault matrix: {size} = {len(PAGES)} pages x {len(VENUE_IDS)} venues x {len(KINDS)} kinds, each "
          f"after a good fetch and from the start ({', '.join(Path(p).stem for p in PAGES)})")
    if _RAN:
        print(f"fault matrix: {len(_RAN)} page x venue tests ran in this process in {sum(_RAN):.1f} s")
    assert len(PAGES) >= 5 and len(VENUE_IDS) >= 7
    assert set(KINDS) <= set(FAULT_KINDS)
