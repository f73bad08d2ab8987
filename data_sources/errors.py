"""The one error hierarchy pages see, and the translation of ccxt errors into it.

Pages catch only `DataSourceError` (and its subclasses); nothing from ccxt or requests leaks past
`data_sources/`. Translation happens at the boundary with ``raise ... from e`` so the ccxt cause stays in
the traceback for logs.
"""

from __future__ import annotations

import ccxt


class DataSourceError(Exception):
    """Base class of every data-source failure.

    Attributes
    ----------
    venue : str | None
        The venue id the failure belongs to, when there is one.
    """

    def __init__(self, message: str, *, venue: str | None = None) -> None:
        super().__init__(message)
        self.venue = venue

    def __str__(self) -> str:
        base = super().__str__()
        return f"{self.venue}: {base}" if self.venue and not base.startswith(f"{self.venue}:") else base


class TemporaryError(DataSourceError):
    """Network trouble, timeouts, rate limits, maintenance, 5xx: worth a bounded retry."""


class RateLimitedError(TemporaryError):
    """The venue said slow down (HTTP 429/418 or its own code)."""


class UnsupportedError(DataSourceError):
    """The venue does not offer this data (e.g. Deribit mark-price candles)."""


class InvalidQueryError(DataSourceError):
    """The request itself is wrong: unknown symbol, bad window, bad parameter."""


class EmptyResultError(DataSourceError):
    """The venue answered, but with nothing usable for the request."""


class BadResponseError(DataSourceError):
    """The venue answered with something that is not what its API documents (malformed body)."""


# Most specific first: ccxt's classes nest (RateLimitExceeded is a NetworkError, BadSymbol a BadRequest).
_MAPPING: tuple[tuple[type[BaseException] | tuple[type[BaseException], ...], type[DataSourceError]], ...] = (
    ((ccxt.RateLimitExceeded, ccxt.DDoSProtection), RateLimitedError),
    (ccxt.NetworkError, TemporaryError),  # timeouts, connection errors, 5xx, maintenance
    (ccxt.NotSupported, UnsupportedError),
    (ccxt.NullResponse, EmptyResultError),
    (ccxt.BadResponse, BadResponseError),
    (ccxt.OperationFailed, TemporaryError),  # e.g. Binance 503 {"code": -1001}: server trouble, retry
    ((ccxt.BadSymbol, ccxt.BadRequest, ccxt.ArgumentsRequired, ccxt.InvalidProxySettings), InvalidQueryError),
    (ccxt.ExchangeError, DataSourceError),
    # ccxt's parsers choke on a malformed body with these before any ccxt error is raised
    ((ValueError, KeyError, TypeError, IndexError), BadResponseError),
    (ccxt.BaseError, DataSourceError),
    ((OSError, TimeoutError), TemporaryError),
)


def translate(exc: BaseException, *, venue: str | None = None) -> DataSourceError:
    """Map a ccxt (or requests/JSON) exception onto the project hierarchy.

    The order matters: ccxt's classes nest (``RateLimitExceeded`` is a ``NetworkError``,
    ``BadSymbol`` a ``BadRequest``), so the most specific checks come first.
    """
    if isinstance(exc, DataSourceError):
        return exc
    message = f"{type(exc).__name__}: {exc}".strip()
    root = _root_cause(exc)
    if root is not None:
        message = f"{message} ({root})"
    if len(message) > 400:
        message = message[:400] + "..."
    for classes, target in _MAPPING:
        if isinstance(exc, classes):
            return target(message, venue=venue)
    return DataSourceError(message, venue=venue)


_PLAIN: tuple[tuple[type[DataSourceError], tuple[tuple[str, str], ...], str | None], ...] = (
    # (class, (needle in the message -> lead), default lead); first class that matches wins
    (EmptyResultError, (), "no data"),
    (RateLimitedError, (("418", "blocked by the exchange (IP ban, HTTP 418)"),
                        ("banned", "blocked by the exchange (IP ban)"),
                        ("403", "blocked by the exchange (HTTP 403)")), "rate limited (HTTP 429)"),
    (TemporaryError, (("timed out", "timed out"), ("connection refused", "connection refused"),
                      ("cannot resolve", "exchange host not found (no network or DNS)"),
                      ("403", "blocked by the exchange (HTTP 403)"),
                      (" 50", "exchange server error (HTTP 5xx)"), ("maintenance", "exchange under maintenance")),
     "exchange temporarily unavailable"),
    (BadResponseError, (), "malformed answer"),
    (UnsupportedError, (), "not offered by the exchange"),
)


def plain_reason(e: DataSourceError) -> str | None:
    """A short plain-words lead for ``e`` ("timed out", "rate limited (HTTP 429)", ...), or None."""
    text = str(e).lower()
    for cls, needles, default in _PLAIN:
        if isinstance(e, cls):
            return next((lead for needle, lead in needles if needle in text), default)
    return None


_ROOT_HINTS: tuple[tuple[str, str], ...] = (
    ("Failed to resolve", "cannot resolve the exchange's host name: no network or DNS"),
    ("Name or service not known", "cannot resolve the exchange's host name: no network or DNS"),
    ("Connection refused", "connection refused"),
    ("timed out", "timed out"),
)


def _root_cause(exc: BaseException) -> str | None:
    """A short reason from the exception chain (ccxt's NetworkError text omits it)."""
    seen: set[int] = set()
    cause = exc.__cause__ or exc.__context__
    texts: list[str] = []
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        texts.append(str(cause))
        cause = cause.__cause__ or cause.__context__
    for text in texts:
        for needle, hint in _ROOT_HINTS:
            if needle.lower() in text.lower():
                return hint
    return None
