"""``make bench``: performance figures of the data layer and the pages, measured in one run.

Everything runs the real ccxt clients against the simulated exchanges with injected latency, so the
numbers are those of the live code path minus the internet. Prints a table and writes
``bench/results/latest.json``.

Figures (DESIGN.md "Performance"):
1. fan-out: a cold term-structure snapshot over all venues with 100 ms per request, against the slowest
   single venue's chain measured alone (target <= 2.5x) and the sequential sum (baseline); with markets
   cached (target <= 1.3x);
2. upstream requests: cold view, repeat within TTL (target 0), 25 concurrent sessions (target = one);
3. page script time per page (AppTest), cold and warm (target <= 150 ms, median of 5 reruns), and what each
   page draws (charts, points, bytes of chart specs);
4. browser time to the first and to the last drawn chart per page (targets 1.5 s and 2.5 s), measured in the
   page from navigation start on a fresh demo server: a first visit, then second visits in new tabs;
5. floors, measured the same way in the same run: a minimal Streamlit page with one plotly chart, and one
   with as many charts and points as the heaviest page (``bench/floor_app.py``), served like the app.

``python -m bench --only pages,browser`` runs a part (fan_out, upstream, pages, browser).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from data_sources.config import Settings
from data_sources.simulated import Fault, FaultPlan, RequestLog, SimMarket
from data_sources.source import build_demo
from tests.e2e.browser import SCRIPT_IDLE, VIEWPORT

LATENCY_MS = 100.0
ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"


def _facade(market: SimMarket, latency_ms: float = LATENCY_MS) -> Any:
    faults = FaultPlan([Fault("latency", latency_ms=latency_ms)]) if latency_ms else FaultPlan()
    return build_demo(Settings(source="demo"), market=market, faults=faults, request_log=RequestLog())


def _timed(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def bench_fan_out(market: SimMarket) -> dict[str, Any]:
    venues = _facade(market, 0).venues
    alone: dict[str, float] = {}
    chain: dict[str, int] = {}
    for venue in venues:
        md = _facade(market)
        alone[venue] = _timed(lambda md=md, v=venue: md.term_structure("BTC", venues=[v]))
        chain[venue] = md.request_log.count(venue)
        md.close()
    slowest = max(alone.values())
    md = _facade(market)
    cold = _timed(lambda: md.term_structure("BTC"))
    md.cache.clear()  # quotes expire, markets stay loaded in the clients
    warm_markets = _timed(lambda: md.term_structure("BTC"))
    # with markets loaded, the chain is the quotes calls only: measure the slowest venue that way too
    alone_warm: dict[str, float] = {}
    for venue in venues:
        md.cache.clear()
        alone_warm[venue] = _timed(lambda v=venue: md.term_structure("BTC", venues=[v]))
    md.close()
    return {
        "latency_ms": LATENCY_MS,
        "requests_per_venue_cold": chain,
        "venue_alone_cold_s": alone,
        "sequential_sum_cold_s": sum(alone.values()),
        "fan_out_cold_s": cold,
        "cold_ratio_to_slowest_chain": cold / slowest,
        "fan_out_markets_cached_s": warm_markets,
        "slowest_chain_markets_cached_s": max(alone_warm.values()),
        "markets_cached_ratio": warm_markets / max(alone_warm.values()),
        "targets": {"cold_ratio": 2.5, "markets_cached_ratio": 1.3},
    }


def bench_upstream(market: SimMarket) -> dict[str, Any]:
    md = _facade(market, 0)
    md.term_structure("BTC")
    md.funding_now(("BTC", "ETH", "SOL"))
    cold = md.request_log.count()
    by_venue = {v: md.request_log.count(v) for v in md.venues}
    md.term_structure("BTC")
    md.funding_now(("BTC", "ETH", "SOL"))
    repeat = md.request_log.count() - cold
    md.close()

    md = _facade(market, 20)
    barrier = threading.Barrier(25)

    def session() -> None:
        barrier.wait()
        md.term_structure("BTC")
        md.funding_now(("BTC", "ETH", "SOL"))

    threads = [threading.Thread(target=session) for _ in range(25)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    concurrent = md.request_log.count()
    md.close()
    return {
        "cold_view_requests": cold,
        "cold_view_requests_by_venue": by_venue,
        "repeat_within_ttl_requests": repeat,
        "sessions_25_concurrent_requests": concurrent,
        "targets": {"repeat_within_ttl_requests": 0, "sessions_25_concurrent_requests": cold},
    }


HEDGE_QUERY = "inc=1&h=BTC,1.5;ETH,20;SOL,300"  # a shared link with holdings: the page computes on open
PAGES = {  # name -> (views/ script, url path and query)
    "overview": ("views/overview.py", ""),
    "term_structure": ("views/term_structure.py", "term_structure"),
    "perp_premium": ("views/perp_premium.py", "perp_premium"),
    "funding": ("views/funding.py", "funding"),
    "correlation": ("views/correlation.py", "correlation"),
    "hedge": ("views/hedge.py", f"hedge?{HEDGE_QUERY}"),
}
FLOOR_SCRIPT = "bench/floor_app.py"
FLOOR_MINIMAL = {"charts": 1, "points": 100}
TARGETS = {"warm_script_s": 0.150, "first_chart_s": 1.5, "all_charts_s": 2.5}
WARM_RUNS = 5  # AppTest reruns per page (the median is reported)
WARM_VISITS = 3  # second visits per page in the browser (new tabs; the median is reported)


def _apptest(path: str, *, query: dict[str, str] | None = None, page: str | None = None) -> Any:
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.testing.v1 import AppTest

    PagesManager.uses_pages_directory = None
    at = AppTest.from_file(str(ROOT / path), default_timeout=180)
    at.query_params.update(query or {})
    if page is not None:
        at.switch_page(page)
    return at


def _plot_points(spec: dict[str, Any]) -> int:
    """Points a plotly figure spec draws (y or z values of every trace)."""
    import base64

    import numpy as np

    def count(v: object) -> int:
        if isinstance(v, dict) and "bdata" in v:
            shape = v.get("shape")
            if shape:
                return int(np.prod([int(x) for x in str(shape).split(",")]))
            return len(base64.b64decode(str(v["bdata"]))) // np.dtype(str(v["dtype"])).itemsize
        if isinstance(v, list):
            return sum(count(x) if isinstance(x, list) else 1 for x in v)
        return 0

    return sum(max(count(t.get("y")), count(t.get("z"))) for t in spec.get("data", []))


def bench_pages() -> dict[str, Any]:
    """Script time of each page in AppTest on demo data (with the real rate limiter): cold, then warm (the
    median of ``WARM_RUNS`` reruns), and what it draws (charts, points, bytes of chart specs)."""
    from urllib.parse import parse_qsl

    from data_sources import reset_market_data

    os.environ["CARRYDESK_SOURCE"] = "demo"
    out: dict[str, Any] = {}
    for name, (path, url) in PAGES.items():
        reset_market_data()  # each page starts cold: its own facade and empty caches
        query = dict(parse_qsl(url.partition("?")[2]))
        at = _apptest("app.py", query=query, page=path)
        cold = _timed(at.run)
        if at.exception:
            out[name] = {"error": str(at.exception[0].message)}
            continue
        times = [_timed(at.run) for _ in range(WARM_RUNS)]
        specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
        out[name] = {"cold_script_s": cold, "warm_script_s_median": statistics.median(times),
                     "warm_script_s_min": min(times), "charts": len(specs),
                     "points": sum(_plot_points(sp) for sp in specs),
                     "chart_spec_kb": sum(len(c.proto.spec) for c in at.get("plotly_chart")) / 1000}
    reset_market_data()
    for name, args in (("floor_minimal", FLOOR_MINIMAL), ("floor_heaviest", _heaviest(out))):
        at = _apptest(FLOOR_SCRIPT, query={k: str(v) for k, v in args.items()})
        at.run()
        times = [_timed(at.run) for _ in range(WARM_RUNS)]
        out[name] = {"warm_script_s_median": statistics.median(times), **args}
    return out


def _heaviest(pages: dict[str, Any]) -> dict[str, int]:
    """Charts and points of the floor that stands for the heaviest page (most points drawn)."""
    drawn = [p for p in pages.values() if p.get("charts")]
    top = max(drawn, key=lambda p: p["points"]) if drawn else {"charts": 1, "points": 100}
    return {"charts": int(top["charts"]), "points": int(top["points"])}


# Installed in every page before Streamlit loads: the navigation-relative time (ms) at which each chart was
# first drawn (a plotly graph div holding its SVG) and the first table appeared. Read after the run.
CHART_CLOCK = """
(() => {
  const cd = window.__cd = {charts: [], table: null};
  const seen = new WeakSet();
  const tick = () => {
    for (const gd of document.querySelectorAll('.js-plotly-plot')) {
      if (!seen.has(gd) && gd.querySelector('.main-svg')) { seen.add(gd); cd.charts.push(performance.now()); }
    }
    if (cd.table === null && document.querySelector('[data-testid=stDataFrame] canvas')) cd.table = performance.now();
  };
  new MutationObserver(tick).observe(document, {subtree: true, childList: true});
})();
"""


def _visit(context: Any, url: str, expected: int) -> dict[str, float]:
    """One visit in a new tab: time (s, from navigation start) to the first chart, to all ``expected`` charts,
    to the first table, and to the end of the script run."""
    page = context.new_page()
    received: list[int] = []  # bytes of each websocket message the server sent this view
    page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: received.append(len(payload))))
    try:
        page.goto(url)
        page.wait_for_function(SCRIPT_IDLE, timeout=180_000)
        if expected:
            page.wait_for_function(f"() => window.__cd.charts.length >= {expected}", timeout=180_000)
        else:
            page.wait_for_function("() => window.__cd.table !== null", timeout=180_000)
        cd = page.evaluate("() => ({charts: window.__cd.charts, table: window.__cd.table, now: performance.now()})")
    finally:
        page.close()
    charts = cd["charts"]
    return {"first_chart_s": charts[0] / 1000 if charts else float("nan"),
            "all_charts_s": charts[-1] / 1000 if charts else float("nan"),
            "first_table_s": cd["table"] / 1000 if cd["table"] is not None else float("nan"),
            "charts": len(charts), "ws_kb": sum(received) / 1000, "ws_messages": len(received)}


def _visits(browser: Any, url: str, expected: int) -> dict[str, Any]:
    """A first visit (new browser profile: cold caches), then ``WARM_VISITS`` second visits, each in a new
    tab of that profile (browser cache warm, a new Streamlit session, the server's data warm)."""
    context = browser.new_context(viewport=VIEWPORT)
    context.add_init_script(CHART_CLOCK)
    try:
        first = _visit(context, url, expected)
        warm = [_visit(context, url, expected) for _ in range(WARM_VISITS)]
    finally:
        context.close()
    med = {k: statistics.median(v[k] for v in warm)
           for k in ("first_chart_s", "all_charts_s", "first_table_s", "ws_kb")}
    return {"first_visit": first, "second_visit": med, "second_visits": warm}


def bench_browser(pages: dict[str, Any]) -> dict[str, Any]:
    """Time to the first and to the last drawn chart of each page (the Overview: its table) in headless
    Chromium, measured in the page from navigation start, on a fresh demo server; and the same for the floor
    pages served the same way by another server."""
    import tempfile

    from playwright.sync_api import sync_playwright

    from tests.e2e.server import CHROMIUM, CHROMIUM_ARGS, carrydesk_server

    if not Path(CHROMIUM).exists():
        return {"error": f"{CHROMIUM} missing (make chromium)"}
    out: dict[str, Any] = {}
    heaviest = {k: pages[k] for k in ("floor_heaviest",) if k in pages}
    floor_args = {"floor_minimal": FLOOR_MINIMAL,
                  "floor_heaviest": {k: heaviest["floor_heaviest"][k] for k in ("charts", "points")}
                  if heaviest else FLOOR_MINIMAL}
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            with carrydesk_server(Path(tmp)) as url:
                for name, (_, url_path) in PAGES.items():
                    out[name] = _visits(browser, f"{url}/{url_path}", int(pages.get(name, {}).get("charts", 0)))
            (Path(tmp) / "floor").mkdir()
            with carrydesk_server(Path(tmp) / "floor", script=FLOOR_SCRIPT) as url:
                for name, args in floor_args.items():
                    query = "&".join(f"{k}={v}" for k, v in args.items())
                    out[name] = _visits(browser, f"{url}/?{query}", int(args["charts"]))
        finally:
            browser.close()
    return out


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="fan_out,upstream,pages,browser",
                        help="comma-separated parts to run (browser needs pages)")
    only = set(parser.parse_args(argv).only.split(","))
    market = SimMarket(seed=7, scenario="normal")
    results: dict[str, Any] = {}
    if "fan_out" in only:
        print("fan-out (100 ms injected latency per request) ...", flush=True)
        results["fan_out"] = bench_fan_out(market)
    if "upstream" in only:
        print("upstream request counts ...", flush=True)
        results["upstream"] = bench_upstream(market)
    if only & {"pages", "browser"}:
        print("page script times (AppTest) ...", flush=True)
        results["pages"] = bench_pages()
    if "browser" in only:
        print("browser: time to first and last chart, pages and floors ...", flush=True)
        results["browser"] = bench_browser(results["pages"])
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")
    _print(results)
    return 0


