"""``make load``: many concurrent browser sessions against one Carry Desk server, for a bounded time.

Serves the app as ``make run`` does (``tests.e2e.server.carrydesk_process``: ``streamlit run app.py`` on a
free loopback port, demo data, auto-refresh off) and drives N headless Chromium sessions, each its own
browser context, through every page over and over until the time is up. Reports, against the issue's targets:

- errors: an exception on the page, a "Traceback", a timeout or a failed navigation (target 0);
- time to first chart per page, p50/p95 (target p95 <= 4 s): from ``goto`` to the first drawn chart (the
  Overview: its first table); the hedge page's time includes pasting holdings and pressing "Compute hedge";
- upstream requests per minute per exchange, N sessions against ONE session visiting the same pages for
  the same time (target: the same): the server writes each simulated upstream request to a file
  (``CARRYDESK_DEMO_REQUEST_LOG``), counted here inside the sessions' time window;
- the server's RSS before the sessions (after one warm-up visit) and at the end (target growth <= 600 MB);
- to tell who is slow: CPU of the server, of Chromium and of anything else on the machine, CPU per page
  view, and the server's /_stcore/health latency (its event loop waits while script threads hold the GIL).

The one-session pass runs first, then the N-session pass, each on a fresh server so both start with cold
caches. One Chromium process hosts every context (Playwright's async API, one task per session), under the
SCHED_IDLE policy so the load generator cannot starve the server it shares the machine with.
``--client protocol`` drives Streamlit's websocket without a browser instead: the server's own time to
first chart under the same load.

    python -m bench.load [--sessions 25] [--duration 180] [--client browser|protocol]
                         [--out bench/results/load.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.e2e.browser import SCRIPT_IDLE, VIEWPORT
from tests.e2e.server import CHROMIUM, CHROMIUM_ARGS, ROOT, carrydesk_process

RESULTS = ROOT / "bench" / "results"

# Targets (the issue's, at N = 25).
TARGET_ERRORS = 0
TARGET_P95_S = 4.0
TARGET_RSS_GROWTH_MB = 600.0
# "N sessions cost the same upstream as one": the rates are measured over a bounded time, so allow the
# jitter of where each TTL expiry falls inside the window, not a per-session cost.
TARGET_UPSTREAM_RATIO = 1.10

TABLE = "[data-testid=stDataFrame]"
CHART = ".js-plotly-plot"
PASTE = "…or paste CSV: asset,quantity[,cost]"


@dataclass(frozen=True)
class PageSpec:
    name: str
    path: str  # URL path under the server's base URL
    first: str  # the element whose appearance is "first chart"


PAGES = (
    PageSpec("overview", "", TABLE),  # the Overview has no chart: its first table, as ``make bench`` does
    PageSpec("term_structure", "term_structure", CHART),
    PageSpec("perp_premium", "perp_premium", CHART),
    PageSpec("funding", "funding", CHART),
    PageSpec("correlation", "correlation", CHART),
    PageSpec("hedge", "hedge", CHART),  # after pasting holdings and pressing "Compute hedge"
)


@dataclass
class Visit:
    session: int
    page: str
    started: float  # seconds since the pass's sessions started
    first_chart_s: float | None = None
    idle_s: float | None = None  # until the script run ended (the page complete)
    error: str | None = None


@dataclass
class PassResult:
    sessions: int
    duration_s: float
    window_s: float = 0.0  # from the first session's start to the last visit's end
    visits: list[Visit] = field(default_factory=list)
    warmup_s: float | None = None
    warmup_error: str | None = None
    upstream_in_window: dict[str, int] = field(default_factory=dict)
    upstream_warmup: int = 0
    rss_before_mb: float = 0.0
    rss_after_mb: float = 0.0
    rss_peak_mb: float = 0.0
    server_cpu_s: float = 0.0  # the server's CPU time during the window (one core fully busy = window_s)
    browser_cpu_s: float = 0.0  # Chromium's (and Playwright's driver's) CPU time during the window
    health_ms: list[float] = field(default_factory=list)  # /_stcore/health round trips during the window
    machine_busy: float = 0.0  # fraction of all cores busy during the window (whatever ran)
    driver_cpu_s: float = 0.0  # this script's own CPU time during the window
    client: str = "browser"
    loadavg_before: float = 0.0  # 1-minute load average when the sessions started


# --- processes: the server's pid, RSS and CPU from /proc ---------------------------------------------------


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:  # exited meanwhile
                continue
            # the command may contain spaces and parentheses: the fields after the last ")" are fixed
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry.name))
    return out


def _tree(pid: int) -> list[int]:
    out = [pid]
    for child in _children(pid):
        out.extend(_tree(child))
    return out


def _status_kb(pid: int, key: str) -> int:
    try:
        for line in (Path("/proc") / str(pid) / "status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def rss_mb(pid: int, key: str = "VmRSS") -> float:
    """RSS of ``pid`` and its descendants (the server starts none today; counted if it ever does)."""
    return sum(_status_kb(p, key) for p in _tree(pid)) / 1024.0


def cpu_s(*roots: int) -> float:
    """CPU seconds of the process trees under ``roots``, including their exited children: a live process's
    cutime/cstime holds the children it has reaped (Chromium's closed renderers)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for p in (p for root in roots for p in _tree(root)):
        try:
            fields = (Path("/proc") / str(p) / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
    return total / ticks


def browser_roots(server_pid: int) -> list[int]:
    """Our children other than the server: Playwright's driver, whose tree holds Chromium."""
    return [p for p in _children(os.getpid()) if p != server_pid]


def machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of all cores since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


@contextmanager
def server(log_dir: Path, request_log: Path) -> Iterator[tuple[str, int]]:
    """A fresh demo server that logs its upstream requests to ``request_log``: (base URL, pid)."""
    with carrydesk_process(log_dir, {"CARRYDESK_DEMO_REQUEST_LOG": str(request_log)}) as (url, proc):
        yield url, proc.pid


def upstream_counts(path: Path, start: float, end: float) -> tuple[Counter[str], int]:
    """Requests per exchange with epoch time in [start, end], and how many came before ``start``."""
    inside: Counter[str] = Counter()
    before = 0
    if not path.exists():
        return inside, before
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) < 4:
            continue
        at = float(parts[0])
        if at < start:
            before += 1
        elif at <= end:
            inside[parts[1]] += 1
    return inside, before


# --- the browser side ---------------------------------------------------------------------------------------


def holdings(session: int) -> str:
    """Each session's own book, so page-level caches keyed by the inputs do not make them all one."""
    return f"BTC,{1 + session / 100:g}\nETH,{10 + session}\nSOL,{100 + 5 * session}"


async def _page_error(page: Any) -> str | None:
    exc = page.locator("[data-testid=stException]")
    if await exc.count():
        return "exception on page: " + " ".join((await exc.first.inner_text(timeout=5000)).split())[:300]
    if await page.evaluate("() => document.body.innerText.includes('Traceback')"):
        return "Traceback on page"
    return None


async def visit(page: Any, base: str, spec: PageSpec, session: int, timeout_s: float, t_zero: float) -> Visit:
    """One page view: goto, (hedge: fill and submit the form), first chart, script idle, error check."""
    from playwright.async_api import Error as PlaywrightError
    from playwright.async_api import TimeoutError as PlaywrightTimeout

    t0 = time.perf_counter()
    out = Visit(session, spec.name, t0 - t_zero)

    def left_ms() -> float:
        return max(1.0, (t0 + timeout_s - time.perf_counter()) * 1000)

    step = "navigation"
    try:
        await page.goto(f"{base}/{spec.path}", timeout=left_ms())
        if spec.name == "hedge":
            # as a user does: wait for the form to settle, paste, compute (tests/e2e/test_hedge_e2e.py)
            step = "the hedge form"
            await page.get_by_role("heading", name="Hedge calculator", exact=True).wait_for(timeout=left_ms())
            await page.wait_for_function(SCRIPT_IDLE, timeout=left_ms())
            await page.get_by_label(PASTE).fill(holdings(session), timeout=left_ms())
            await page.get_by_role("button", name="Compute hedge").click(timeout=left_ms())
            step = "the Scenarios heading"
            await page.get_by_role("heading", name="Scenarios").wait_for(timeout=left_ms())
        step = "the first chart" if spec.first == CHART else "the first table"
        await page.locator(spec.first).first.wait_for(timeout=left_ms())
        out.first_chart_s = time.perf_counter() - t0
        step = "the script to finish"
        await page.wait_for_function(SCRIPT_IDLE, timeout=left_ms())
        out.idle_s = time.perf_counter() - t0
        out.error = await _page_error(page)
    except PlaywrightTimeout:
        out.error = f"timeout after {timeout_s:g} s waiting for {step}"
    except PlaywrightError as e:
        out.error = f"{step} failed: {' '.join(str(e.message).split())[:300]}"
    else:
        return out
    shown = await _safe_page_error(page)  # a timeout is often an exception the page shows instead of a chart
    if shown:
        out.error += f" ({shown})"
    return out


async def _safe_page_error(page: Any) -> str | None:
    try:
        return await _page_error(page)
    except Exception:  # the page may be gone (crash, closed): then the outer error says enough
        return None


class BrowserClient:
    """Headless Chromium: one browser process, one context per session (``--client browser``, the default)."""

    name = "browser"

    def __init__(self, chromium: str) -> None:
        self.chromium = chromium
        self._pw: Any = None
        self.browser: Any = None

    async def __aenter__(self) -> BrowserClient:
        from playwright.async_api import async_playwright

        self._pw = await async_playwright().start()
        self.browser = await self._pw.chromium.launch(executable_path=self.chromium, args=CHROMIUM_ARGS,
                                                      headless=True)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.browser.close()
        await self._pw.stop()

    @asynccontextmanager
    async def user(self, session: int) -> AsyncIterator[Callable[[PageSpec, str, float, float], Awaitable[Visit]]]:
        """One user's browser context: its own cookies and cache, one tab that goes from page to page."""
        context = await self.browser.new_context(viewport=VIEWPORT, device_scale_factor=1)
        tab = await context.new_page()

        async def go(spec: PageSpec, base: str, timeout_s: float, t_zero: float) -> Visit:
            nonlocal tab
            if tab.is_closed():  # a renderer crash closes the tab: the user opens a new one
                tab = await context.new_page()
            return await visit(tab, base, spec, session, timeout_s, t_zero)

        try:
            yield go
        finally:
            await context.close()


class ProtocolClient:
    """No browser: each visit opens Streamlit's websocket as the browser does, asks for the page and times the
    first chart (or table) element the server sends (``--client protocol``). What N users with browsers of
    their own would wait for, minus their own rendering; on a small machine the browsers of ``--client
    browser`` otherwise measure themselves. The hedge page opens from a link with holdings, which computes on
    open, instead of the pasted form."""

    name = "protocol"

    async def __aenter__(self) -> ProtocolClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    @asynccontextmanager
    async def user(self, session: int) -> AsyncIterator[Callable[[PageSpec, str, float, float], Awaitable[Visit]]]:
        async def go(spec: PageSpec, base: str, timeout_s: float, t_zero: float) -> Visit:
            return await visit_protocol(base, spec, session, timeout_s, t_zero)

        yield go


FIRST_ELEMENTS = {TABLE: ("dataframe", "arrow_data_frame"), CHART: ("plotly_chart",)}


async def visit_protocol(base: str, spec: PageSpec, session: int, timeout_s: float, t_zero: float) -> Visit:
    """One page view over the websocket: connect, rerun the page, read until the script finishes."""
    import websockets  # Streamlit's own server dependency
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    t0 = time.perf_counter()
    out = Visit(session, spec.name, t0 - t_zero)
    msg = BackMsg()
    msg.rerun_script.page_name = spec.path
    if spec.name == "hedge":  # a shared link with holdings computes on open (views/hedge.py)
        msg.rerun_script.query_string = "inc=1&h=" + holdings(session).replace("\n", ";")
    wanted = FIRST_ELEMENTS[spec.first]
    step = "connection"
    try:
        async with asyncio.timeout(timeout_s):
            async with websockets.connect(base.replace("http://", "ws://") + "/_stcore/stream",
                                          subprotocols=[websockets.Subprotocol("streamlit")],
                                          max_size=None) as ws:
                await ws.send(msg.SerializeToString())
                step = "the first chart" if spec.first == CHART else "the first table"
                while True:
                    raw = await ws.recv()
                    fm = ForwardMsg.FromString(raw if isinstance(raw, bytes) else raw.encode())
                    kind = fm.WhichOneof("type")
                    if kind == "delta" and fm.delta.WhichOneof("type") == "new_element":
                        element = fm.delta.new_element.WhichOneof("type")
                        if element == "exception" and out.error is None:
                            e = fm.delta.new_element.exception
                            out.error = f"exception on page: {e.type}: {e.message}"[:300]
                        elif element in wanted and out.first_chart_s is None:
                            out.first_chart_s = time.perf_counter() - t0
                            step = "the script to finish"
                    elif kind == "script_finished":
                        out.idle_s = time.perf_counter() - t0
                        break
        if out.first_chart_s is None and out.error is None:
            out.error = f"the script finished without {step.removeprefix('the ')}"
    except TimeoutError:
        out.error = f"timeout after {timeout_s:g} s waiting for {step}"
    except (OSError, websockets.WebSocketException) as e:
        out.error = f"{step} failed: {type(e).__name__}: {e}"[:300]
    return out


Client = BrowserClient | ProtocolClient


async def run_session(client: Client, base: str, session: int, start_at: float, deadline: float,
                      timeout_s: float, t_zero: float, visits: list[Visit]) -> None:
    """One user cycling through every page (from a different start page per session) until the deadline;
    a visit in progress at the deadline finishes."""
    await asyncio.sleep(max(0.0, start_at - time.perf_counter()))
    async with client.user(session) as go:
        k = session % len(PAGES)
        while time.perf_counter() < deadline:
            visits.append(await go(PAGES[k], base, timeout_s, t_zero))
            k = (k + 1) % len(PAGES)


async def _progress(visits: list[Visit], t_zero: float, every_s: float = 15.0) -> None:
    while True:
        await asyncio.sleep(every_s)
        errors = sum(1 for v in visits if v.error)
        print(f"  {time.perf_counter() - t_zero:5.0f} s: {len(visits)} visits, {errors} errors", flush=True)


def _health_once(base: str) -> float:
    t0 = time.perf_counter()
    with urllib.request.urlopen(f"{base}/_stcore/health", timeout=30) as resp:  # noqa: S310 - loopback
        resp.read()
    return (time.perf_counter() - t0) * 1000


async def _health(base: str, out: list[float], every_s: float = 1.0) -> None:
    """The server's own responsiveness, apart from the browser's: a health request each second (served by
    the server's event loop, so it waits while script threads hold the GIL)."""
    while True:
        try:
            out.append(await asyncio.to_thread(_health_once, base))
        except OSError:
            out.append(30_000.0)
        await asyncio.sleep(every_s)


def low_priority_chromium(tmp: Path, sched: str) -> str:
    """Chromium under the SCHED_IDLE policy (``sched="idle"``): the load generator shares this machine with
    the server it measures, while real users' browsers run on their own machines. Chromium runs dozens of
    threads per session and CFS shares CPU per thread, so at normal priority (or even nice 10) 25 sessions
    take nearly all of it and starve the server; SCHED_IDLE threads get only the CPU the server leaves.
    Every Chromium process and thread inherits the policy."""
    if sched == "normal":
        return CHROMIUM
    wrapper = tmp / "chromium-idle"
    wrapper.write_text(f'#!/bin/sh\nexec chrt --idle 0 {CHROMIUM} "$@"\n', encoding="utf-8")
    wrapper.chmod(0o755)
    return str(wrapper)


async def drive(client: Client, base: str, pid: int, sessions: int, duration_s: float, stagger_s: float,
                timeout_s: float, request_log: Path) -> PassResult:
    result = PassResult(sessions=sessions, duration_s=duration_s, client=client.name)
    async with client:
        # warm-up: one visit of the Overview by a user of its own, so that the "before" RSS is a server that
        # has imported and served a page, not a bare interpreter
        async with client.user(-1) as go:
            warm = await go(PAGES[0], base, timeout_s * 2, time.perf_counter())
        result.warmup_s, result.warmup_error = warm.first_chart_s, warm.error

        result.rss_before_mb = rss_mb(pid)
        result.loadavg_before = os.getloadavg()[0]
        roots = browser_roots(pid)
        cpu0, browser0, busy0, driver0 = cpu_s(pid), cpu_s(*roots), machine_ticks(), time.process_time()
        epoch0 = time.time()
        t_zero = time.perf_counter()
        deadline = t_zero + duration_s
        progress = asyncio.create_task(_progress(result.visits, t_zero))
        health = asyncio.create_task(_health(base, result.health_ms))
        await asyncio.gather(*(
            run_session(client, base, i, t_zero + i * stagger_s, deadline, timeout_s, t_zero, result.visits)
            for i in range(sessions)
        ))
        progress.cancel()
        health.cancel()
        result.window_s = time.perf_counter() - t_zero
        epoch1 = epoch0 + result.window_s
        result.rss_after_mb = rss_mb(pid)
        result.rss_peak_mb = rss_mb(pid, "VmHWM")
        result.server_cpu_s = cpu_s(pid) - cpu0
        result.browser_cpu_s = cpu_s(*roots) - browser0
        busy1 = machine_ticks()
        result.machine_busy = (busy1[0] - busy0[0]) / max(1, busy1[1] - busy0[1])
        result.driver_cpu_s = time.process_time() - driver0
    inside, before = upstream_counts(request_log, epoch0, epoch1)
    result.upstream_in_window = dict(sorted(inside.items()))
    result.upstream_warmup = before
    return result


def run_pass(client: Client, sessions: int, duration_s: float, stagger_s: float, timeout_s: float,
             tmp: Path) -> PassResult:
    """One pass on a fresh server (cold caches)."""
    log_dir = tmp / f"pass-{sessions}"
    log_dir.mkdir()
    request_log = log_dir / "upstream.tsv"
    with server(log_dir, request_log) as (url, pid):
        print(f"{sessions} {client.name} session(s) for {duration_s:g} s against {url} (server pid {pid}) ...",
              flush=True)
        return asyncio.run(drive(client, url, pid, sessions, duration_s, stagger_s, timeout_s, request_log))


# --- figures -----------------------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default), q in [0, 100]."""
    if not values:
        return None
    s = sorted(values)
    pos = (len(s) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def summarize(r: PassResult) -> dict[str, Any]:
    per_page: dict[str, Any] = {}
    for spec in (*PAGES, None):
        name = spec.name if spec else "all"
        vs = [v for v in r.visits if spec is None or v.page == spec.name]
        ok = [v.first_chart_s for v in vs if v.first_chart_s is not None and not v.error]
        idle = [v.idle_s for v in vs if v.idle_s is not None and not v.error]
        per_page[name] = {
            "visits": len(vs), "errors": sum(1 for v in vs if v.error),
            "first_chart_p50_s": percentile(ok, 50), "first_chart_p95_s": percentile(ok, 95),
            "first_chart_max_s": max(ok) if ok else None,
            "complete_p50_s": percentile(idle, 50), "complete_p95_s": percentile(idle, 95),
        }
    minutes = r.window_s / 60.0 if r.window_s else 1.0
    cores = os.cpu_count() or 1
    # what else ran on the machine meanwhile (other people's tests, servers): it takes CPU from both sides
    other = r.machine_busy * cores * r.window_s - r.server_cpu_s - r.browser_cpu_s - r.driver_cpu_s
    errors = [v for v in r.visits if v.error]
    return {
        "client": r.client, "sessions": r.sessions, "duration_s": r.duration_s, "window_s": r.window_s,
        "visits": len(r.visits), "errors": len(errors),
        "error_texts": Counter(f"{v.page}: {v.error}" for v in errors).most_common(10),
        "warmup_first_chart_s": r.warmup_s, "warmup_error": r.warmup_error,
        "pages": per_page,
        "upstream_requests": r.upstream_in_window,
        "upstream_per_min": {k: n / minutes for k, n in r.upstream_in_window.items()},
        "upstream_per_min_total": sum(r.upstream_in_window.values()) / minutes,
        "upstream_warmup_requests": r.upstream_warmup,
        "rss_before_mb": r.rss_before_mb, "rss_after_mb": r.rss_after_mb, "rss_peak_mb": r.rss_peak_mb,
        "rss_growth_mb": r.rss_after_mb - r.rss_before_mb,
        "server_cpu_cores": r.server_cpu_s / r.window_s if r.window_s else None,
        "browser_cpu_cores": r.browser_cpu_s / r.window_s if r.window_s else None,
        # what one page view costs each side: N sessions need N x this per cycle of the pages
        "server_cpu_s_per_visit": r.server_cpu_s / len(r.visits) if r.visits else None,
        "browser_cpu_s_per_visit": r.browser_cpu_s / len(r.visits) if r.visits else None,
        "health_p50_ms": percentile(r.health_ms, 50), "health_p95_ms": percentile(r.health_ms, 95),
        "health_max_ms": max(r.health_ms) if r.health_ms else None,
        "machine_busy": r.machine_busy,
        "driver_cpu_cores": r.driver_cpu_s / r.window_s if r.window_s else None,
        "other_cpu_cores": max(0.0, other) / r.window_s if r.window_s else None,
        "loadavg_before": r.loadavg_before,
    }


def _s(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f} s"


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def report(base: dict[str, Any], load: dict[str, Any]) -> tuple[list[tuple[str, str, str, str]], dict[str, bool]]:
    n = load["sessions"]
    rows: list[tuple[str, str, str, str]] = []
    checks: dict[str, bool] = {}
    rows.append((f"{load['client']} sessions x duration", f"{n} x {load['duration_s']:g} s",
                 f"window {load['window_s']:.0f} s; baseline 1 x {base['duration_s']:g} s", ""))
    rows.append(("page visits", str(load["visits"]), f"baseline {base['visits']}", ""))
    checks["errors"] = load["errors"] <= TARGET_ERRORS
    rows.append(("errors", str(load["errors"]), f"target {TARGET_ERRORS}; baseline {base['errors']}",
                 _verdict(checks["errors"])))
    for text, count in load["error_texts"][:5]:
        rows.append((f"  {count} x", text[:110], "", ""))
    for name, p in load["pages"].items():
        ok = p["first_chart_p95_s"] is not None and p["first_chart_p95_s"] <= TARGET_P95_S
        checks[f"p95_{name}"] = ok
        b = base["pages"][name]
        rows.append((f"first chart {name} p50 / p95", f"{_s(p['first_chart_p50_s'])} / {_s(p['first_chart_p95_s'])}",
                     f"target p95 <= {TARGET_P95_S:g} s; {p['visits']} visits; 1 session "
                     f"{_s(b['first_chart_p50_s'])} / {_s(b['first_chart_p95_s'])}", _verdict(ok)))
    venues = sorted(set(load["upstream_per_min"]) | set(base["upstream_per_min"]))
    for venue in venues:
        ln, bn = load["upstream_per_min"].get(venue, 0.0), base["upstream_per_min"].get(venue, 0.0)
        ratio = ln / bn if bn else math.inf if ln else 1.0
        ok = ratio <= TARGET_UPSTREAM_RATIO
        checks[f"upstream_{venue}"] = ok
        rows.append((f"upstream/min {venue}", f"{ln:.1f}",
                     f"1 session {bn:.1f}; ratio {ratio:.2f} (target <= {TARGET_UPSTREAM_RATIO:.2f})", _verdict(ok)))
    lt, bt = load["upstream_per_min_total"], base["upstream_per_min_total"]
    ratio = lt / bt if bt else math.inf
    checks["upstream_total"] = ratio <= TARGET_UPSTREAM_RATIO
    rows.append(("upstream/min all exchanges", f"{lt:.1f}",
                 f"1 session {bt:.1f}; ratio {ratio:.2f} (target <= {TARGET_UPSTREAM_RATIO:.2f})",
                 _verdict(checks["upstream_total"])))
    checks["rss"] = load["rss_growth_mb"] <= TARGET_RSS_GROWTH_MB
    rows.append(("server RSS before -> after", f"{load['rss_before_mb']:.0f} -> {load['rss_after_mb']:.0f} MB",
                 f"growth {load['rss_growth_mb']:+.0f} MB (target <= {TARGET_RSS_GROWTH_MB:g}); peak "
                 f"{load['rss_peak_mb']:.0f} MB; 1 session {base['rss_growth_mb']:+.0f} MB", _verdict(checks["rss"])))
    rows.append(("CPU: server / browser", f"{load['server_cpu_cores']:.2f} / {load['browser_cpu_cores']:.2f}",
                 f"cores; machine {load['machine_busy'] * 100:.0f}% busy of {os.cpu_count()}; this script "
                 f"{load['driver_cpu_cores']:.2f}; other processes {load['other_cpu_cores']:.2f}; 1 session: "
                 f"{base['server_cpu_cores']:.2f} / {base['browser_cpu_cores']:.2f}, other "
                 f"{base['other_cpu_cores']:.2f}", ""))
    rows.append(("CPU per visit: server / browser",
                 f"{load['server_cpu_s_per_visit']:.2f} / {load['browser_cpu_s_per_visit']:.2f}",
                 f"s; 1 session: {base['server_cpu_s_per_visit']:.2f} / {base['browser_cpu_s_per_visit']:.2f} s", ""))
    rows.append(("server health p50 / p95", f"{load['health_p50_ms']:.0f} / {load['health_p95_ms']:.0f} ms",
                 f"/_stcore/health each second, max {load['health_max_ms']:.0f} ms; 1 session "
                 f"{base['health_p50_ms']:.0f} / {base['health_p95_ms']:.0f} ms", ""))
    return rows, checks


def print_table(rows: list[tuple[str, str, str, str]]) -> None:
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows if not r[0].startswith("  "))
    print()
    for a, b, c, d in rows:
        if a.startswith("  ") and not c:  # an error text: let it run on
            print(f"{a:<{w0}}  {b}")
        else:
            print(f"{a:<{w0}}  {b:>{w1}}  {d:<4}  {c}")


def machine() -> dict[str, Any]:
    model = ""
    try:
        model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("model name")), "")
    except OSError:
        pass
    mem_kb = _status_kb_meminfo()
    return {"cpus": os.cpu_count(), "cpu_model": model, "mem_gb": round(mem_kb / 1024 / 1024, 1),
            "python": platform.python_version(), "platform": platform.platform()}


