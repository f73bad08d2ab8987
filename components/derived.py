"""What the pages derive from market data (tables, figures), computed once per version of that data.

Most of a warm page run went into recomputing frames and rebuilding plotly figures from data that had not
changed: a click on an unrelated widget, an auto-refresh inside the data's TTL, a teammate opening the same
view. ``derived(key, build)`` runs ``build`` once per key and hands the result to every later run.

Keys name the view and the data: the page's name and inputs plus ``FrameResult.token`` of every part of
the data the result is built from (a refetch gives new tokens, so a result is never older than its data).
Anything else the result depends on (e.g. "now" rounded to what the page shows) must be in the key too.

Results are shared between sessions, so:

- they come from market data and the view's inputs only, never from a user's holdings (those never leave
  the user's session: the hedge calculator keeps its results in ``st.session_state``);
- they are read-only: pages draw them (streamlit serializes what it sends) and derive new objects from
  them, never assign into them.

Bounded (``MAX_ENTRIES`` results, each at most ``TTL_S`` old) and thread-safe; concurrent runs asking for
the same key build it once (single flight). A ``build`` that raises caches nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any, TypeVar, cast

from cachetools import TTLCache

T = TypeVar("T")

# A few views per page, each with a handful of results; enough for every page's default view and the
# variants a desk flips between, small enough that figures holding thousands of points stay in tens of MB.
MAX_ENTRIES = 256
# A result outlives its data's TTL only as long as a key naming that data is asked for; the TTL bounds
# how long memory is held for views nobody opens any more.
TTL_S = 600.0


class DerivedCache:
    """A bounded, thread-safe, single-flight memo of derived results (see the module docstring)."""

    def __init__(self, *, maxsize: int = MAX_ENTRIES, ttl_s: float = TTL_S) -> None:
        self._lock = threading.Lock()
        self._store: TTLCache[Hashable, Any] = TTLCache(maxsize=maxsize, ttl=ttl_s)
        self._flights: dict[Hashable, threading.Event] = {}
        self.hits = 0
        self.builds = 0

    def get(self, key: Hashable, build: Callable[[], T]) -> T:
        """The result for ``key``: cached, or built now (once, however many threads ask at the same time)."""
        while True:
            with self._lock:
                if key in self._store:
                    self.hits += 1
                    return cast(T, self._store[key])
                flight = self._flights.get(key)
                if flight is None:
                    flight = self._flights[key] = threading.Event()
                    leading = True
                else:
                    leading = False
            if not leading:
                flight.wait()
                continue  # the leader stored its result (or failed: then this thread builds it)
            try:
                value = build()
                with self._lock:
                    self.builds += 1
                    self._store[key] = value
                return value
            finally:
                with self._lock:
                    self._flights.pop(key, None)
                flight.set()

    def clear(self) -> None:
        with self._lock:
            self._store.clear()
            self.hits = self.builds = 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._store)


_CACHE = DerivedCache()


def derived(key: Hashable, build: Callable[[], T]) -> T:
    """``build()``, computed once per ``key`` in this process (shared by every session; read-only)."""
    return _CACHE.get(key, build)


def cache() -> DerivedCache:
    """The process's cache (tests clear it and read its counters)."""
    return _CACHE
