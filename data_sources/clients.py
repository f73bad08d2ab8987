"""ccxt client construction (and, below, the per-process client pool)."""

from __future__ import annotations

import copy
from typing import Any

import ccxt

from data_sources.venues import VENUES, VenueSpec


def client_options(spec: VenueSpec, user_options: dict[str, Any] | None = None) -> dict[str, Any]:
    """ccxt constructor options for ``spec``: our defaults, then the user's (``CARRYDESK_CCXT_OPTIONS``)."""
    opts: dict[str, Any] = {
        "enableRateLimit": True,
        "timeout": 10_000,
        "options": {"fetchMarkets": {"types": list(spec.market_types)}},
    }
    opts = _deep_merge(opts, copy.deepcopy(spec.options))
    if user_options:
        opts = _deep_merge(opts, copy.deepcopy(user_options))
    return opts


def build_client(venue: str, user_options: dict[str, Any] | None = None) -> Any:
    """A fresh ccxt client for ``venue`` (no network I/O)."""
    spec = VENUES[venue]
    cls = getattr(ccxt, spec.ccxt_class)
    return cls(client_options(spec, user_options))


def _deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in extra.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = v
    return out
