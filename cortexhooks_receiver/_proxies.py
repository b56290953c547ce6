"""``trusted_proxies``: when to believe ``X-Forwarded-For`` about who sent a request.

The client of a request is the peer address its adapter passes (``client=``). Behind a reverse
proxy that is the proxy's address, and the sender's is in ``X-Forwarded-For``, which anyone can
write. So it is believed only through proxies you name: with
``trusted_proxies=["10.0.0.0/8", "127.0.0.1"]``, a request whose peer lies in one of those
networks gets as its client the right-most ``X-Forwarded-For`` address that is not itself a
trusted proxy: each proxy appends the address it received the request from, so that is the
last hop a trusted proxy vouches for, and what a sender wrote further left is never used. An
entry that is not an address ends the walk: the client is then the nearest trusted hop. By
default no proxy is trusted and the header is ignored.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Final

from ._headers import Headers, header_values
from .errors import ConfigurationError

__all__ = ["TrustedProxies"]

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_MAX_HOPS: Final = 32  # a longer chain is not walked further: its far end is never trusted
_MAX_SEEN: Final = 4096  # addresses remembered with their verdict (parsing one is the cost)


def _address(text: str) -> _Address | None:
    """The IP address in ``text`` (``"[::1]:443"`` and ``"1.2.3.4:80"`` too), or ``None``."""
    text = text.strip()
    if text.startswith("["):
        text = text[1 : text.find("]")] if "]" in text else ""
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


class TrustedProxies:
    """The networks whose ``X-Forwarded-For`` is believed (see the module docs).

    Args:
        cidrs: networks or addresses, ``"10.0.0.0/8"``, ``"::1"``; a string may list several,
            separated by commas.

    Raises:
        ConfigurationError: an entry that is not an IP network, or no entry at all.
    """

    __slots__ = ("_seen", "networks")

    def __init__(self, cidrs: str | Iterable[str]) -> None:
        items = cidrs.split(",") if isinstance(cidrs, str) else list(cidrs)
        networks: list[_Network] = []
        for item in items:
            if not isinstance(item, str):
                raise ConfigurationError(f"trusted_proxies holds CIDR strings, not {item!r}.")
            if not item.strip():
                continue
            try:
                networks.append(ipaddress.ip_network(item.strip(), strict=False))
            except ValueError:
                raise ConfigurationError(
                    f"trusted_proxies: {item.strip()!r} is not an IP network such as "
                    "'10.0.0.0/8' or '127.0.0.1'."
                ) from None
        if not networks:
            raise ConfigurationError("trusted_proxies names no network.")
        self.networks: tuple[_Network, ...] = tuple(networks)
        # header text -> (the address, normalised; whether it is a trusted proxy), or None
        self._seen: dict[str, tuple[str, bool] | None] = {}

    def __repr__(self) -> str:
        return f"TrustedProxies({[str(n) for n in self.networks]!r})"

    def trusts(self, address: _Address) -> bool:
        """Return whether ``address`` is one of the trusted proxies. Never raises."""
        return any(address in network for network in self.networks)

    def client(self, peer: str | None, headers: Headers) -> str | None:
        """Return the client of a request from ``peer`` with these headers. Never raises."""
        if peer is None:
            return None
        found = self._classify(peer)
        if found is None or not found[1]:
            return peer
        forwarded = _forwarded_for(headers)
        if not forwarded:
            return peer
        hop = found[0]
        for entry in reversed(forwarded.split(",")[-_MAX_HOPS:]):
            found = self._classify(entry)
            if found is None:
                break
            hop = found[0]
            if not found[1]:
                break
        return hop

    def _classify(self, text: str) -> tuple[str, bool] | None:
        """The address in ``text`` and whether it is trusted, remembered; ``None``: no address."""
        seen = self._seen
        try:
            return seen[text]
        except KeyError:
            pass
        address = _address(text)
        found = None if address is None else (str(address), self.trusts(address))
        if len(seen) >= _MAX_SEEN:
            seen.clear()
        seen[text] = found
        return found


def _forwarded_for(headers: Headers) -> str | None:
    """The ``X-Forwarded-For`` header (several joined with ``", "``), or ``None``."""
    if type(headers) is dict:
        if "wsgi.version" in headers or "REQUEST_METHOD" in headers:  # an environ: CGI names
            value = headers.get("HTTP_X_FORWARDED_FOR")
            return value if type(value) is str else None
        # The usual spellings first: the general reader builds a view of every header.
        value = headers.get("X-Forwarded-For") or headers.get("x-forwarded-for")
        if type(value) is str:
            return value
    (value,) = header_values(headers, ("x-forwarded-for",))
    return value
