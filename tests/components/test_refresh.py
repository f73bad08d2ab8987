"""Auto-refresh settings and timing rule."""

from __future__ import annotations

import pytest

from components import refresh


@pytest.mark.parametrize(("raw", "expected"), [(None, 60), ("", 60), ("0", 0), ("15", 15), (" 300 ", 300)])
def test_interval_from_the_environment(raw, expected):
    parsed = refresh.parse_interval(raw)
    assert parsed.value == expected and parsed.problem is None


@pytest.mark.parametrize("raw", ["abc", "7", "-15", "1e3", "60.5"])
def test_bad_interval_falls_back_with_a_message(raw):
    parsed = refresh.parse_interval(raw)
    assert parsed.value == refresh.DEFAULT_S
    assert refresh.ENV in (parsed.problem or "") and repr(raw) in (parsed.problem or "")


def test_rerun_due():
    assert not refresh.rerun_due(100.0, 100.2, 60)  # the full run that drew the timer
    assert refresh.rerun_due(100.0, 160.0, 60)  # a tick a whole interval later
    assert not refresh.rerun_due(100.0, 125.0, 60)  # a click 25 s before the tick refreshed the page already
    assert refresh.rerun_due(100.0, 130.0, 60)
    assert not refresh.rerun_due(100.0, 1000.0, 0)  # off
    assert not refresh.rerun_due(None, 1000.0, 60)  # no full run recorded in this session
