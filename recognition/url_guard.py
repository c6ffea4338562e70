"""Which links the server may fetch: the guard against server-side request forgery.

A public page that downloads whatever link it is given can be pointed at the
machine it runs on (127.0.0.1), the private network around it, or the cloud
metadata service at 169.254.169.254. So only http and https links to public
addresses are fetched. Every address a host name resolves to must be public,
and `download` checks again on every request yt-dlp makes and on every redirect.
Those checks resolve the name themselves, and a name can resolve to a public
address for the check and a private one a moment later (DNS rebinding), so
`guarded_connections` also checks the address each socket actually connects to.

`ACTION_LENS_ALLOW_LOCAL_URLS` opts in to local addresses: `1` for all of them,
or a comma-separated list of addresses (the tests name 127.0.0.1, where they serve clips).
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import ipaddress
import os
import socket
import sys
import threading
import urllib.parse
from collections.abc import Iterator

ALLOW_LOCAL_ENV = "ACTION_LENS_ALLOW_LOCAL_URLS"

NOT_A_LINK = "That is not a web link: paste a full address starting with http:// or https://."


@dataclasses.dataclass(frozen=True)
class LocalAccess:
    """Which non-public addresses may be fetched: none (the default), the ones listed, or all."""

    everything: bool = False
    addresses: frozenset[str] = frozenset()

    @classmethod
    def from_env(cls) -> "LocalAccess":
        setting = os.environ.get(ALLOW_LOCAL_ENV, "").strip()
        if setting.lower() in ("1", "true", "yes", "all"):
            return cls(everything=True)
        listed = (item.strip() for item in setting.split(","))
        return cls(addresses=frozenset(str(ipaddress.ip_address(item)) for item in listed if item))

    def permits(self, address: str) -> bool:
        return self.everything or address in self.addresses


def address_problem(address: str) -> str | None:
    """What kind of non-public address `address` is ("a loopback address", ...), or None when it is public."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    kinds = (
        (ip.is_loopback, "a loopback address"),
        (ip.is_link_local, "a link-local address"),
        (ip.is_multicast, "a multicast address"),
        (ip.is_unspecified, "an unspecified address"),
        (ip.is_private, "a private network address"),
        (ip.is_reserved, "a reserved address"),
        (not ip.is_global, "a non-public address"),
    )
    return next((kind for is_kind, kind in kinds if is_kind), None)


def resolve(host: str) -> list[str]:
    """Every address `host` resolves to; empty when it does not resolve (the download then fails as a network error)."""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        return []
    return sorted({str(info[4][0]) for info in infos})


def url_problem(url: str, local: LocalAccess = LocalAccess()) -> str | None:
    """Why the server must not fetch `url`, as a sentence for the user, or None when it may."""
    try:
        parts = urllib.parse.urlsplit(url.strip())
        host = parts.hostname
    except ValueError:
        return NOT_A_LINK
    if parts.scheme.lower() not in ("http", "https") or not host:
        return NOT_A_LINK
    for address in resolve(host):
        if problem := _forbidden(address, local, "points at"):
            return problem
    return None


def _forbidden(address: str, local: LocalAccess, verb: str) -> str | None:
    """Why `address` must not be fetched from, as a sentence for the user ("That link <verb> ..."), or None."""
    if local.permits(address) or not (kind := address_problem(address)):
        return None
    return (f"That link {verb} {kind} ({address}), which this server does not fetch: "
            "use a link to a public web site, or upload the file.")


class ConnectionForbidden(ConnectionRefusedError):
    """A socket connection that `guarded_connections` stopped; an OSError, so libraries treat it as one."""


_connection_rules: contextvars.ContextVar[LocalAccess | None] = contextvars.ContextVar(
    "action_lens_connection_rules", default=None)
_hook_lock = threading.Lock()
_hook_installed = False


def _check_connection(event: str, args: tuple) -> None:
    """An audit hook: refuse `socket.connect` to a forbidden address while `guarded_connections` is on."""
    if event != "socket.connect" or (local := _connection_rules.get()) is None:
        return
    sock, address = args
    if sock.family not in (socket.AF_INET, socket.AF_INET6):
        return
    if problem := _forbidden(str(address[0]), local, "led to"):
        raise ConnectionForbidden(problem)


@contextlib.contextmanager
def guarded_connections(local: LocalAccess = LocalAccess()) -> Iterator[None]:
    """In this thread, refuse every socket connection to an address that `local` does not permit.

    The check runs on the address being connected to, after every name lookup, so
    it holds whatever a name resolved to earlier. Python's audit hooks cannot be
    removed, so one hook is installed for the process and does nothing outside this block.
    """
    global _hook_installed
    with _hook_lock:
        if not _hook_installed:
            sys.addaudithook(_check_connection)
            _hook_installed = True
    token = _connection_rules.set(local)
    try:
        yield
    finally:
        _connection_rules.reset(token)
