"""Command line: ``python -m data_sources check`` and ``python -m data_sources snapshot --out DIR``.

``check`` loads every venue's markets and reports, per venue: reachable or not, latency, number of
markets, the error if any. ``snapshot`` writes the facade's frames as CSV files (one per frame, header
row; the gold and Nasdaq-100 proxies' daily candles included), optionally pinned to ``--as-of`` (history
windows end there; in demo mode the whole simulated market is read at that time).
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pandas as pd

from data_sources.config import ConfigError, load_settings
from data_sources.errors import DataSourceError, InvalidQueryError
from data_sources.facade import MarketData, to_ms
from data_sources.simulated.market import SimMarket
from data_sources.source import SourceSelector, build_demo, build_live
from data_sources.venues import VENUES


def _facade(source: str | None, as_of_ms: int | None) -> MarketData:
    settings = load_settings()
    if source:
        settings = replace(settings, source=source)
    if as_of_ms is not None and SourceSelector(settings).mode() == "demo":
        market = SimMarket(seed=settings.demo_seed, scenario=settings.demo_scenario, clock=lambda: as_of_ms)
        return build_demo(settings, market=market)
    if settings.source == "demo":
        return build_demo(settings)
    if settings.source == "live":
        return build_live(settings)
    return SourceSelector(settings).facade()


def cmd_check(args: argparse.Namespace) -> int:
    md = _facade(args.source, None)
    print(f"source: {md.source_label}")
    print(f"{'venue':<14} {'reachable':<10} {'latency_ms':>10} {'markets':>8}  error")
    reachable = 0
    for venue in VENUES:
        if venue not in md.settings.venues:
            continue
        t0 = time.perf_counter()
        try:
            ex = md.pool.markets(venue)
        except DataSourceError as e:
            ms = (time.perf_counter() - t0) * 1000
            print(f"{venue:<14} {'no':<10} {ms:>10.0f} {'-':>8}  {type(e).__name__}: {_short(e)}")
            continue
        ms = (time.perf_counter() - t0) * 1000
        reachable += 1
        print(f"{venue:<14} {'yes':<10} {ms:>10.0f} {len(ex.markets):>8}")
    md.close()
    if not reachable:
        print("no venue reachable: check the network, or CARRYDESK_CCXT_OPTIONS for a proxy", file=sys.stderr)
        return 1
    return 0


def _short(e: Exception) -> str:
    text = " ".join(str(e).split())
    return text if len(text) <= 300 else text[:297] + "..."


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_")


def _write(frame: pd.DataFrame, path: Path) -> None:
    frame.to_csv(path, index=False, date_format="%Y-%m-%dT%H:%M:%S.%fZ")
    print(f"wrote {path} ({len(frame)} rows)")


def cmd_snapshot(args: argparse.Namespace) -> int:
    as_of_ms = to_ms(args.as_of, name="--as-of") if args.as_of else None
    md = _facade(args.source, as_of_ms)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    base = args.base.upper()
    until = as_of_ms if as_of_ms is not None else md.now_ms()
    print(f"source: {md.source_label}; as of {pd.Timestamp(until, unit='ms', tz='UTC').isoformat()}")
    if as_of_ms is not None and md.source == "live":
        print("note: live snapshots of quotes and current funding are as of now; history ends at --as-of")
    failures = 0
    written = 0
    try:
        ts = md.term_structure(base)
        _write(ts.frame, out / f"term_structure_{_safe(base)}.csv")
        written += 1
        _report(ts.errors)
        fn = md.funding_now((base,))
        _write(fn.frame, out / f"funding_now_{_safe(base)}.csv")
        written += 1
        _report(fn.errors)
        sp = md.spot((base,))
        _write(sp.frame, out / f"spot_{_safe(base)}.csv")
        written += 1
    except DataSourceError as e:
        print(f"error: {_short(e)}", file=sys.stderr)
        md.close()
        return 1
    start = until - args.days * 86_400_000
    # one perp per venue: the linear (USDT) one where listed, it is the one most desks trade
    perps = fn.frame.sort_values(["venue", "linear"], ascending=[True, False]).drop_duplicates("venue")
    for row in perps.itertuples():
        for what, call in (
            ("funding_history", lambda v=row.venue, s=row.symbol: md.funding_history(v, s, start, until)),
            ("ohlcv_1h_last", lambda v=row.venue, s=row.symbol: md.ohlcv(v, s, "1h", start, until, "last")),
        ):
            try:
                res = call()
            except DataSourceError as e:
                failures += 1
                print(f"skipped {what} {row.venue} {row.symbol}: {_short(e)}", file=sys.stderr)
                continue
            _write(res.frame, out / f"{what}_{row.venue}_{_safe(row.symbol)}.csv")
            written += 1
    # the correlation page's gold and Nasdaq-100 proxies: their daily closes over the same window
    for key, proxy in md.proxies.items():
        try:
            res = md.proxy_candles(key, "1d", start, until)
        except DataSourceError as e:
            failures += 1
            print(f"skipped proxy {key} ({proxy.symbol} on {proxy.venue}): {_short(e)}", file=sys.stderr)
            continue
        _write(res.frame, out / f"proxy_{key}_1d_{proxy.venue}_{_safe(proxy.symbol)}.csv")
        written += 1
    md.close()
    print(f"{written} files written to {out}" + (f", {failures} skipped" if failures else ""))
    return 0


def _report(errors: dict[str, str]) -> None:
    for venue, msg in errors.items():
        print(f"  {venue}: {msg}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m data_sources", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_check = sub.add_parser("check", help="per venue: reachable, latency, number of markets")
    p_check.add_argument("--source", choices=("auto", "live", "demo"))
    p_check.set_defaults(func=cmd_check)
    p_snap = sub.add_parser("snapshot", help="write the facade's frames as CSV files")
    p_snap.add_argument("--out", required=True, help="output directory (created if missing)")
    p_snap.add_argument("--source", choices=("auto", "live", "demo"))
    p_snap.add_argument("--base", default="BTC")
    p_snap.add_argument("--as-of", help="ISO time the history windows end at (UTC if no zone)")
    p_snap.add_argument("--days", type=int, default=30, help="history window length in days (default 30)")
    p_snap.set_defaults(func=cmd_snapshot)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except (ConfigError, InvalidQueryError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
