"""The URL as the view's state: read validated parameters, write the current view back.

Pages call ``ViewState`` once: ``vs = ViewState("funding")``, read each input through it (the URL value
seeds the widget on first render), then ``vs.sync({...})`` after the widgets so the address bar always
holds the exact view. Problems with URL values are shown once, as a warning, never as a traceback. A
parameter given twice with different values (``?base=BTC&base=ETH``) says nothing reliable: it is dropped
for every reader of ``st.query_params`` (the default applies) and named.

Moving to another page drops the URL's parameters and Streamlit forgets the widgets of a page that is not
drawn, so each page's last view is also kept in the session: opened again from the navigation (no
parameters at all), a page comes back as the user left it. A link with parameters always wins.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import TypeVar

import pandas as pd
import streamlit as st

from components import urlparams as up
from components.formatting import md_literal

T = TypeVar("T")
_SAVED_VIEWS = "_cd_saved_views"  # session state: page -> its last URL parameters


class ViewState:
    """Reads typed values from ``st.query_params`` and collects what had to be ignored."""

    def __init__(self, page: str) -> None:
        self.problems: list[str] = []
        self.page = page
        saved = st.session_state.get(_SAVED_VIEWS, {}).get(page)
        if saved and not st.query_params:  # back from another page of this session: restore its view
            st.query_params.from_dict(saved)
        for param in list(st.query_params):
            values = st.query_params.get_all(param)
            if len(set(values)) > 1:  # ?base=BTC&base=ETH: no value is the link's, so every reader gets none
                del st.query_params[param]
                self.problems.append(f"{param} is given {len(values)} times "
                                     f"({', '.join(repr(v[:80]) for v in values[:5])}); using the default")
            elif len(values) > 1:
                st.query_params[param] = values[0]

    def _raw(self, param: str) -> str | None:
        value = st.query_params.get(param)
        return None if value is None else str(value)

    def _keep(self, parsed: up.Parsed[T]) -> T:
        if parsed.problem:
            self.problems.append(parsed.problem)
        return parsed.value

    def choice(self, param: str, options: Sequence[str], default: str) -> str:
        return self._keep(up.parse_choice(self._raw(param), options, default, param=param))

    def multi(self, param: str, options: Sequence[str], default: Sequence[str]) -> list[str]:
        return self._keep(up.parse_multi(self._raw(param), options, default, param=param))

    def listed_or_default(self, param: str, chosen: Sequence[str], default: Sequence[str], *, listed: set[str],
                          complete: bool) -> list[str]:
        """``chosen`` (a link's assets), or ``default`` with a note when a complete listing holds none of them
        (``?sym=NOPE``): a page of nothing but "not listed" is not the view the link meant."""
        if complete and not listed & set(chosen):
            self.problems.append(f"{param}: no exchange lists a perpetual of {', '.join(chosen)}; using the defaults")
            return list(default)
        return list(chosen)

    def number(self, param: str, default: float, *, lo: float, hi: float) -> float:
        return self._keep(up.parse_float(self._raw(param), default, param=param, lo=lo, hi=hi))

    def day(self, param: str, *, earliest: date, latest: date) -> date | None:
        return self._keep(up.parse_date(self._raw(param), param=param, earliest=earliest, latest=latest))

    def as_of(self, now: pd.Timestamp) -> pd.Timestamp | None:
        return self._keep(up.parse_as_of(self._raw("as_of"), now=now))

    def show_problems(self) -> None:
        if self.problems:
            # md_literal: a note echoes what the link held; it must show as text, never as a link or markup
            items = "\n".join(f"- {md_literal(p)}" for p in self.problems)
            st.warning("Some link parameters were ignored:\n" + items, icon=":material/link_off:")

    def sync(self, values: Mapping[str, str | None]) -> None:
        """Write the view to the URL: set each value, drop the ones that are None or empty; remember it."""
        for key, value in values.items():
            if value is None or value == "":
                if key in st.query_params:
                    del st.query_params[key]
            elif st.query_params.get(key) != value:
                st.query_params[key] = value
        st.session_state.setdefault(_SAVED_VIEWS, {})[self.page] = st.query_params.to_dict()


def reset_view(page: str, widget_prefix: str) -> None:
    """Forget ``page``'s view in this session: its saved parameters, the URL's, and its widgets' state
    (keys starting with ``widget_prefix``), so it opens with its defaults. Meant as a button callback: it
    runs before the page's widgets exist."""
    st.session_state.get(_SAVED_VIEWS, {}).pop(page, None)
    st.query_params.clear()
    for key in [k for k in st.session_state if isinstance(k, str) and k.startswith(widget_prefix)]:
        del st.session_state[key]