def _verdict(value: float, target: float) -> str:
    if value != value:  # NaN
        return "n/a"
    return "ok" if value <= target else "MISS"


def _print(r: dict[str, Any]) -> None:
    if "fan_out" in r and "upstream" in r:
        _print_data_layer(r)
    if "pages" in r:
        _print_pages(r["pages"], r.get("browser", {}))
    print(f"\nwritten: {RESULTS / 'latest.json'}")


def _print_data_layer(r: dict[str, Any]) -> None:
    f = r["fan_out"]
    u = r["upstream"]
    rows = [
        (f"cold term structure, {len(f['venue_alone_cold_s'])} derivative venues fanned out",
         f"{f['fan_out_cold_s']:.2f} s",
         f"{f['cold_ratio_to_slowest_chain']:.2f}x slowest venue chain (target <= 2.5x)"),
        ("  sequential baseline (sum of venues alone)", f"{f['sequential_sum_cold_s']:.2f} s", ""),
        ("markets cached, fanned out", f"{f['fan_out_markets_cached_s']:.2f} s",
         f"{f['markets_cached_ratio']:.2f}x slowest venue chain (target <= 1.3x)"),
        ("cold view upstream requests", str(u["cold_view_requests"]), str(u["cold_view_requests_by_venue"])),
        ("repeat within TTL", str(u["repeat_within_ttl_requests"]), "target 0"),
        ("25 concurrent sessions", str(u["sessions_25_concurrent_requests"]),
         f"target {u['cold_view_requests']} (= one session)"),
    ]
    width = max(len(a) for a, _, _ in rows)
    print()
    for a, b, c in rows:
        print(f"{a:<{width}}  {b:>10}  {c}")


