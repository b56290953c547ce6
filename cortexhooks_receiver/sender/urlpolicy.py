"""Which webhook URLs a sender may POST to: HTTPS to public hosts, plain HTTP only to loopback.

A webhook URL is chosen by a customer, so a sender that follows it blindly can be turned against
its own network (server-side request forgery). :class:`URLPolicy` refuses, before every attempt:

* a scheme other than ``https``, except ``http`` to a loopback host (the guide's localhost testing);
* addresses that are private (10/8, 172.16/12, 192.168/16, fc00::/7), link-local (169.254/16,
  fe80::/10), carrier-grade NAT (100.64/10), cloud metadata (169.254.169.254, fd00:ec2::254,
  ``metadata.google.internal``), unspecified (0.0.0.0, ::), multicast, reserved or otherwise not
  globally routable, including their IPv4-mapped, IPv4-compatible, NAT64, 6to4 and Teredo forms;
* odd spellings of IPv4 addresses that ``inet_aton`` and browsers accept (``0x7f000001``,
  ``2130706433``, ``0177.0.0.1``, ``127.1``) and IPv4 written inside IPv6 (``[::ffff:127.0.0.1]``):
  a legitimate webhook URL never needs them;
* host names that resolve to any refused address (all resolved addresses are checked, through an
  injectable resolver). Loopback is accepted only when the URL says so: ``localhost``,
  ``*.localhost``, ``127.x.y.z`` or ``[::1]``; a public name resolving to loopback is refused.

``allow_private=True`` accepts private, link-local and CGNAT addresses (never cloud metadata);
``allow_hosts`` names hosts (or literal addresses) accepted as they are, plain HTTP included.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Iterable, Sequence
from typing import Final
from urllib.parse import urlsplit

import msgspec

from .errors import UnsafeURLError

__all__ = [
    "Resolver",
    "Target",
    "URLPolicy",
    "UnsafeURLError",
    "parse_ipv4_like_browser",
    "system_resolver",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Sequence[str]]
"""``resolver(host, port) -> addresses``: every address the name resolves to, as text."""

_METADATA_NAMES: Final = frozenset({"metadata.google.internal", "metadata.goog", "metadata"})
_METADATA_ADDRESSES: Final = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)
_CGNAT: Final = ipaddress.ip_network("100.64.0.0/10")
_NAT64: Final = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_LABEL: Final = re.compile(r"^(0[xX][0-9a-fA-F]*|[0-9]+)$")


class Target(msgspec.Struct, frozen=True):
    """A URL the policy accepted: where to connect (``addresses``) and what to send as Host."""

    url: str
    scheme: str
    host: str
    port: int
    addresses: tuple[str, ...]


def system_resolver(host: str, port: int) -> list[str]:
    """Resolve ``host`` with :func:`socket.getaddrinfo`; return each distinct address once.

    Raises:
        OSError: the name does not resolve.
    """
    seen: list[str] = []
    for _family, _type, _proto, _canon, sockaddr in socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM
    ):
        address = str(sockaddr[0])
        if address not in seen:
            seen.append(address)
    return seen


def parse_ipv4_like_browser(host: str) -> ipaddress.IPv4Address | None:
    """Parse ``host`` as the WHATWG URL standard (and ``inet_aton``) parse IPv4 hosts.

    Accepts 1-4 dot-separated parts in decimal, octal (leading ``0``) or hex (``0x``), the last
    part filling the remaining bytes (``127.1`` is 127.0.0.1). Returns ``None`` when ``host`` is
    not numeric (a name).

    Raises:
        UnsafeURLError: the host is numeric but not a valid address (e.g. a part overflows).
    """
    parts = host.split(".")
    if parts and parts[-1] == "":
        parts.pop()  # one trailing dot is allowed
    if not parts or not all(_LABEL.match(p) for p in parts):
        if parts and _LABEL.match(parts[-1]):
            # WHATWG: a host whose last label is numeric is an IPv4 address or invalid.
            raise UnsafeURLError(f"{host!r} is not a valid IPv4 address", reason="invalid_host")
        return None
    numbers: list[int] = []
    for part in parts:
        if part[:2] in ("0x", "0X"):
            numbers.append(int(part[2:] or "0", 16))
        elif len(part) > 1 and part.startswith("0"):
            if not all(c in "01234567" for c in part):
                raise UnsafeURLError(f"{host!r} is not a valid IPv4 address", reason="invalid_host")
            numbers.append(int(part, 8))
        else:
            numbers.append(int(part))
    if len(numbers) > 4 or any(n > 255 for n in numbers[:-1]):
        raise UnsafeURLError(f"{host!r} is not a valid IPv4 address", reason="invalid_host")
    last_bits = 8 * (5 - len(numbers))
    if numbers[-1] >= 2**last_bits:
        raise UnsafeURLError(f"{host!r} is not a valid IPv4 address", reason="invalid_host")
    value = numbers[-1]
    for position, number in enumerate(numbers[:-1]):
        value += number << (8 * (3 - position))
    return ipaddress.IPv4Address(value)


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    packed = int(address)
    if any(address in net for net in _NAT64):
        return ipaddress.IPv4Address(packed & 0xFFFFFFFF)
    if packed >> 32 == 0 and packed > 1:  # IPv4-compatible ::a.b.c.d (deprecated)
        return ipaddress.IPv4Address(packed)
    return None


def _category(address: IPAddress) -> str | None:
    """Return why ``address`` is refused as a destination, or ``None`` for a public address."""
    if address in _METADATA_ADDRESSES:
        return "cloud metadata"
    if address.is_unspecified:
        return "unspecified"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if isinstance(address, ipaddress.IPv6Address) and address.is_site_local:
        return "site-local"  # fec0::/10: deprecated (RFC 3879), never a public host
    if address.is_multicast:
        return "multicast"
    if isinstance(address, ipaddress.IPv4Address) and address in _CGNAT:
        return "carrier-grade NAT"
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            inner = _category(embedded)
            return f"{inner} (embedded in IPv6)" if inner else None
        if address in _NAT64[1]:
            return "private"
    if address.is_private:
        if isinstance(address, ipaddress.IPv4Address) and address.is_reserved:
            return "reserved"
        return "private"
    if address.is_reserved or not address.is_global:
        return "reserved"
    return None


_PRIVATE_LIKE: Final = frozenset({"private", "link-local", "carrier-grade NAT"})


class URLPolicy:
    """Decides whether a webhook URL may be called; :meth:`check` runs before every attempt.

    Args:
        allow_loopback: accept loopback hosts (``localhost``, ``*.localhost``, ``127.x.y.z``,
            ``[::1]``), plain HTTP included: local development. Off by default, because any local
            service (Redis on 6379, an admin port) is reachable there.
        allow_private: accept private, link-local and carrier-grade NAT addresses (an internal
            deployment). Cloud metadata, unspecified and multicast stay refused.
        allow_hosts: host names or literal addresses accepted without any address check, over
            plain HTTP too (case-insensitive, exact).
        resolver: ``resolver(host, port) -> [address, ...]``; default :func:`system_resolver`.
    """

    def __init__(
        self,
        *,
        allow_loopback: bool = False,
        allow_private: bool = False,
        allow_hosts: Iterable[str] = (),
        resolver: Resolver | None = None,
    ) -> None:
        self.allow_loopback = allow_loopback
        self.allow_private = allow_private
        self.allow_hosts = frozenset(h.lower().strip("[]").rstrip(".") for h in allow_hosts)
        self.resolver: Resolver = resolver if resolver is not None else system_resolver

    def __repr__(self) -> str:
        return (
            f"URLPolicy(allow_loopback={self.allow_loopback!r}, "
            f"allow_private={self.allow_private!r}, allow_hosts={sorted(self.allow_hosts)!r})"
        )

    def check(self, url: str) -> Target:
        """Return the :class:`Target` for ``url`` (with the vetted addresses to connect to).

        Raises:
            UnsafeURLError: the URL is malformed or its scheme, host or any resolved address is
                refused; ``reason`` is one of ``invalid_url``, ``insecure_scheme``,
                ``invalid_host``, ``odd_address_spelling``, ``blocked_address``,
                ``resolution_failed``.
        """
        scheme, host, port, literal = self._parse(url)
        addresses: tuple[str, ...]
        if host in self.allow_hosts:
            addresses = (str(literal),) if literal is not None else self._resolve(host, port)
            return Target(url=url, scheme=scheme, host=host, port=port, addresses=addresses)
        if host in _METADATA_NAMES:
            raise UnsafeURLError(f"{host} is a cloud metadata endpoint", reason="blocked_address")
        loopback_name = host == "localhost" or host.endswith(".localhost")
        if not self.allow_loopback and (
            loopback_name or (literal is not None and _category(literal) == "loopback")
        ):
            raise UnsafeURLError(
                f"{host} is a loopback host, refused unless the policy allows loopback "
                "(allow_loopback=True, or --allow-loopback on the command line)",
                reason="blocked_address",
            )
        if scheme != "https" and not loopback_name and (literal is None or not literal.is_loopback):
            # Refused before any DNS lookup: plain HTTP can only go to loopback.
            raise UnsafeURLError(
                f"{scheme}:// is only allowed to loopback hosts; use https:// for {host}",
                reason="insecure_scheme",
            )
        if literal is not None:
            addresses = (str(literal),)
            loopback_ok = literal.is_loopback
            self._check_address(host, literal, loopback_ok=loopback_ok)
        else:
            addresses = self._resolve(host, port)
            loopback_ok = loopback_name
            for text in addresses:
                address = ipaddress.ip_address(text.split("%", 1)[0])
                if loopback_name and not address.is_loopback:
                    raise UnsafeURLError(
                        f"{host} resolves to {address}, which is not loopback",
                        reason="blocked_address",
                    )
                self._check_address(host, address, loopback_ok=loopback_ok)
        if scheme != "https" and not loopback_ok:
            raise UnsafeURLError(
                f"{scheme}:// is only allowed to loopback hosts; use https:// for {host}",
                reason="insecure_scheme",
            )
        return Target(url=url, scheme=scheme, host=host, port=port, addresses=addresses)

    def _parse(self, url: str) -> tuple[str, str, int, IPAddress | None]:
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise UnsafeURLError(f"invalid URL: {exc}", reason="invalid_url") from None
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https"):
            raise UnsafeURLError(
                "webhook URLs must be https:// (or http:// to localhost)", reason="insecure_scheme"
            )
        raw_host = parts.hostname
        if not raw_host or any(c.isspace() for c in url):
            raise UnsafeURLError("the URL has no valid host", reason="invalid_url")
        host = raw_host.lower().rstrip(".") if raw_host != "." else ""
        if not host:
            raise UnsafeURLError("the URL has no valid host", reason="invalid_url")
        if port is None:
            port = 443 if scheme == "https" else 80
        literal = self._literal(host, bracketed="[" in (parts.netloc or ""))
        return scheme, host, port, literal

    def _literal(self, host: str, *, bracketed: bool) -> IPAddress | None:
        if bracketed or ":" in host:
            if "%" in host:
                raise UnsafeURLError(
                    f"[{host}] has a zone index; only global addresses are allowed",
                    reason="blocked_address",
                )
            try:
                v6 = ipaddress.IPv6Address(host)
            except ValueError:
                raise UnsafeURLError(
                    f"[{host}] is not an IPv6 address", reason="invalid_host"
                ) from None
            if host in self.allow_hosts:
                return v6
            if v6.ipv4_mapped is not None or "." in host:
                raise UnsafeURLError(
                    f"[{host}] writes an IPv4 address inside IPv6; write the address itself",
                    reason="odd_address_spelling",
                )
            return v6
        v4 = parse_ipv4_like_browser(host)
        if v4 is not None and str(v4) != host and host not in self.allow_hosts:
            raise UnsafeURLError(
                f"{host!r} is an unusual spelling of {v4}; write it as {v4}",
                reason="odd_address_spelling",
            )
        return v4

    def _resolve(self, host: str, port: int) -> tuple[str, ...]:
        try:
            addresses = tuple(self.resolver(host, port))
        except (OSError, UnicodeError) as exc:
            raise UnsafeURLError(
                f"{host} does not resolve ({exc.__class__.__name__})", reason="resolution_failed"
            ) from None
        if not addresses:
            raise UnsafeURLError(f"{host} does not resolve", reason="resolution_failed")
        for text in addresses:
            try:
                ipaddress.ip_address(text.split("%", 1)[0])
            except ValueError:
                raise UnsafeURLError(
                    f"{host} resolved to something that is not an IP address",
                    reason="resolution_failed",
                ) from None
        return addresses

    def _check_address(self, host: str, address: IPAddress, *, loopback_ok: bool) -> None:
        loopback_ok = loopback_ok and self.allow_loopback
        category = _category(address)
        if category is None or (category == "loopback" and loopback_ok):
            return
        if self.allow_private and category in _PRIVATE_LIKE:
            return
        shown = host if host == str(address) else f"{host} ({address})"
        raise UnsafeURLError(
            f"{shown} is a {category} address; webhooks are only sent to public hosts",
            reason="blocked_address",
        )
