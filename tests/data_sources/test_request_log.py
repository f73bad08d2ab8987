"""The simulated exchanges' request log: bounded rows, exact totals, and the opt-in file sink that
``make load`` reads (``CARRYDESK_DEMO_REQUEST_LOG``)."""

from __future__ import annotations

from pathlib import Path

from data_sources.config import Settings, load_settings
from data_sources.simulated import RequestLog, SimMarket
from data_sources.simulated.transport import SimRequest
from data_sources.source import build_demo


def _req(venue: str, path: str, i: int = 0) -> SimRequest:
    return SimRequest(venue=venue, method="GET", path=path, query={"i": str(i)})


def test_rows_are_bounded_and_counts_stay_exact() -> None:
    log = RequestLog(keep=5)
    for i in range(12):
        log.record(_req("okx" if i % 3 else "bybit", "/api/v5/public/tickers", i))
    assert [r.query["i"] for r in log.rows()] == ["7", "8", "9", "10", "11"]  # the most recent, oldest first
    assert log.count() == 12
    assert log.count("bybit") == 4 and log.count("okx", "*/tickers") == 8 and log.count(path="*/other") == 0
    assert log.by_path() == {("okx", "/api/v5/public/tickers"): 8, ("bybit", "/api/v5/public/tickers"): 4}
    log.clear()
    assert log.count() == 0 and log.rows() == [] and not log.by_path()


def test_sink_gets_one_line_per_request(tmp_path: Path) -> None:
    path = tmp_path / "upstream.tsv"
    log = RequestLog(sink=path)
    log.record(_req("okx", "/api/v5/public/time"))
    log.record(_req("deribit", "/api/v2/public/get_index_price"))
    lines = path.read_text().splitlines()  # line-buffered: readable before close
    log.close()
    assert [line.split("\t")[1:] for line in lines] == [["okx", "GET", "/api/v5/public/time"],
                                                        ["deribit", "GET", "/api/v2/public/get_index_price"]]
    assert all(float(line.split("\t")[0]) > 1e9 for line in lines)  # epoch seconds


def test_environment_turns_the_sink_on_for_the_demo_facade(tmp_path: Path) -> None:
    path = tmp_path / "upstream.tsv"
    assert load_settings({}, cwd=tmp_path).demo_request_log is None
    settings = load_settings({"CARRYDESK_SOURCE": "demo", "CARRYDESK_DEMO_REQUEST_LOG": str(path)}, cwd=tmp_path)
    assert settings.demo_request_log == str(path)
    md = build_demo(settings, market=SimMarket(seed=7, scenario="normal"))
    try:
        md.term_structure("BTC", venues=["okx"])
        lines = path.read_text().splitlines()
        assert lines and len(lines) == md.request_log.count()  # type: ignore[attr-defined]
        assert {line.split("\t")[1] for line in lines} == {"okx"}
    finally:
        md.close()
        md.request_log.close()  # type: ignore[attr-defined]


def test_no_sink_without_the_setting() -> None:
    md = build_demo(Settings(source="demo"), market=SimMarket(seed=7, scenario="normal"))
    try:
        assert md.request_log._sink is None  # type: ignore[attr-defined]
    finally:
        md.close()
