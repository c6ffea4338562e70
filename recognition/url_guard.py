"""Which links the server may fetch: the guard against server-side request forgery.

A public page that downloads whatever link it is given can be pointed at the
machine it runs on (127.0.0.1), the private network around it, or the cloud
metadata service at 169.254.169.254. So only http and https links to public
addresses are fetched. Every address a host name resolves to must be public,
and `download` checks again on every request yt-dlp makes and on every redirect.

`ACTION_LENS_ALLOW_LOCAL_URLS` opts in to local addresses: `1` for all of them,
or a comma-separated list of addresses (the tests name 127.0.0.1, where they serve clips).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import socket
import urllib.parse

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
        if not local.permits(address) and (kind := address_problem(address)):
            return (f"That link points at {kind} ({address}), which this server does not fetch: "
                    "use a link to a public web site, or upload the file.")
    return None
