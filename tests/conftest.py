"""Shared fixtures: no internet, a frozen simulated market, clean caches between tests."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator

import pytest

from data_sources.simulated.market import SimMarket

# A fixed "now" that is not on an hour boundary, so forming candles and partial funding intervals occur.
FROZEN_NOW_MS = 1_795_615_020_000  # 2026-11-25T13:57:00Z, a Wednesday


def _is_loopback(address: object) -> bool:
    host = address[0] if isinstance(address, tuple) else address
    if isinstance(host, str):
        if host == "localhost":
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False
    return True  # unix sockets and the like


@pytest.fixture(autouse=True)
def _no_internet(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any connection to a non-loopback address fails the test loudly."""
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def guarded_connect(self: socket.socket, address: object) -> object:
        if not _is_loopback(address):
            raise AssertionError(f"test tried to reach the internet: {address!r}")
        return real_connect(self, address)  # type: ignore[arg-type]

    def guarded_connect_ex(self: socket.socket, address: object) -> int:
        if not _is_loopback(address):
            raise AssertionError(f"test tried to reach the internet: {address!r}")
        return real_connect_ex(self, address)  # type: ignore[arg-type]

    def guarded_getaddrinfo(host: object, *args: object, **kwargs: object) -> object:
        if host not in (None, "localhost") and not _is_loopback((host,)):
            raise AssertionError(f"test tried to resolve an internet host: {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)  # type: ignore[arg-type]

    real_getaddrinfo = socket.getaddrinfo
    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", guarded_connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", guarded_getaddrinfo)


@pytest.fixture
def frozen_now_ms() -> int:
    return FROZEN_NOW_MS


@pytest.fixture
def market() -> SimMarket:
    """The normal-scenario market with a frozen clock."""
    return SimMarket(seed=7, scenario="normal", clock=lambda: FROZEN_NOW_MS)


@pytest.fixture
def market_factory() -> Iterator[object]:
    def make(scenario: str = "normal", seed: int = 7, now_ms: int = FROZEN_NOW_MS) -> SimMarket:
        return SimMarket(seed=seed, scenario=scenario, clock=lambda: now_ms)

    yield make


@pytest.fixture(autouse=True)
def _clear_caches() -> Iterator[None]:
    """Every test starts with empty caches (convention 13)."""
    yield
    from components.derived import cache as derived_cache
    from data_sources.cache import clear_all

    clear_all()
    derived_cache().clear()
