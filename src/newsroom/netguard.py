"""Refuse URLs that point into private networks (SSRF guard).

Feed URLs come from configuration, but redirects and article links come from the feeds themselves: a hostile or
hijacked feed could make the poller fetch ``http://169.254.169.254/`` (cloud metadata) or an intranet admin page.
Every request and every redirect hop is therefore checked here first. Loopback is refused too, except where the
config allows private networks (tests and the offline demo serve feeds from 127.0.0.1).

The check resolves the host name itself; a host whose DNS answer changes between this check and the connection
(DNS rebinding) is outside what a pre-flight check can catch.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
import ssl
from collections.abc import Collection
from urllib.parse import urlsplit

ALLOWED_SCHEMES = ("http", "https")
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The one TLS context of this process's HTTP clients (httpx's default: certifi's CA bundle, or
    ``SSL_CERT_FILE``/``SSL_CERT_DIR``): each client would otherwise load the bundle again, about 0.1 s of CPU at
    start for each of the model's client and the article pages' (SSLContext is safe to share between clients)."""
    import httpx

    return httpx.create_ssl_context()


class BlockedURL(Exception):
    """The URL may not be fetched; the message says why and what setting would allow it."""


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (IPv4-mapped, 6to4, Teredo client, NAT64), if any."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in ipaddress.IPv6Network("64:ff9b::/96"):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def blocked_reason(ip: IPAddress) -> str | None:
    """Why an address is not public (``None`` when it is)."""
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_ipv4(ip)
        if inner is not None:
            reason = blocked_reason(inner)
            return f"{reason} (embedded in {ip})" if reason else None
    checks = (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("private", ip.is_private),
        ("reserved", ip.is_reserved),
    )
    for name, hit in checks:
        if hit:
            return f"{name} address {ip}"
    if not ip.is_global:
        return f"non-public address {ip}"
    return None


def parse_ip(host: str) -> IPAddress | None:
    """``host`` as an IP address when it is a literal (brackets and IPv6 zone ids allowed), else None."""
    h = host.strip("[]").split("%", 1)[0]
    try:
        return ipaddress.ip_address(h)
    except ValueError:
        return None


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address the host resolves to. Raises BlockedURL when it does not resolve."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise BlockedURL(f"cannot resolve host {host!r}: {exc}") from None
    out: list[IPAddress] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        ip = parse_ip(str(sockaddr[0]))
        if ip is not None:
            out.append(ip)
    if not out:
        raise BlockedURL(f"host {host!r} resolved to no usable address")
    return out


def check_url(url: str, *, allow_private: bool, allow_hosts: Collection[str] = ()) -> None:
    """Raise BlockedURL unless ``url`` is http(s) and every address of its host is public (or private is allowed).

    ``allow_hosts`` names hosts exempt from the address check, exactly as written in the URL (``127.0.0.1`` for a
    test server): a *name* that resolves to the same address is still refused."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise BlockedURL(f"not a valid URL {url!r}: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        raise BlockedURL(f"only http and https URLs are fetched, not {scheme or 'a relative URL'}: {url!r}")
    host = parts.hostname
    if not host:
        raise BlockedURL(f"URL has no host: {url!r}")
    if allow_private or host.lower() in {h.lower().strip("[]") for h in allow_hosts}:
        return
    literal = parse_ip(host)
    addresses = [literal] if literal is not None else resolve(host, port or (443 if scheme == "https" else 80))
    for ip in addresses:
        reason = blocked_reason(ip)
        if reason:
            raise BlockedURL(
                f"refusing {url}: {reason} is not public; set fetch.allow_private_networks = true to allow"
                " private and loopback addresses"
            )
