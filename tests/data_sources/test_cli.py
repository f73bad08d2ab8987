"""``python -m data_sources check|snapshot`` offline in demo mode, and clear errors live without network."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from data_sources.facade import to_ms
from data_sources.simulated.market import SimMarket

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("CARRYDESK_")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "data_sources", *args],
        cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=120, check=False,
    )


def test_check_demo() -> None:
    out = run_cli("check", "--source", "demo")
    assert out.returncode == 0, out.stderr
    assert "Simulated" in out.stdout
    for venue in ("binance ", "binanceusdm", "binancecoinm", "okx", "bybit", "deribit"):
        line = next(ln for ln in out.stdout.splitlines() if ln.startswith(venue))
        assert " yes " in line
        assert int(line.split()[3]) > 0  # number of markets


def test_check_live_without_network_is_clear() -> None:
    # A proxy on a closed loopback port: the live code path, refused at once, no internet touched.
    env = {"CARRYDESK_CCXT_OPTIONS": json.dumps({"*": {"proxyUrl": "http://127.0.0.1:9/"}})}
    out = run_cli("check", "--source", "live", env=env)
    assert out.returncode == 1
    assert "Traceback" not in out.stdout + out.stderr
    lines = [ln for ln in out.stdout.splitlines() if ln.split() and ln.split()[0] in
             ("binance", "binanceusdm", "binancecoinm", "okx", "bybit", "deribit")]
    assert len(lines) == 6
    assert all(" no " in ln and "TemporaryError" in ln and "refused" in ln for ln in lines)
    assert "no venue reachable" in out.stderr


def test_snapshot_demo_as_of(tmp_path: Path) -> None:
    out = run_cli("snapshot", "--out", str(tmp_path), "--source", "demo", "--base", "BTC",
                  "--as-of", "2026-06-01T12:00:00Z", "--days", "7")
    assert out.returncode == 0, out.stderr
    files = sorted(p.name for p in tmp_path.iterdir())
    assert "term_structure_BTC.csv" in files and "funding_now_BTC.csv" in files and "spot_BTC.csv" in files
    assert any(f.startswith("funding_history_okx_") for f in files)
    with (tmp_path / "term_structure_BTC.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert rows and "days_to_expiry" in rows[0]
    expiries = {r["expiry"][:10] for r in rows if r["kind"] == "future"}
    assert "2026-06-26" in expiries  # June quarterly is the nearest quarterly on 2026-06-01
    with (tmp_path / "funding_history_okx_BTC_USDT_USDT.csv").open() as fh:
        hist = list(csv.DictReader(fh))
    assert len(hist) == 7 * 3  # 8h funding over 7 days
    assert hist[-1]["ts"] <= "2026-06-01T12:00"


def test_snapshot_writes_the_proxies_daily_candles(tmp_path: Path) -> None:
    as_of = "2026-06-01T12:00:00Z"
    out = run_cli("snapshot", "--out", str(tmp_path), "--source", "demo", "--as-of", as_of, "--days", "7")
    assert out.returncode == 0, out.stderr
    market = SimMarket(seed=7, scenario="normal", clock=lambda: to_ms(as_of, name="as_of"))
    end = to_ms(as_of, name="as_of")
    for name, venue, base, quote in (("proxy_gold_1d_binance_PAXG_USDT.csv", "binance", "PAXG", "USDT"),
                                     ("proxy_nasdaq_1d_hyperliquid_XYZ-XYZ100_USDC_USDC.csv", "hyperliquid",
                                      "XYZ-XYZ100", "USDC")):
        with (tmp_path / name).open() as fh:
            rows = list(csv.DictReader(fh))
        kind = "spot" if venue == "binance" else "perp"
        inst = market.find(venue, base=base, quote=quote, kind=kind)
        want = market.candles(inst, "last", 86_400_000, end - 7 * 86_400_000, end)
        assert len(rows) == len(want) == 7  # days opening in (as_of - 7 d, as_of]: 6 closed, 1 forming
        closes = [float(r["close"]) for r in rows]
        assert closes == pytest.approx(list(want[:, 4]), rel=1e-12), name


def test_snapshot_bad_as_of(tmp_path: Path) -> None:
    out = run_cli("snapshot", "--out", str(tmp_path), "--source", "demo", "--as-of", "last tuesday")
    assert out.returncode == 2
    assert "not a valid time" in out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize("bad", ["sometimes"])
def test_bad_source_env(bad: str) -> None:
    out = run_cli("check", env={"CARRYDESK_SOURCE": bad})
    assert out.returncode == 2
    assert "source must be one of" in out.stderr
