"""Tampered links in a real browser, on every page: an unknown asset, ``as_of`` in the future and before any
data, a window of 10^9 days, negative and NaN numbers, repeated parameters, and HTML, script and markdown in
every parameter a page reads. Each page still renders with its defaults, a note names what it ignored, and
an echoed value shows as the text it is: no element, script, link or markup comes from the link.

The AppTest modules check each page's parsing one parameter at a time; here one URL per page carries every
bad value at once, and the browser shows what Streamlit's markdown makes of the notes.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from urllib.parse import parse_qs, quote, urlencode, urlparse

import pytest

from analytics import funding as af
from analytics import funding_stats as fs
from analytics import premium as ap
from components.urlparams import encode_float
from tests.e2e.browser import new_page, wait_idle

pytestmark = pytest.mark.e2e

VENUES = "binanceusdm,binancecoinm,okx,bybit,deribit,hyperliquid"  # the demo server's exchanges, in order
FUTURE = "2099-01-01T00:00Z"
BEFORE_DATA = "2001-01-01"
IMG = '<img src=x onerror="window.__pwned=1">'
SCRIPT = "<script>window.__pwned=1</script>"
LINK = "[click](javascript:window.__pwned=1)"  # markdown: must not become a link
PAYLOADS = (IMG, SCRIPT, LINK)


@dataclass(frozen=True)
class Page:
    path: str  # url path ("" for the Overview)
    heading: str
    params: tuple[str, ...]  # every parameter the page reads (its module docstring)
    drawn: str  # what it draws with its defaults
    bad: list[tuple[str, str]]  # unknown asset, future as_of, 10^9-day window, negative and NaN numbers
    bad_notes: tuple[str, ...]
    repeated: list[tuple[str, str]]  # repeated parameters (and as_of before any data, where read)
    repeated_notes: tuple[str, ...]
    defaults: dict[str, str | None]  # the URL after a bad link: the default values (None: not in the URL)
    shown: tuple[str, str, tuple[str, ...]]  # (widget test id, label, what it shows with the defaults)
    echo: dict[str, str] = field(default_factory=dict)  # how a note quotes a value, if not "{p}={v!r}"


FUTURE_NOTE = f"as_of={FUTURE} is in the future; showing now"
BEFORE_NOTE = f"as_of={BEFORE_DATA} is more than 730 days back; showing now"
CHART = ".js-plotly-plot"
TABLE = "[data-testid=stDataFrame]"

PAGES = {
    "overview": Page(
        "", "Overview", ("exchange",), TABLE,
        bad=[("exchange", "NOPE")],
        bad_notes=("exchange='NOPE' is not one of all, binanceusdm",),
        repeated=[("exchange", "okx"), ("exchange", "bybit")],
        repeated_notes=("exchange is given 2 times ('okx', 'bybit'); using the default",),
        defaults={"exchange": None},
        shown=("stSelectbox", "Premium, funding and basis from", ("All exchanges (mean)",))),
    "term_structure": Page(
        "term_structure", "Term structure",
        ("base", "ex", "px", "ref", "ann", "r", "y", "hc", "win", "res", "as_of"), CHART,
        bad=[("base", "NOPE"), ("ex", "-5"), ("r", "nan"), ("win", "1000000000"), ("as_of", FUTURE),
             ("ref", "-1")],
        bad_notes=("base='NOPE' is not one of BTC, ETH; using BTC", "ex='-5' names nothing known",
                   "r='nan' is outside -50..200; using 5", "win='1000000000' is not one of 7, 14, 30, 60, 90",
                   "ref='-1' is not one of index, spot", FUTURE_NOTE),
        repeated=[("base", "BTC"), ("base", "ETH"), ("as_of", BEFORE_DATA)],
        repeated_notes=("base is given 2 times ('BTC', 'ETH'); using the default", BEFORE_NOTE),
        defaults={"base": "BTC", "ex": VENUES, "r": "5", "win": "30", "ref": "index", "as_of": None},
        shown=("stSelectbox", "Asset", ("BTC",))),
    "perp_premium": Page(
        "perp_premium", "Perp premium",
        ("base", "ex", "px", "thr", "qthr", "hb", "sym", "win", "res", "as_of", "fp", "fu"), CHART,
        bad=[("base", "NOPE"), ("thr", "-5"), ("qthr", "NaN"), ("win", "1000000000"), ("as_of", FUTURE),
             ("sym", "NOPE")],
        bad_notes=("base='NOPE' names nothing known; using the defaults", "thr='-5' is outside 0..10",
                   "qthr='NaN' is outside 0..100", "win='1000000000' is not one of 1, 3, 7, 14, 30, 90",
                   "sym='NOPE' names nothing known", FUTURE_NOTE),
        repeated=[("base", "BTC"), ("base", "SOL"), ("as_of", BEFORE_DATA)],
        repeated_notes=("base is given 2 times ('BTC', 'SOL'); using the default", BEFORE_NOTE),
        defaults={"base": "BTC,ETH", "thr": encode_float(ap.DEFAULT_BAND * 100),
                  "qthr": encode_float(ap.DEFAULT_QUARTERLY_THRESHOLD * 100), "win": "7", "as_of": None},
        shown=("stMultiSelect", "Assets", ("BTC", "ETH"))),
    "funding": Page(
        "funding", "Funding",
        ("sym", "ex", "perp", "win", "from", "to", "unit", "cum", "side", "n", "thr", "xthr", "hm", "as_of"), CHART,
        bad=[("sym", "NOPE"), ("n", "-5"), ("thr", "nan"), ("xthr", "-1"), ("win", "1000000000"),
             ("as_of", FUTURE)],
        bad_notes=("sym: no exchange lists a perpetual of NOPE; using the defaults", "n='-5' is outside",
                   "thr='nan' is outside 0..5", "xthr='-1' is outside 0..50", "win='1000000000' is not one of",
                   FUTURE_NOTE),
        repeated=[("sym", "BTC"), ("sym", "ETH"), ("as_of", BEFORE_DATA)],
        repeated_notes=("sym is given 2 times ('BTC', 'ETH'); using the default", BEFORE_NOTE),
        defaults={"sym": "BTC,ETH,SOL", "n": "100000", "thr": encode_float(af.ELEVATED_RATE_8H * 100),
                  "xthr": encode_float(fs.EXTREME_RATE_8H * 100), "win": "30d", "as_of": None},
        shown=("stMultiSelect", "Symbols", ("BTC", "ETH", "SOL"))),
    "correlation": Page(
        "correlation", "Correlation",
        ("assets", "px", "tf", "w", "w2", "lb", "align", "as_of", "k", "drop", "rise", "flat", "idrop", "sthr",
         "bk"), CHART,
        bad=[("assets", "NOPE"), ("w", "-5"), ("w2", "nan"), ("lb", "1000000000"), ("k", "NaN"), ("bk", "-1"),
             ("as_of", FUTURE)],
        bad_notes=("assets: no exchange lists a perpetual of NOPE; using the defaults",
                   "w='-5' is outside 5..250", "w2='nan' is outside 0..500", "lb='1000000000' is not one of",
                   "k='NaN' is outside 1..60", "bk='-1' is outside 0.5..5", FUTURE_NOTE),
        repeated=[("assets", "BTC"), ("assets", "ETH"), ("as_of", BEFORE_DATA)],
        repeated_notes=("assets is given 2 times ('BTC', 'ETH'); using the default", BEFORE_NOTE),
        defaults={"assets": "BTC,ETH", "w": "30", "w2": "90", "lb": "365", "k": "5", "bk": "2", "as_of": None},
        shown=("stMultiSelect", "Assets", ("BTC", "ETH"))),
    "hedge": Page(
        "hedge", "Hedge calculator",
        ("veh", "inst", "ex", "mg", "ratio", "lev", "hz", "fa", "fn", "fr", "fee", "lo", "hi", "bw", "mmr", "liq",
         "drag", "inc", "pk", "h"), TABLE,
        bad=[("inc", "1"), ("h", "NOPE,1"), ("lev", "NaN"), ("ratio", "-20"), ("hz", "1000000000"), ("fn", "-5"),
             ("fr", "nan")],
        bad_notes=("link holding 1: NOPE is not listed on any exchange here", "lev='NaN' is outside 1..125; using 2",
                   "ratio='-20' is outside 0..100; using 100", "hz='1000000000' is outside 1..3650; using 30",
                   "fn='-5' is outside 1..365; using 30", "fr='nan' is outside -5..5"),
        repeated=[("veh", "BTC"), ("veh", "ETH"), ("lev", "3"), ("lev", "4")],
        repeated_notes=("veh is given 2 times ('BTC', 'ETH'); using the default",
                        "lev is given 2 times ('3', '4'); using the default"),
        defaults={"lev": "2", "ratio": "100", "hz": "30", "fn": "30", "fr": "0.01", "veh": "self", "h": None},
        shown=("stNumberInput", "Leverage", ("2.00",)),
        echo={"h": "link holding 1: {v!r}", "pk": "pk part {v!r}"}),
}


def url_of(server_url: str, spec: Page, query: list[tuple[str, str]]) -> str:
    return f"{server_url}/{spec.path}?{urlencode(query, quote_via=quote)}"


def html_query(spec: Page) -> list[tuple[str, str]]:
    """Every parameter the page reads, each with one of the payloads (all of them in one value where the page
    reads fewer parameters than there are payloads)."""
    if len(spec.params) < len(PAYLOADS):
        return [(p, " ".join(PAYLOADS)) for p in spec.params]
    return [(p, PAYLOADS[i % len(PAYLOADS)]) for i, p in enumerate(spec.params)]


CASES = {"bad": lambda spec: spec.bad, "repeated": lambda spec: spec.repeated, "html": html_query}


@dataclass(frozen=True)
class Seen:
    """What the browser showed once the page was idle and drawn."""

    url: str
    notes: str  # every alert's text
    exceptions: int
    body: str
    shown: str  # the first widget's value (spec.shown)
    injected: dict[str, object]


def look(page, spec: Page) -> Seen:
    page.get_by_role("heading", name=spec.heading, exact=True).wait_for(timeout=90_000)
    wait_idle(page)
    page.locator(spec.drawn).first.wait_for(timeout=60_000)
    wait_idle(page)
    testid, label, _ = spec.shown
    if testid == "stMultiSelect":
        shown = page.get_by_test_id(testid).filter(has=page.get_by_text(label, exact=True)).inner_text()
    else:  # a selectbox or number input: its value is the input's
        shown = page.get_by_label(label, exact=True).input_value()
    injected = {
        "window.__pwned": page.evaluate("() => window.__pwned"),
        "img[src=x]": page.locator("img[src=x]").count(),
        "script with __pwned": page.evaluate("() => [...document.scripts].some(s => s.text.includes('__pwned'))"),
        "javascript: links": page.locator("a[href^='javascript' i]").count(),
        "links named click": page.get_by_role("link", name="click").count(),
    }
    return Seen(url=page.url, notes="\n".join(page.get_by_test_id("stAlert").all_inner_texts()),
                exceptions=page.get_by_test_id("stException").count(), body=page.locator("body").inner_text(),
                shown=shown, injected=injected)


@pytest.fixture(scope="module")
def seen(browser, server_url) -> Callable[[str, str], Seen]:
    """``seen(case, page)``: the page opened with that case's link. The six pages of a case are opened at once,
    each in its own browser context (a new session), which keeps the module fast on two cores."""
    cache: dict[tuple[str, str], Seen | Exception] = {}

    def get(case: str, name: str) -> Seen:
        if (case, name) not in cache:
            with ExitStack() as stack:
                pages = {n: stack.enter_context(new_page(browser)) for n in PAGES}
                for n, page in pages.items():
                    page.goto(url_of(server_url, PAGES[n], CASES[case](PAGES[n])), wait_until="commit")
                for n, page in pages.items():
                    try:
                        cache[(case, n)] = look(page, PAGES[n])
                    except Exception as e:  # that page's own test reports it; the others still run
                        cache[(case, n)] = e
        got = cache[(case, name)]
        if isinstance(got, Exception):
            pytest.fail(f"{name} did not render with the {case!r} link: {got}")
        return got

    return get


def assert_renders(seen: Seen) -> None:
    assert seen.exceptions == 0, seen.body
    assert "Traceback" not in seen.body


def assert_defaults(seen: Seen, spec: Page) -> None:
    """The URL the page wrote back and the widget a user looks at first hold the defaults."""
    query = {k: v[-1] for k, v in parse_qs(urlparse(seen.url).query).items()}
    for param, value in spec.defaults.items():
        assert query.get(param) == value, (param, seen.url)
    for text in spec.shown[2]:
        assert text in seen.shown, (spec.shown, seen.shown)
    assert "NOPE" not in seen.shown and "__pwned" not in seen.shown


@pytest.mark.parametrize("name", list(PAGES))
def test_bad_values_fall_back_to_the_defaults_with_a_note(seen, name):
    spec, got = PAGES[name], seen("bad", name)
    assert_renders(got)
    for note in spec.bad_notes:
        assert note in got.notes, (note, got.notes)
    assert_defaults(got, spec)


@pytest.mark.parametrize("name", list(PAGES))
def test_repeated_parameters_and_as_of_before_any_data_fall_back_with_a_note(seen, name):
    spec, got = PAGES[name], seen("repeated", name)
    assert_renders(got)
    for note in spec.repeated_notes:
        assert note in got.notes, (note, got.notes)
    assert_defaults(got, spec)
    query = parse_qs(urlparse(got.url).query)
    assert all(len(values) == 1 for values in query.values()), got.url  # the link no longer repeats them


@pytest.mark.parametrize("name", list(PAGES))
def test_html_script_and_markdown_in_every_parameter_show_as_text(seen, name):
    spec, got = PAGES[name], seen("html", name)
    assert_renders(got)
    assert got.injected == {"window.__pwned": None, "img[src=x]": 0, "script with __pwned": False,
                            "javascript: links": 0, "links named click": 0}
    for param, value in html_query(spec):
        quoted = spec.echo.get(param, "{p}={v!r}").format(p=param, v=value)
        assert quoted in got.notes, (param, quoted, got.notes)  # named, and shown literally: as text
    assert_defaults(got, spec)
