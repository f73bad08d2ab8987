"""Number formatting: units, signs, magnitudes, and "—" for anything missing."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from components import formatting as fmt

MISSING_VALUES = [None, float("nan"), np.nan, np.float64("nan"), float("inf"), pd.NA, pd.NaT]


@pytest.mark.parametrize("value", MISSING_VALUES, ids=repr)
def test_missing_renders_as_dash(value):
    for f in (fmt.fmt_price, fmt.fmt_pct, fmt.fmt_apr, fmt.fmt_days, fmt.fmt_age):
        assert f(value) == "—", f.__name__
    assert fmt.fmt_time(None) == "—" and fmt.fmt_date(pd.NaT) == "—"


@pytest.mark.parametrize(
    ("value", "expected"),
    [(92013.456, "92,013.46"), (175.2, "175.20"), (1.0, "1.00"), (0.012345, "0.01235"), (0.5, "0.5000"),
     (0.0, "0.00"), (-1500.0, "-1,500.00"), (np.float32(2.5), "2.50")],
)
def test_price(value, expected):
    assert fmt.fmt_price(value) == expected


def test_percent_bp_apr_rate():
    assert fmt.fmt_pct(0.0384615) == "3.85%"
    assert fmt.fmt_pct(-0.02586, decimals=1) == "-2.6%"
    assert fmt.fmt_pct(0.1, signed=True) == "+10.00%"
    assert fmt.fmt_pct(0.0) == "0.00%"
    assert fmt.fmt_apr(0.1095) == "+10.95%"
    assert fmt.fmt_days(91.04) == "91.0 d"


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [(0, "0 s"), (4.4, "4 s"), (59.6, "1 min"), (95, "1 min 35 s"), (3600, "1 h"), (7300, "2 h 1 min"),
     (86_400, "1 d"), (200_000, "2 d 7 h"), (-3, "0 s")],
)
def test_age(seconds, expected):
    assert fmt.fmt_age(seconds) == expected


def test_time_and_date_are_utc():
    assert fmt.fmt_time(pd.Timestamp("2026-11-25 14:57", tz="Europe/Paris")) == "2026-11-25 13:57 UTC"
    assert fmt.fmt_date(pd.Timestamp("2026-12-25 08:00", tz="UTC")) == "25 Dec 2026"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("[click](javascript:alert(1))", "[click\\](javascript:alert(1))"),  # no link
     ("**b** _i_ `c` $x$ ~s~ &lt;", "\\*\\*b\\*\\* \\_i\\_ \\`c\\` \\$x\\$ \\~s\\~ \\&lt;"),
     (":red[r] x:blue-background[y]", "\\:red[r] x\\:blue-background[y]"),  # no colored text
     ("<https://e.example> <a@b.example>", "\\<https://e.example> \\<a@b.example>"),  # no autolink
     ("a\\b", "a\\\\b"),
     # inline HTML is shown as typed (markdown keeps its backslashes), the text around it is escaped
     ("'<img src=x onerror=\"window.__pwned=1\">' *", "'<img src=x onerror=\"window.__pwned=1\">' \\*"),
     ("<script>window.__pwned=1</script>", "<script>window.\\_\\_pwned=1</script>"),
     # what adds no markup stays as it is, so notes read as before
     ("as_of=2099-01-01 is in the future", "as_of=2099-01-01 is in the future"),
     ("hc='deribit:BTC/USD:BTC-270326'", "hc='deribit:BTC/USD:BTC-270326'"),
     ("must be asset,quantity[,cost]", "must be asset,quantity[,cost]")],
)
def test_md_literal_escapes_markup_of_an_echoed_value(text, expected):
    assert fmt.md_literal(text) == expected
