"""Where a webhook may be sent: the SSRF rules, checked at create/update and again at each delivery.

A receiver's host is resolved and every address it resolves to must be a public
one: loopback, link-local, private, shared (CGNAT), multicast, reserved and
unspecified ranges are refused, in IPv4 and IPv6, IPv4-mapped and 6to4/NAT64
forms included, unless an operator allows a network (WEBHOOK_ALLOW_NETWORKS,
WEBHOOK_ALLOW_LOOPBACK). The delivery then connects to the address that was
checked (never resolving again), so a DNS answer that changes in between
(rebinding) cannot move it. https is required unless WEBHOOK_ALLOW_HTTP.

    >>> policy = Policy()
    >>> policy.refusal(ipaddress.ip_address("10.1.2.3"))
    'a private address'
    >>> policy.refusal(ipaddress.ip_address("::ffff:127.0.0.1"))
    'a loopback address'
    >>> Policy(allow_loopback=True).refusal(ipaddress.ip_address("127.0.0.1")) is None
    True
"""
from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from onestop.errors import InvalidInput

_KINDS = (("is_loopback", "a loopback"), ("is_link_local", "a link-local"), ("is_multicast", "a multicast"),
          ("is_unspecified", "an unspecified"), ("is_reserved", "a reserved"), ("is_private", "a private"))
NAT64 = ipaddress.ip_network("64:ff9b::/96")
LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))


class TargetRefused(InvalidInput):
    """The URL may not be delivered to: the field, and why."""

    def __init__(self, reason: str, field: str = "url"):
        super().__init__([{"field": field, "reason": reason}], "The webhook URL was not accepted.")
        self.reason = reason


@dataclass(frozen=True)
class Target:
    """A checked destination: connect to `address`, present `host` (Host header, TLS SNI)."""

    scheme: str
    host: str
    port: int
    path: str  # with the query
    address: str


@dataclass(frozen=True)
class Policy:
    allow_networks: tuple = ()
    allow_loopback: bool = False
    allow_http: bool = False

    @classmethod
    def from_settings(cls, settings) -> "Policy":
        return cls(tuple(ipaddress.ip_network(n, strict=False) for n in settings.webhook_allow_networks),
                   settings.webhook_allow_loopback, settings.webhook_allow_http)

    def allowed(self, address) -> bool:
        nets = self.allow_networks + (LOOPBACK if self.allow_loopback else ())
        return any(address.version == net.version and address in net for net in nets)

    def refusal(self, address) -> str | None:
        """None if the address may be delivered to, else what kind of address it is."""
        for candidate in _forms(address):
            if self.allowed(candidate):
                return None
            for attribute, kind in _KINDS:
                if getattr(candidate, attribute):
                    return f"{kind} address"
            if not candidate.is_global:
                return "an address that is not public"
        return None

    def check_url(self, url: str) -> tuple:
        """(scheme, host, port, path) of a URL that may be used, else TargetRefused."""
        try:
            parts = urlsplit(url)
            host = parts.hostname
        except ValueError as exc:  # "Invalid IPv6 URL", a bad port, ...
            raise TargetRefused(f"is not a URL ({exc})") from None
        allowed = ("https", "http") if self.allow_http else ("https",)
        if parts.scheme not in allowed:
            raise TargetRefused(f"must be {' or '.join(allowed)}:// (got {parts.scheme or 'no scheme'})")
        if not host:
            raise TargetRefused("has no host")
        if parts.username or parts.password:
            raise TargetRefused("may not carry a user or password; the signature authenticates OneStop")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise TargetRefused("has an invalid port") from None
        return parts.scheme, host, port, (parts.path or "/") + (f"?{parts.query}" if parts.query else "")

    def resolve(self, url: str, resolver=socket.getaddrinfo) -> Target:
        """The checked destination of `url`: every address its host resolves to must be allowed."""
        scheme, host, port, path = self.check_url(url)
        try:
            infos = resolver(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError, ValueError) as exc:  # unknown host, a label too long, a NUL
            raise TargetRefused(f"host {host} does not resolve ({exc})") from None
        addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos))
        if not addresses:
            raise TargetRefused(f"host {host} does not resolve")
        for address in addresses:
            reason = self.refusal(address)
            if reason:
                raise TargetRefused(f"host {host} resolves to {address}, {reason}; refused (SSRF rules, "
                                    "docs/webhooks.md)")
        return Target(scheme, host, port, path, str(addresses[0]))


def _forms(address) -> list:
    """What to judge: the IPv4 address an IPv6 one carries (mapped, 6to4, NAT64's well-known
    prefix), which is where a connection really goes, else the address itself."""
    if address.version == 6:
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in NAT64:
            embedded = ipaddress.ip_address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return [embedded]
    return [address]