def _print_pages(pages: dict[str, Any], browser: dict[str, Any]) -> None:
    t = TARGETS
    print(f"\nPages (warm server; browser: second visit in a new tab, median of {WARM_VISITS}; script: AppTest "
          f"median of {WARM_RUNS})")
    head = (f"{'page':<16} {'script ms':>9} {'':>4}  {'1st chart s':>11} {'':>4}  {'all charts s':>12} {'':>4}  "
            f"{'charts':>6} {'points':>7} {'ws kB':>6}  {'first visit s':>13}")
    print(head)
    print(f"{'target':<16} {t['warm_script_s'] * 1000:>9.0f} {'':>4}  {t['first_chart_s']:>11.1f} {'':>4}  "
          f"{t['all_charts_s']:>12.1f}")
    for name in [*PAGES, "floor_minimal", "floor_heaviest"]:
        p, b = pages.get(name, {}), browser.get(name, {}) if "error" not in browser else {}
        if "error" in p:
            print(f"{name:<16} error: {p['error']}")
            continue
        script = p.get("warm_script_s_median", float("nan"))
        warm = b.get("second_visit", {})
        first_key = "first_chart_s" if p.get("charts", 1) else "first_table_s"
        first, last = warm.get(first_key, float("nan")), warm.get("all_charts_s", float("nan"))
        if not p.get("charts", 1):
            last = first
        cold = b.get("first_visit", {}).get(first_key, float("nan"))
        print(f"{name:<16} {script * 1000:>9.0f} {_verdict(script, t['warm_script_s']):>4}  {first:>11.2f} "
              f"{_verdict(first, t['first_chart_s']):>4}  {last:>12.2f} {_verdict(last, t['all_charts_s']):>4}  "
              f"{p.get('charts', 0):>6} {p.get('points', 0):>7} {warm.get('ws_kb', float('nan')):>6.0f}  "
              f"{cold:>13.2f}")
    if "error" in browser:
        print("browser: error:", browser["error"])
    print("(the Overview draws no chart: its columns are the time to its table; floor_heaviest draws as many "
          "charts and points as the page that draws the most points)")


if __name__ == "__main__":
    sys.exit(main())
