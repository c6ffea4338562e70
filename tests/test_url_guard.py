"""The address rules of the SSRF guard, and the socket-level check (against a listening socket on 127.0.0.1)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from recognition.url_guard import (
    ALLOW_LOCAL_ENV,
    NOT_A_LINK,
    ConnectionForbidden,
    LocalAccess,
    address_problem,
    guarded_connections,
    url_problem,
)


@pytest.mark.parametrize("address, kind", [
    ("127.0.0.1", "a loopback address"),
    ("127.255.0.9", "a loopback address"),
    ("::1", "a loopback address"),
    ("::ffff:127.0.0.1", "a loopback address"),
    ("169.254.169.254", "a link-local address"),
    ("fe80::1", "a link-local address"),
    ("224.0.0.251", "a multicast address"),
    ("ff02::1", "a multicast address"),
    ("0.0.0.0", "an unspecified address"),
    ("::", "an unspecified address"),
    ("10.1.2.3", "a private network address"),
    ("172.16.0.1", "a private network address"),
    ("192.168.1.10", "a private network address"),
    ("fd12:3456::1", "a private network address"),
    ("::ffff:10.0.0.1", "a private network address"),
    ("240.0.0.1", "a private network address"),
    ("100.64.0.1", "a non-public address"),
])
def test_non_public_addresses_are_named(address: str, kind: str):
    assert address_problem(address) == kind


@pytest.mark.parametrize("address", ["8.8.8.8", "93.184.216.34", "2606:4700:4700::1111", "::ffff:1.1.1.1"])
def test_public_addresses_pass(address: str):
    assert address_problem(address) is None


@pytest.mark.parametrize("url", ["file:///etc/passwd", "data:video/mp4;base64,AAAA", "ftp://example.com/a.mp4",
                                 "gopher://127.0.0.1:70/", "javascript:alert(1)", "example.com/video.mp4",
                                 "http://", "http://[::1", ""])
def test_only_http_and_https_links_with_a_host_pass(url: str):
    assert url_problem(url) == NOT_A_LINK


@pytest.mark.parametrize("url", ["http://127.0.0.1:7860/", "https://[::1]/a.mp4", "http://169.254.169.254/latest/",
                                 "http://10.0.0.7/clip.mp4", "http://0x7f000001/", "http://2130706433/"])
def test_literal_local_addresses_are_refused(url: str):
    assert url_problem(url).startswith("That link points at")


def test_the_opt_in_names_addresses_or_all(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(ALLOW_LOCAL_ENV, "127.0.0.1, ::1")
    only_loopback = LocalAccess.from_env()
    assert url_problem("http://127.0.0.1:9/", only_loopback) is None
    assert url_problem("http://10.0.0.7/", only_loopback).startswith("That link points at a private network")
    monkeypatch.setenv(ALLOW_LOCAL_ENV, "1")
    assert url_problem("http://10.0.0.7/", LocalAccess.from_env()) is None
    monkeypatch.delenv(ALLOW_LOCAL_ENV)
    assert LocalAccess.from_env() == LocalAccess()


@pytest.fixture
def listening_port() -> Iterator[int]:
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield server.getsockname()[1]


def _connect(port: int) -> None:
    socket.create_connection(("127.0.0.1", port), timeout=5).close()


def test_guarded_connections_refuse_forbidden_addresses_at_the_socket(listening_port: int):
    with guarded_connections(LocalAccess()):
        with pytest.raises(ConnectionForbidden, match=r"led to a loopback address \(127.0.0.1\)"):
            _connect(listening_port)
        with guarded_connections(LocalAccess(addresses=frozenset({"127.0.0.1"}))):
            _connect(listening_port)
    _connect(listening_port)


def test_the_socket_check_holds_only_in_the_guarded_thread(listening_port: int):
    """The app serves other requests (and its own page) while a download runs."""
    outcome: list[str] = []

    def elsewhere() -> None:
        _connect(listening_port)
        outcome.append("connected")

    with guarded_connections(LocalAccess()):
        thread = threading.Thread(target=elsewhere)
        thread.start()
        thread.join(10)
    assert outcome == ["connected"]