def code_version() -> str:
    """The commit measured, "+dirty" with uncommitted changes: pages change fast, figures belong to a commit."""
    import subprocess

    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def _status_kb_meminfo() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessions", type=int, default=25, help="concurrent browser sessions (default 25)")
    ap.add_argument("--duration", type=float, default=180.0, help="seconds each pass drives the pages (default 180)")
    ap.add_argument("--stagger", type=float, default=0.4, help="seconds between session starts (default 0.4)")
    ap.add_argument("--visit-timeout", type=float, default=60.0,
                    help="seconds a page visit may take before it counts as an error (default 60)")
    ap.add_argument("--client", choices=("browser", "protocol"), default="browser",
                    help="browser: headless Chromium sessions (default); protocol: Streamlit's websocket without "
                         "a browser, to time the server alone")
    ap.add_argument("--browser-sched", choices=("idle", "normal"), default="idle",
                    help="Chromium's CPU scheduling: idle (default: it cannot starve the server on a shared "
                         "machine) or normal")
    ap.add_argument("--out", type=Path, default=RESULTS / "load.json", help="JSON results path")
    args = ap.parse_args(argv)
    if args.client == "browser" and not Path(CHROMIUM).exists():
        print(f"{CHROMIUM} is missing: `make chromium` installs it", file=sys.stderr)
        return 2
    started = datetime.now(UTC)
    version, host = code_version(), machine()
    with tempfile.TemporaryDirectory(prefix="carrydesk-load-") as tmp:
        def client() -> Client:
            if args.client == "protocol":
                return ProtocolClient()
            return BrowserClient(low_priority_chromium(Path(tmp), args.browser_sched))

        base_pass = run_pass(client(), 1, args.duration, args.stagger, args.visit_timeout, Path(tmp))
        load_pass = run_pass(client(), args.sessions, args.duration, args.stagger, args.visit_timeout, Path(tmp))
    base, load = summarize(base_pass), summarize(load_pass)
    base_visits, load_visits = base_pass.visits, load_pass.visits
    rows, checks = report(base, load)
    out: dict[str, Any] = {
        "date": started.isoformat(timespec="seconds"), "code": version, "machine": host,
        "settings": {"sessions": args.sessions, "duration_s": args.duration, "stagger_s": args.stagger,
                     "visit_timeout_s": args.visit_timeout,
                     "client": args.client, "browser_sched": args.browser_sched, "pages": [asdict(p) for p in PAGES]},
        "targets": {"errors": TARGET_ERRORS, "first_chart_p95_s": TARGET_P95_S,
                    "upstream_ratio": TARGET_UPSTREAM_RATIO, "rss_growth_mb": TARGET_RSS_GROWTH_MB},
        "checks": checks, "one_session": base, "load": load,
        "visits": {"one_session": [asdict(v) for v in base_visits], "load": [asdict(v) for v in load_visits]},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2, default=str), encoding="utf-8")
    print(f"\n{started:%Y-%m-%d %H:%M} UTC, code {version}, {host['cpus']} cores ({host['cpu_model']}), "
          f"{host['mem_gb']} GB")
    print_table(rows)
    missed = [k for k, ok in checks.items() if not ok]
    print(f"\n{'all targets met' if not missed else 'missed: ' + ', '.join(missed)}; written: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
