"""The sender's URL policy: HTTPS to public hosts; loopback (plain HTTP too) only when allowed.

Every resolver here is injected: these tests never touch DNS or the network.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from cortexhooks_receiver.sender.urlpolicy import UnsafeURLError, URLPolicy, parse_ipv4_like_browser

PUBLIC = "93.184.216.34"


def resolver_of(table: dict[str, list[str]], **options: bool) -> URLPolicy:
    def resolve(host: str, port: int) -> Sequence[str]:
        if host not in table:
            raise OSError("name not known")
        return table[host]

    return URLPolicy(resolver=resolve, **options)


TABLE: dict[str, list[str]] = {}


@pytest.fixture
def policy() -> URLPolicy:
    return resolver_of(TABLE)


@pytest.fixture
def local_policy() -> URLPolicy:
    """The policy of local development: loopback allowed, everything else as strict."""
    return resolver_of(TABLE, allow_loopback=True)


TABLE.update(
    {
        "hooks.example.com": [PUBLIC, "2606:2800:220:1:248:1893:25c8:1946"],
        "localhost": ["127.0.0.1", "::1"],
        "app.localhost": ["127.0.0.1"],
        "rebind.example.com": [PUBLIC, "10.0.0.7"],
        "evil-loopback.example.com": ["127.0.0.1"],
        "metadata.example.com": ["169.254.169.254"],
        "v6private.example.com": ["fd12:3456::1"],
        "weird.localhost": ["10.1.1.1"],
    }
)


PUBLIC_URLS = [
    "https://hooks.example.com/webhooks/cortexbuild",
    "https://93.184.216.34:8443/x",
    "HTTPS://HOOKS.EXAMPLE.COM./x",
]
LOOPBACK_URLS = [
    "http://localhost:3000/webhooks/cortexbuild",
    "http://app.localhost/hook",
    "http://127.0.0.1:8000/hook",
    "http://127.0.0.1:6379/",  # Redis: why loopback needs the switch
    "http://127.0.0.2/hook",
    "http://[::1]:9000/hook",
    "https://localhost/hook",
]


@pytest.mark.parametrize("url", PUBLIC_URLS)
def test_public_https_urls_are_accepted(policy: URLPolicy, url: str) -> None:
    target = policy.check(url)
    assert target.addresses


@pytest.mark.parametrize("url", LOOPBACK_URLS)
def test_loopback_is_refused_unless_the_policy_allows_it(
    policy: URLPolicy, local_policy: URLPolicy, url: str
) -> None:
    with pytest.raises(UnsafeURLError) as info:
        policy.check(url)
    assert info.value.reason == "blocked_address"
    assert "allow_loopback=True" in info.value.message
    assert "--allow-loopback" in info.value.message
    assert local_policy.check(url).addresses


@pytest.mark.parametrize("url", ["https://[fec0::1]/x", "https://[fefe:1::2]/x"])
def test_site_local_ipv6_is_refused_even_when_private_addresses_are_allowed(url: str) -> None:
    for policy in (resolver_of({}), resolver_of({}, allow_private=True, allow_loopback=True)):
        with pytest.raises(UnsafeURLError, match="site-local") as info:
            policy.check(url)
        assert info.value.reason == "blocked_address"


def test_a_sender_over_real_http_refuses_loopback_by_default() -> None:
    from cortexhooks_receiver.sender import Sender, WSGIAppTransport

    assert not Sender().policy.allow_loopback
    in_process = Sender(transport=WSGIAppTransport(lambda environ, start_response: []))
    assert in_process.policy.allow_loopback  # an app in this process: nothing is dialed


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://hooks.example.com/x", "insecure_scheme"),
        ("ftp://hooks.example.com/x", "insecure_scheme"),
        ("https://10.0.0.1/x", "blocked_address"),
        ("https://172.16.5.4/x", "blocked_address"),
        ("https://172.31.255.255/x", "blocked_address"),
        ("https://192.168.1.1/x", "blocked_address"),
        ("https://[fc00::1]/x", "blocked_address"),
        ("https://[fd12::1]/x", "blocked_address"),
        ("https://169.254.1.1/x", "blocked_address"),
        ("https://[fe80::1]/x", "blocked_address"),
        ("https://100.64.0.1/x", "blocked_address"),
        ("https://100.127.255.254/x", "blocked_address"),
        ("https://169.254.169.254/latest/meta-data", "blocked_address"),
        ("https://[fd00:ec2::254]/x", "blocked_address"),
        ("https://metadata.google.internal/computeMetadata/v1/", "blocked_address"),
        ("https://METADATA.GOOGLE.INTERNAL./x", "blocked_address"),
        ("https://0.0.0.0/x", "blocked_address"),
        ("https://[::]/x", "blocked_address"),
        ("https://224.0.0.1/x", "blocked_address"),
        ("https://[ff02::1]/x", "blocked_address"),
        ("https://240.0.0.1/x", "blocked_address"),
        ("https://255.255.255.255/x", "blocked_address"),
        ("https://[::ffff:10.0.0.1]/x", "odd_address_spelling"),
        ("https://[::ffff:a00:1]/x", "odd_address_spelling"),
        ("https://[::ffff:127.0.0.1]/x", "odd_address_spelling"),
        ("http://[::ffff:127.0.0.1]/x", "odd_address_spelling"),
        ("https://[::a00:1]/x", "blocked_address"),  # IPv4-compatible 10.0.0.1
        ("https://[64:ff9b::a9fe:a9fe]/x", "blocked_address"),  # NAT64 of the metadata address
        ("https://[64:ff9b::7f00:1]/x", "blocked_address"),  # NAT64 of loopback
        ("https://[2002:c0a8:101::1]/x", "blocked_address"),  # 6to4 of 192.168.1.1
        ("https://[2002:7f00:1::1]/x", "blocked_address"),  # 6to4 of loopback
        ("http://0x7f000001/x", "odd_address_spelling"),
        ("http://2130706433/x", "odd_address_spelling"),
        ("http://0177.0.0.1/x", "odd_address_spelling"),
        ("http://127.1/x", "odd_address_spelling"),
        ("http://127.0.1/x", "odd_address_spelling"),
        ("https://0x0a.0.0.1/x", "odd_address_spelling"),
        ("https://1.2.3.4.5/x", "invalid_host"),
        ("https://256.1.1.1/x", "invalid_host"),
        ("https://0999.1.1.1/x", "invalid_host"),
        ("https://example.123/x", "invalid_host"),
        ("https://[fe80::1%25eth0]/x", "blocked_address"),
        ("https:///nohost", "invalid_url"),
        ("https://hooks.example.com:99999/x", "invalid_url"),
        ("https://rebind.example.com/x", "blocked_address"),
        ("https://evil-loopback.example.com/x", "blocked_address"),
        ("http://evil-loopback.example.com/x", "insecure_scheme"),
        ("https://metadata.example.com/x", "blocked_address"),
        ("https://v6private.example.com/x", "blocked_address"),
        ("http://weird.localhost/x", "blocked_address"),  # and with loopback allowed: below
        ("https://unknown.example.com/x", "resolution_failed"),
    ],
)
def test_unsafe_urls_are_refused_with_a_reason(policy: URLPolicy, url: str, reason: str) -> None:
    with pytest.raises(UnsafeURLError) as info:
        policy.check(url)
    assert info.value.reason == reason
    assert info.value.message


def test_a_localhost_name_must_resolve_to_loopback_even_when_loopback_is_allowed(
    local_policy: URLPolicy,
) -> None:
    with pytest.raises(UnsafeURLError, match="not loopback") as info:
        local_policy.check("http://weird.localhost/x")
    assert info.value.reason == "blocked_address"


def test_every_resolved_address_is_checked_not_only_the_first() -> None:
    policy = resolver_of({"multi.example.com": [PUBLIC, PUBLIC, "192.168.0.10"]})
    with pytest.raises(UnsafeURLError, match="private"):
        policy.check("https://multi.example.com/")


def test_resolution_happens_on_every_check() -> None:
    answers = [[PUBLIC], ["10.0.0.1"]]
    calls: list[str] = []

    def resolve(host: str, port: int) -> list[str]:
        calls.append(host)
        return answers[len(calls) - 1]

    policy = URLPolicy(resolver=resolve)
    assert policy.check("https://flip.example.com/").addresses == (PUBLIC,)
    with pytest.raises(UnsafeURLError):
        policy.check("https://flip.example.com/")
    assert calls == ["flip.example.com", "flip.example.com"]


def test_allow_private_accepts_internal_hosts_but_never_metadata() -> None:
    policy = URLPolicy(allow_private=True, resolver=lambda h, p: ["10.2.3.4"])
    assert policy.check("https://10.0.0.1/x").addresses == ("10.0.0.1",)
    assert policy.check("https://internal.corp/x").addresses == ("10.2.3.4",)
    with pytest.raises(UnsafeURLError, match="metadata"):
        policy.check("https://169.254.169.254/")
    with pytest.raises(UnsafeURLError, match="https"):
        policy.check("http://10.0.0.1/x")


def test_allow_hosts_accepts_a_named_host_over_plain_http() -> None:
    policy = URLPolicy(allow_hosts=["receiver.internal"], resolver=lambda h, p: ["10.9.9.9"])
    assert policy.check("http://receiver.internal:8080/hook").addresses == ("10.9.9.9",)
    with pytest.raises(UnsafeURLError):
        policy.check("http://other.internal/hook")


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("127.0.1", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("10.0.0.1.", "10.0.0.1"),
        ("0", "0.0.0.0"),
        ("example.com", None),
    ],
)
def test_ipv4_hosts_are_parsed_like_inet_aton(host: str, expected: str | None) -> None:
    parsed = parse_ipv4_like_browser(host)
    assert (str(parsed) if parsed is not None else None) == expected


def test_plain_http_to_a_public_name_is_refused_before_any_lookup() -> None:
    def resolve(host: str, port: int) -> list[str]:
        raise AssertionError("no DNS lookup for a URL refused by its scheme")

    with pytest.raises(UnsafeURLError) as info:
        URLPolicy(resolver=resolve).check("http://hooks.example.com/x")
    assert info.value.reason == "insecure_scheme"
