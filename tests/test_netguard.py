"""check_url: private, loopback and otherwise non-public addresses are refused unless allowed.

Only IP literals and names that resolve without a network (localhost, numeric forms) are used, so these tests never
leave the machine.
"""

from __future__ import annotations

import ipaddress

import pytest

from newsroom.netguard import BlockedURL, blocked_reason, check_url

BLOCKED = [
    "http://127.0.0.1/feed",
    "http://127.1.2.3/",
    "http://localhost:8080/feed",
    "http://10.1.2.3/",
    "http://172.16.0.1/",
    "http://192.168.1.1/",
    "http://169.254.169.254/latest/meta-data/",  # cloud metadata
    "http://100.64.0.1/",  # carrier-grade NAT
    "http://0.0.0.0/",
    "http://224.0.0.1/",
    "http://255.255.255.255/",
    "http://2130706433/",  # 127.0.0.1 as one number
    "http://0x7f.0.0.1/",  # hex
    "http://017700000001/",  # octal
    "http://[::1]/",
    "http://[::]/",
    "http://[fe80::1]/",
    "http://[fe80::1%25eth0]/",
    "http://[fc00::1]/",
    "http://[fd12:3456::1]/",
    "http://[ff02::1]/",
    "http://[::ffff:127.0.0.1]/",  # IPv4-mapped loopback
    "http://[::ffff:10.0.0.1]/",  # IPv4-mapped private
    "http://[::ffff:a9fe:a9fe]/",  # IPv4-mapped metadata address, hex spelling
    "http://[2002:7f00:1::]/",  # 6to4 wrapping 127.0.0.1
    "http://[64:ff9b::a00:1]/",  # NAT64 wrapping 10.0.0.1
    "https://[::127.0.0.1]:443/",
]

PUBLIC = [
    "http://93.184.216.34/",
    "https://1.1.1.1/dns-query",
    "https://[2606:4700:4700::1111]/",
    "http://[::ffff:8.8.8.8]/",  # IPv4-mapped public
]


@pytest.mark.parametrize("url", BLOCKED)
def test_non_public_addresses_are_refused(url: str) -> None:
    with pytest.raises(BlockedURL) as info:
        check_url(url, allow_private=False)
    assert "allow_private_networks" in str(info.value)  # the message says how to allow it


@pytest.mark.parametrize("url", BLOCKED)
def test_allowed_when_private_networks_are_allowed(url: str) -> None:
    check_url(url, allow_private=True)


@pytest.mark.parametrize("url", PUBLIC)
def test_public_literals_pass(url: str) -> None:
    check_url(url, allow_private=False)


@pytest.mark.parametrize(
    "url", ["ftp://93.184.216.34/", "file:///etc/passwd", "javascript:alert(1)", "gopher://x/", "/relative", ""]
)
@pytest.mark.parametrize("allow", [True, False])
def test_only_http_and_https(url: str, allow: bool) -> None:
    with pytest.raises(BlockedURL, match="only http and https"):
        check_url(url, allow_private=allow)


@pytest.mark.parametrize("url", ["http:///path", "http://93.184.216.34:99999/", "http://[::1/"])
def test_malformed_urls_are_refused(url: str) -> None:
    with pytest.raises(BlockedURL):
        check_url(url, allow_private=False)


def test_unresolvable_host_is_refused_with_reason() -> None:
    with pytest.raises(BlockedURL, match="cannot resolve"):
        check_url("http://no-such-host.invalid/feed", allow_private=False)


def test_embedded_ipv4_reason_names_both() -> None:
    reason = blocked_reason(ipaddress.ip_address("::ffff:192.168.0.1"))
    assert reason is not None and "192.168.0.1" in reason and "embedded" in reason
    assert blocked_reason(ipaddress.ip_address("8.8.8.8")) is None
