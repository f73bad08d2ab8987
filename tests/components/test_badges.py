"""Source badge and freshness text: simulated data is always labelled, with its scenario."""

from __future__ import annotations

import pytest

from components import badges


def test_demo_badge_says_simulated_and_scenario():
    assert badges.source_badge_text("demo", "crash") == "SIMULATED DATA — scenario: crash"
    html = badges.source_badge_html("demo", "squeeze")
    assert "SIMULATED DATA — scenario: squeeze" in html
    assert "cd-source-demo" in html


def test_live_badge():
    assert badges.source_badge_text("live") == "LIVE"
    assert ">LIVE</span>" in badges.source_badge_html("live")


def test_badge_html_is_escaped():
    html = badges.source_badge_html("demo", "<script>x</script>")
    assert "<script>" not in html and "&lt;script&gt;" in html


@pytest.mark.parametrize(
    ("age", "level"), [(0.0, "fresh"), (59.9, "fresh"), (60.0, "aging"), (299.0, "aging"), (300.0, "stale"),
                       (None, "unknown"), (float("nan"), "unknown")],
)
def test_freshness_level(age, level):
    assert badges.freshness_level(age) == level


def test_freshness_text_names_stale_venues():
    assert badges.freshness_text(12.2) == "Data age: 12 s"
    text = badges.freshness_text(5, stale={"okx": 190.0, "bybit": 40.0}, label=str.upper)
    assert text == "Data age: 5 s · stale after an error: BYBIT (40 s old), OKX (3 min 10 s old)"


def test_venue_error_lines_sorted_and_labelled():
    lines = badges.venue_error_lines({"okx": "timeout", "bybit": "429"}, label=str.title)
    assert lines == ["Bybit: 429", "Okx: timeout"]
