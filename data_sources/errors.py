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


def translate(exc: BaseException, *, venue: str | None = None) -> DataSourceError:
    """Map a ccxt (or requests/JSON) exception onto the project hierarchy.

    The order matters: ccxt's classes nest (``RateLimitExceeded`` is a ``NetworkError``,
    ``BadSymbol`` a ``BadRequest``), so the most specific checks come first.
    """
    if isinstance(exc, DataSourceError):
        return exc
    message = f"{type(exc).__name__}: {exc}".strip()
    if len(message) > 400:
        message = message[:400] + "..."
    if isinstance(exc, ccxt.RateLimitExceeded | ccxt.DDoSProtection):
        return RateLimitedError(message, venue=venue)
    if isinstance(exc, ccxt.NetworkError):  # timeouts, connection errors, 5xx, maintenance
        return TemporaryError(message, venue=venue)
    if isinstance(exc, ccxt.NotSupported):
        return UnsupportedError(message, venue=venue)
    if isinstance(exc, ccxt.NullResponse):
        return EmptyResultError(message, venue=venue)
    if isinstance(exc, ccxt.BadResponse):
        return BadResponseError(message, venue=venue)
    if isinstance(exc, ccxt.BadSymbol | ccxt.BadRequest | ccxt.ArgumentsRequired):
        return InvalidQueryError(message, venue=venue)
    if isinstance(exc, ccxt.InvalidProxySettings):
        return InvalidQueryError(message, venue=venue)
    if isinstance(exc, ccxt.ExchangeError):
        return DataSourceError(message, venue=venue)
    if isinstance(exc, ValueError | KeyError | TypeError | IndexError):
        # ccxt's parsers choke on a malformed body with these before any ccxt error is raised.
        return BadResponseError(message, venue=venue)
    if isinstance(exc, ccxt.BaseError):
        return DataSourceError(message, venue=venue)
    if isinstance(exc, OSError | TimeoutError):
        return TemporaryError(message, venue=venue)
    return DataSourceError(message, venue=venue)
