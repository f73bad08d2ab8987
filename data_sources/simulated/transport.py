"""The requests transport adapter that answers a ccxt client from the simulated market.

Mounted on a ccxt client's ``session`` in demo mode, it replaces the network and nothing else: ccxt still
builds its real URLs, signs nothing (public endpoints), parses the venue's real response format and maps
its real error format. Each venue's handler (``simulated/<family>.py``) turns a request into that
exchange's answer; this module routes, logs, and injects faults.
"""

from __future__ import annotations

import fnmatch
import json
import os
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, TextIO
from urllib.parse import parse_qsl, urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

FaultKind = Literal["latency", "timeout", "rate_limit", "ban", "server_error", "malformed", "empty", "down", "slow"]
FAULT_KINDS: tuple[str, ...] = (
    "latency",
    "timeout",
    "rate_limit",
    "ban",
    "server_error",
    "malformed",
    "empty",
    "down",
    "slow",
)
# A slow answer with no delay of its own and a client without a timeout: long enough to be "hung", short
# enough that a forgotten test still ends.
SLOW_WITHOUT_TIMEOUT_MS = 30_000.0


@dataclass(frozen=True)
class SimRequest:
    venue: str
    method: str
    path: str  # e.g. /fapi/v1/premiumIndex
    query: dict[str, str]
    body: str | None = None

    def param(self, name: str, default: str | None = None) -> str | None:
        return self.query.get(name, default)


@dataclass(frozen=True)
class SimResponse:
    status: int
    body: Any  # JSON-serializable, or str sent as is
    headers: dict[str, str] = field(default_factory=dict)

    def text(self) -> str:
        return self.body if isinstance(self.body, str) else json.dumps(self.body, separators=(",", ":"))


class VenueHandler(Protocol):
    """One simulated exchange: answers requests in that exchange's real format."""

    venue: str

    def handle(self, req: SimRequest) -> SimResponse:
        """The answer to ``req``; an unknown path gets the exchange's real 404/'not found' answer."""
        ...

    def error(self, kind: str, req: SimRequest) -> SimResponse:
        """The exchange's answer for an injected fault: rate_limit (429), ban (418), server_error (5xx)."""
        ...

    def empty(self, req: SimRequest) -> SimResponse:
        """A well-formed answer with no rows, in the exchange's envelope."""
        ...


@dataclass(frozen=True)
class Fault:
    """An injected fault.

    Parameters
    ----------
    kind : FaultKind
        ``latency`` adds ``latency_ms`` and then answers normally; ``timeout`` raises a read timeout;
        ``rate_limit``/``ban``/``server_error`` answer with the venue's error format; ``malformed`` sends a
        broken JSON body with HTTP 200; ``empty`` a well-formed answer without rows; ``down`` refuses the
        connection; ``slow`` answers after ``latency_ms``, or never within the client's timeout when
        ``latency_ms`` is 0 or longer than it: the request then waits the client's whole timeout and fails
        as a read timeout, which is what a hung exchange costs a page (``timeout`` fails at once).
    venue : str
        Venue id or ``*``.
    path : str
        fnmatch pattern on the request path, e.g. ``*/fundingRate`` or ``*``.
    times : int | None
        How many matching requests it hits; None = all of them.
    latency_ms : float
        For ``latency`` (and added before any other kind when set); for ``slow``, the answer's delay.
    """

    kind: FaultKind
    venue: str = "*"
    path: str = "*"
    times: int | None = None
    latency_ms: float = 0.0

    def matches(self, req: SimRequest) -> bool:
        return fnmatch.fnmatchcase(req.venue, self.venue) and fnmatch.fnmatchcase(req.path, self.path)


