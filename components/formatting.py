"""Text formatting of numbers for tables, cards and captions. Pure; missing values render as "—".

Inputs are fractions where the unit is a percentage (0.0385 -> "3.85%"), as everywhere in analytics.
"""

from __future__ import annotations

import math
import re
from numbers import Real

import pandas as pd

MISSING = "—"


def is_missing(x: object) -> bool:
    """True for None, NaN, NaT, pd.NA and infinities (nothing sensible to print)."""
    if x is None or x is pd.NA or x is pd.NaT:
        return True
    if isinstance(x, Real):
        return not math.isfinite(float(x))
    return False


def _sign(x: float, signed: bool) -> str:
    return "+" if signed and x > 0 else ""


def fmt_price(x: float | None, *, decimals: int | None = None) -> str:
    """A price with thousands separators; decimals adapt to magnitude unless given.

    92013.456 -> "92,013.46"; 175.2 -> "175.20"; 0.012345 -> "0.01235" (4 significant digits).
    """
    if is_missing(x):
        return MISSING
    v = float(x)  # type: ignore[arg-type]
    if decimals is None:
        magnitude = abs(v)
        decimals = 2 if magnitude >= 1 or magnitude == 0 else max(2, 3 - math.floor(math.log10(magnitude)))
    return f"{v:,.{decimals}f}"


def fmt_pct(x: float | None, *, decimals: int = 2, signed: bool = False) -> str:
    """A fraction as a percentage: 0.0385 -> "3.85%" (``signed`` adds "+" to positives)."""
    if is_missing(x):
        return MISSING
    v = float(x) * 100.0  # type: ignore[arg-type]
    return f"{_sign(v, signed)}{v:,.{decimals}f}%"


def fmt_apr(x: float | None, *, decimals: int = 2) -> str:
    """An annualized rate (fraction per year), signed: 0.1095 -> "+10.95%"."""
    return fmt_pct(x, decimals=decimals, signed=True)


def fmt_days(x: float | None, *, decimals: int = 1) -> str:
    """Days to expiry: 91.04 -> "91.0 d"."""
    if is_missing(x):
        return MISSING
    return f"{float(x):,.{decimals}f} d"  # type: ignore[arg-type]


def fmt_age(seconds: float | None) -> str:
    """A data age: 4.2 -> "4 s", 95 -> "1 min 35 s", 7300 -> "2 h 1 min", 200000 -> "2 d 7 h"."""
    if is_missing(seconds):
        return MISSING
    s = max(0, round(float(seconds)))  # type: ignore[arg-type]
    if s < 60:
        return f"{s} s"
    if s < 3600:
        m, rem = divmod(s, 60)
        return f"{m} min {rem} s" if rem else f"{m} min"
    if s < 86_400:
        h, rem = divmod(s, 3600)
        return f"{h} h {rem // 60} min" if rem // 60 else f"{h} h"
    d, rem = divmod(s, 86_400)
    return f"{d} d {rem // 3600} h" if rem // 3600 else f"{d} d"


def fmt_time(ts: pd.Timestamp | None) -> str:
    """A UTC timestamp to the minute: "2026-11-25 13:57 UTC"."""
    if ts is None or ts is pd.NaT or pd.isna(ts):
        return MISSING
    t = pd.Timestamp(ts)
    t = t.tz_localize("UTC") if t.tz is None else t.tz_convert("UTC")
    return t.strftime("%Y-%m-%d %H:%M UTC")


def fmt_date(ts: pd.Timestamp | None) -> str:
    """An expiry date: "27 Mar 2026"."""
    if ts is None or ts is pd.NaT or pd.isna(ts):
        return MISSING
    t = pd.Timestamp(ts)
    t = t.tz_localize("UTC") if t.tz is None else t.tz_convert("UTC")
    return f"{t.day} {t.strftime('%b %Y')}"


# Streamlit's colored text and badges (``:red[...]``, ``:blue-background[...]``): the colon starts them
_DIRECTIVE = re.compile(r":(?=(?:red|orange|yellow|green|blue|violet|gray|grey|rainbow|primary)(?:-\w+)?\b)",
                        re.IGNORECASE)
# CommonMark's inline HTML (open and closing tags, comments, processing instructions, declarations, CDATA): its
# text is taken as is, a backslash in it would show, and Streamlit shows it as text
_INLINE_HTML = re.compile(
    r"<[A-Za-z][A-Za-z0-9-]*(?:\s+[A-Za-z_:][\w.:-]*(?:\s*=\s*(?:[^\s\"'=<>`]+|'[^']*'|\"[^\"]*\"))?)*\s*/?>"
    r"|</[A-Za-z][A-Za-z0-9-]*\s*>|<!--.*?-->|<\?.*?\?>|<![A-Za-z][^>]*>|<!\[CDATA\[.*?\]\]>", re.DOTALL)


def _md_escape(text: str) -> str:
    out = re.sub(r"[\\`*$~&]|(?<![^\W_])_|_(?![^\W_])", lambda m: "\\" + m.group(0), text)
    out = out.replace("](", "\\](")  # [text](url), ![alt](src)
    out = _DIRECTIVE.sub(r"\\:", out)  # :red[...], :blue-background[...]: Streamlit's colored text
    return re.sub(r"<(?=[A-Za-z][A-Za-z0-9+.-]{1,31}:|[^\s<>]*@)", r"\\<", out)  # <scheme:...>, <a@b.c>


def md_literal(text: object) -> str:
    """``text`` for a Streamlit markdown body (st.warning, st.error, st.caption, ...), shown as typed: a value
    that a link or a user brought, echoed in a note, adds no link text, emphasis, code, math or color.

    Markup characters are backslash-escaped (CommonMark shows ``\\x`` as ``x`` for any ASCII punctuation),
    except inside inline HTML, which markdown leaves alone and Streamlit shows as text (no
    ``unsafe_allow_html``). Left as they are, because they add no markup there: underscores inside a word
    (``as_of``), a "]" not followed by "(" (``asset,quantity[,cost]``), a colon that does not start a color
    (``okx:BTC/USDT:USDT``). A bare URL still becomes a link showing exactly that URL (GFM finds those after
    escapes are resolved).
    """
    text = str(text)
    out, at = [], 0
    for tag in _INLINE_HTML.finditer(text):
        out += [_md_escape(text[at:tag.start()]), tag.group(0)]
        at = tag.end()
    return "".join([*out, _md_escape(text[at:])])
