"""A Carry Desk server started like ``make run`` (demo data) on a free loopback port, for the browser tests
and the benchmarks. No pytest here: ``bench`` imports it too."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT_S = 60.0
CHROMIUM = "/usr/bin/chromium"  # Debian's, installed by `make test` / `make chromium`
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-quic", "--no-first-run",
]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_healthy(url: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}:\n{log.read_text(errors='replace')}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:  # noqa: S310 - loopback
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"streamlit did not become healthy in {STARTUP_TIMEOUT_S} s:\n{log.read_text()}")


@contextmanager
def carrydesk_process(log_dir: Path, settings: Mapping[str, str] | None = None, *,
                      script: str = "app.py") -> Iterator[tuple[str, subprocess.Popen]]:
    """``carrydesk_server``, yielding the server's process too (the load script reads its memory and CPU)."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARRYDESK_")}
    env.update({"CARRYDESK_SOURCE": "demo", "CARRYDESK_REFRESH_S": "0", "PYTHONUNBUFFERED": "1"})
    env.update(settings or {})
    log = log_dir / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", script, "--server.port", str(port),
             "--server.address", "127.0.0.1", "--server.headless", "true",
             "--browser.gatherUsageStats", "false"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc, log)
        yield url, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@contextmanager
def carrydesk_server(log_dir: Path, settings: Mapping[str, str] | None = None, *,
                     script: str = "app.py") -> Iterator[str]:
    """A server started like ``make run`` but on a free loopback port with demo data; yields its base URL.

    ``settings``: extra ``CARRYDESK_*`` variables. Auto-refresh is off unless they turn it on, so a page
    does not rerun under a test that is reading it. ``script``: another Streamlit script served the same way
    (the benchmark's floor pages).
    """
    with carrydesk_process(log_dir, settings, script=script) as (url, _):
        yield url
