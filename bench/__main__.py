"""``make bench``: performance figures of the data layer and the pages, measured in one run.

Everything runs the real ccxt clients against the simulated exchanges with injected latency, so the
numbers are those of the live code path minus the internet. Prints a table and writes
``bench/results/latest.json``.

Figures (DESIGN.md "Performance"):
1. fan-out: a cold term-structure snapshot over all venues with 100 ms per request, against the slowest
   single venue's chain measured alone (target <= 2.5x) and the sequential sum (baseline); with markets
   cached (target <= 1.3x);
2. upstream requests: cold view, repeat within TTL (target 0), 25 concurrent sessions (target = one);
3. page script time per page (AppTest), cold and warm;
4. browser time to first chart per page on a fresh demo server, first and second visit.
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


PAGES = {  # name -> (views/ script, url path)
    "overview": ("views/overview.py", ""),
    "term_structure": ("views/term_structure.py", "term_structure"),
    "perp_premium": ("views/perp_premium.py", "perp_premium"),
    "funding": ("views/funding.py", "funding"),
}


def bench_pages() -> dict[str, Any]:
    """Script time of each page in AppTest on demo data (with the real rate limiter): cold, then warm."""
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.testing.v1 import AppTest

    from data_sources import reset_market_data

    os.environ["CARRYDESK_SOURCE"] = "demo"
    out: dict[str, Any] = {}
    for name, (path, _) in PAGES.items():
        reset_market_data()  # each page starts cold: its own facade and empty caches
        PagesManager.uses_pages_directory = None
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
        at.switch_page(path)
        cold = _timed(at.run)
        if at.exception:
            out[name] = {"error": str(at.exception[0].message)}
            continue
        times = [_timed(at.run) for _ in range(5)]
        out[name] = {"cold_script_s": cold, "warm_script_s_median": statistics.median(times),
                     "warm_script_s_min": min(times)}
    reset_market_data()
    return out


def bench_browser() -> dict[str, Any]:
    """Time from navigation to the first drawn chart (or the Overview's table) in headless Chromium, on a
    fresh demo server: a first visit (cold data and browser caches) and a second one in a new tab (warm)."""
    import tempfile

    from playwright.sync_api import sync_playwright

    from tests.e2e.server import CHROMIUM, CHROMIUM_ARGS, carrydesk_server

    if not Path(CHROMIUM).exists():
        return {"error": f"{CHROMIUM} missing (make chromium)"}
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp, carrydesk_server(Path(tmp)) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            for name, (_, url_path) in PAGES.items():
                first = ".js-plotly-plot" if url_path else "[data-testid=stDataFrame]"
                # first visit: new browser profile, page never opened on this server; second: a new tab of
                # the same profile (browser cache warm: Streamlit's and plotly's scripts) and a new session
                context = browser.new_context(viewport={"width": 1600, "height": 1000})
                visits = []
                for _ in range(2):
                    page = context.new_page()
                    t0 = time.perf_counter()
                    page.goto(f"{url}/{url_path}")
                    page.locator(first).first.wait_for(timeout=180_000)
                    visits.append(time.perf_counter() - t0)
                    page.close()
                context.close()
                out[name] = {"first_chart_cold_s": visits[0], "first_chart_warm_s": visits[1]}
        finally:
            browser.close()
    return out


def main() -> int:
    market = SimMarket(seed=7, scenario="normal")
    results: dict[str, Any] = {}
    print("fan-out (100 ms injected latency per request) ...", flush=True)
    results["fan_out"] = bench_fan_out(market)
    print("upstream request counts ...", flush=True)
    results["upstream"] = bench_upstream(market)
    print("page script times (AppTest) ...", flush=True)
    results["pages"] = bench_pages()
    print("browser time to first chart ...", flush=True)
    results["browser"] = bench_browser()
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")
    _print(results)
    return 0


def _print(r: dict[str, Any]) -> None:
    f = r["fan_out"]
    u = r["upstream"]
    rows = [
        ("cold term structure, 5 derivative venues fanned out", f"{f['fan_out_cold_s']:.2f} s",
         f"{f['cold_ratio_to_slowest_chain']:.2f}x slowest venue chain (target <= 2.5x)"),
        ("  sequential baseline (sum of venues alone)", f"{f['sequential_sum_cold_s']:.2f} s", ""),
        ("markets cached, fanned out", f"{f['fan_out_markets_cached_s']:.2f} s",
         f"{f['markets_cached_ratio']:.2f}x slowest venue chain (target <= 1.3x)"),
        ("cold view upstream requests", str(u["cold_view_requests"]), str(u["cold_view_requests_by_venue"])),
        ("repeat within TTL", str(u["repeat_within_ttl_requests"]), "target 0"),
        ("25 concurrent sessions", str(u["sessions_25_concurrent_requests"]),
         f"target {u['cold_view_requests']} (= one session)"),
    ]
    for name, p in r["pages"].items():
        if "error" in p:
            rows.append((f"page {name}", "error", p["error"]))
        else:
            rows.append((f"page {name}: script (AppTest)", f"{p['warm_script_s_median'] * 1000:.0f} ms",
                         f"warm, median of 5; cold {p['cold_script_s']:.1f} s"))
    b = r["browser"]
    if "error" in b:
        rows.append(("browser", "error", b["error"]))
    for name, p in b.items() if "error" not in b else ():
        rows.append((f"page {name}: browser to first chart", f"{p['first_chart_warm_s']:.1f} s",
                     f"second visit (new tab); first visit {p['first_chart_cold_s']:.1f} s"))
    width = max(len(a) for a, _, _ in rows)
    print()
    for a, b, c in rows:
        print(f"{a:<{width}}  {b:>10}  {c}")
    print(f"\nwritten: {RESULTS / 'latest.json'}")


if __name__ == "__main__":
    sys.exit(main())