class FaultPlan:
    """A thread-safe list of faults; the first matching one with hits left applies."""

    def __init__(self, faults: list[Fault] | None = None) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._left: list[int | None] = []
        self._hits: list[int] = []
        for f in faults or []:
            self.add(f)

    def add(self, fault: Fault) -> None:
        if fault.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {fault.kind!r}")
        with self._lock:
            self._faults.append(fault)
            self._left.append(fault.times)
            self._hits.append(0)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
            self._left.clear()
            self._hits.clear()

    def faults(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def hits(self, venue: str | None = None) -> int:
        """How many requests the faults hit (those of faults whose venue pattern is ``venue``, if given):
        tells a test whether a fault reached the venue at all."""
        with self._lock:
            return sum(n for f, n in zip(self._faults, self._hits, strict=True) if venue is None or f.venue == venue)

    def take(self, req: SimRequest) -> list[Fault]:
        """The faults that apply to ``req`` (latency faults stack; at most one failing fault)."""
        hits: list[Fault] = []
        failing_taken = False
        with self._lock:
            for i, f in enumerate(self._faults):
                left = self._left[i]
                if left == 0 or not f.matches(req):
                    continue
                if f.kind != "latency":
                    if failing_taken:
                        continue
                    failing_taken = True
                if left is not None:
                    self._left[i] = left - 1
                self._hits[i] += 1
                hits.append(f)
        return hits


@dataclass(frozen=True)
class LoggedRequest:
    venue: str
    method: str
    path: str
    query: dict[str, str]
    at: float
    body: str | None = None  # POST APIs (Hyperliquid's /info) put the whole question in the body


class RequestLog:
    """The requests the simulated exchanges received (thread-safe): tests count upstream calls here.

    Totals per (venue, path) are kept for the log's whole life, but the rows themselves (with query and
    body, which tests inspect) only for the last ``keep`` requests: a demo server (``make run``) shares one
    log for as long as it runs, and a list of every request would grow without bound. ``count`` and
    ``by_path`` answer from the totals, so they stay exact after old rows are dropped; ``rows`` returns the
    retained ones (all of them in any test, which makes far fewer than ``keep`` requests).

    ``sink``: a file path; when given, each request is also appended to it as one line
    ``epoch_seconds<TAB>venue<TAB>method<TAB>path`` (``CARRYDESK_DEMO_REQUEST_LOG``), so that a process
    driving a demo server from outside (``bench/load.py``) can count its upstream requests.
    """

    KEEP = 10_000

    def __init__(self, keep: int = KEEP, sink: str | os.PathLike[str] | None = None) -> None:
        self._lock = threading.Lock()
        self._rows: deque[LoggedRequest] = deque(maxlen=keep)
        self._totals: Counter[tuple[str, str]] = Counter()
        # line-buffered: every request reaches the file at once, so a reader sees it while the server runs
        self._sink: TextIO | None = (
            Path(sink).open("a", buffering=1, encoding="utf-8") if sink else None  # noqa: SIM115 - lives with the log
        )

    def record(self, req: SimRequest) -> None:
        row = LoggedRequest(req.venue, req.method, req.path, dict(req.query), time.monotonic(), req.body)
        with self._lock:  # the sink's writes too: lines of concurrent requests must not interleave
            self._rows.append(row)
            self._totals[(req.venue, req.path)] += 1
            if self._sink is not None:
                self._sink.write(f"{time.time():.3f}\t{req.venue}\t{req.method}\t{req.path}\n")

    def rows(self, venue: str | None = None, path: str | None = None) -> list[LoggedRequest]:
        """The retained (most recent ``keep``) requests, oldest first."""
        with self._lock:
            rows = list(self._rows)
        return [
            r
            for r in rows
            if (venue is None or r.venue == venue) and (path is None or fnmatch.fnmatchcase(r.path, path))
        ]

    def count(self, venue: str | None = None, path: str | None = None) -> int:
        """How many requests were made (all of them, retained or not) to ``venue`` / a ``path`` pattern."""
        return sum(
            n
            for (v, p), n in self.by_path().items()
            if (venue is None or v == venue) and (path is None or fnmatch.fnmatchcase(p, path))
        )

    def by_path(self) -> Counter[tuple[str, str]]:
        with self._lock:
            return Counter(self._totals)

    def clear(self) -> None:
        with self._lock:
            self._rows.clear()
            self._totals.clear()

    def close(self) -> None:
        with self._lock:
            if self._sink is not None:
                self._sink.close()
                self._sink = None


class SimTransport(BaseAdapter):
    """requests adapter that answers from a ``VenueHandler`` instead of the network."""

    def __init__(
        self,
        handler: VenueHandler,
        *,
        faults: FaultPlan | None = None,
        log: RequestLog | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__()
        self.handler = handler
        self.faults = faults or FaultPlan()
        self.log = log or RequestLog()
        self._sleep = sleep

    def send(  # type: ignore[override]
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: Any = True,
        cert: Any = None,
        proxies: Any = None,
    ) -> requests.Response:
        parts = urlsplit(request.url or "")
        raw = request.body
        body = raw.decode() if isinstance(raw, bytes) else raw if isinstance(raw, str) else None
        req = SimRequest(
            venue=self.handler.venue,
            method=(request.method or "GET").upper(),
            path=parts.path,
            query=dict(parse_qsl(parts.query, keep_blank_values=True)),
            body=body,
        )
        self.log.record(req)
        faults = self.faults.take(req)
        for f in faults:
            if f.latency_ms and f.kind != "slow":
                self._sleep(f.latency_ms / 1000.0)
        failing = next((f for f in faults if f.kind != "latency"), None)
        host = parts.hostname or self.handler.venue
        if failing is None:
            resp = self._answer(req)
        elif failing.kind == "slow":
            resp = self._slow(request, req, failing, timeout, host)
        elif failing.kind == "timeout":
            # requests' own wording ("Read timed out"), which ccxt and errors.translate recognise
            raise requests.exceptions.ReadTimeout(
                f"HTTPSConnectionPool(host={host!r}, port=443): Read timed out. (simulated, {req.path})",
                request=request)
        elif failing.kind == "down":
            raise requests.exceptions.ConnectionError(
                f"HTTPSConnectionPool(host={host!r}, port=443): Max retries exceeded with url: {req.path} "
                "(Caused by NewConnectionError: Failed to establish a new connection: "
                "[Errno 111] Connection refused) (simulated)", request=request)
        elif failing.kind == "malformed":
            resp = SimResponse(200, '{"truncated": [1, 2,')
        elif failing.kind == "empty":
            resp = self.handler.empty(req)
        else:
            resp = self.handler.error(failing.kind, req)
        return self._to_response(request, resp)

    def _answer(self, req: SimRequest) -> SimResponse:
        return self.handler.handle(req)

    def _slow(self, request: requests.PreparedRequest, req: SimRequest, fault: Fault, timeout: Any,
              host: str) -> SimResponse:
        """Answer after the fault's delay, or, when the client gives up first, wait its timeout and fail."""
        read_s = read_timeout_s(timeout)
        delay_s = fault.latency_ms / 1000.0 if fault.latency_ms > 0 else None
        if delay_s is not None and (read_s is None or delay_s < read_s):
            self._sleep(delay_s)
            return self._answer(req)
        if read_s is None:  # no client timeout: the answer comes, very late
            self._sleep(delay_s if delay_s is not None else SLOW_WITHOUT_TIMEOUT_MS / 1000.0)
            return self._answer(req)
        self._sleep(read_s)
        raise requests.exceptions.ReadTimeout(
            f"HTTPSConnectionPool(host={host!r}, port=443): Read timed out. (read timeout={read_s:g}) "
            f"(simulated slow answer, {req.path})", request=request)

    @staticmethod
    def _to_response(request: requests.PreparedRequest, resp: SimResponse) -> requests.Response:
        out = requests.Response()
        out.status_code = resp.status
        out.reason = {200: "OK", 400: "Bad Request", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
                      418: "I'm a teapot", 422: "Unprocessable Entity", 429: "Too Many Requests",
                      500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}.get(resp.status, "")
        headers = {"Content-Type": "application/json"}
        headers.update(resp.headers)
        out.headers = CaseInsensitiveDict(headers)
        out._content = resp.text().encode()
        out.encoding = "utf-8"
        out.url = request.url or ""
        out.request = request
        return out

    def close(self) -> None:  # nothing to release
        pass


def read_timeout_s(timeout: Any) -> float | None:
    """The read timeout in seconds of a requests ``timeout`` argument (a number or a (connect, read) pair)."""
    if isinstance(timeout, tuple | list):
        timeout = timeout[-1] if timeout else None
    if timeout is None:
        return None
    try:
        value = float(timeout)
    except (TypeError, ValueError):
        return None
    return value if value > 0 else None


def mount(ex: Any, transport: SimTransport) -> None:
    """Route every request of ccxt client ``ex`` through ``transport`` (both schemes, any host)."""
    from requests import Session

    if ex.session is None:
        ex.session = Session()
    ex.session.mount("https://", transport)
    ex.session.mount("http://", transport)
