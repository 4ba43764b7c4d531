"""The pure decisions of the API's edge: which Host names are answered, credentials in URLs."""

import pytest

from portside.api.admission import LOOPBACK, allowed_hosts, host_allowed, host_name
from portside.redact import redact_text, redact_url
from portside.settings import load_settings


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ("LocalHost:8080", "localhost"),
        ("[::1]:8080", "::1"),
        ("[::1]", "::1"),
        ("127.0.0.1", "127.0.0.1"),
        ("example.com.:443", "example.com"),
        ("::1", "::1"),  # a bare IPv6 address (not a valid Host, but not a port either)
    ],
)
def test_host_name(header: str, name: str) -> None:
    assert host_name(header) == name


def test_loopback_hosts_only_when_reads_are_open_because_of_a_loopback_bind() -> None:
    assert allowed_hosts(load_settings(None)) is LOOPBACK
    assert allowed_hosts(load_settings(None, server={"host": "0.0.0.0"})) is None
    closed = load_settings(None, api={"anonymous_reads": False})
    assert allowed_hosts(closed) is None  # reads need a token: a rebinding page has none
    listed = load_settings(None, server={"allowed_hosts": ["Portside.Example", "[::1]"]})
    assert allowed_hosts(listed) == frozenset({"portside.example", "::1"})
    assert allowed_hosts(load_settings(None, server={"allowed_hosts": ["*"]})) is None


@pytest.mark.parametrize(
    ("header", "answered"),
    [
        ("localhost:8080", True),
        ("127.0.0.1:8080", True),
        ("127.1.2.3", True),
        ("[::1]:8080", True),
        (None, True),
        ("evil.example", False),
        ("localhost.evil.example", False),
        ("127.0.0.1.nip.io", False),
        ("[::ffff:7f00:1]", False),
        ("0.0.0.0", False),
        ("", False),
    ],
)
def test_loopback_host_allowed(header: str | None, answered: bool) -> None:
    assert host_allowed(header, LOOPBACK) is answered


def test_listed_and_any_hosts() -> None:
    listed = frozenset({"portside.example"})
    assert host_allowed("PORTSIDE.example:443", listed)
    assert not host_allowed("localhost", listed)
    assert host_allowed("anything", None)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "https://user:pass@host:5000/x?token=abc&x=1",
            "https://user:***@host:5000/x?token=***&x=1",
        ),
        ("https://ghp_tok@github.example/a", "https://***@github.example/a"),
        ("postgresql://u:p%40ss@db:5432/x", "postgresql://u:***@db:5432/x"),
        ("http://h/p?API_KEY=1&sig=2&page=3", "http://h/p?API_KEY=***&sig=***&page=3"),
        ("http://127.0.0.1:5000", "http://127.0.0.1:5000"),
        ("http://h/p?page=2", "http://h/p?page=2"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_redact_text_finds_every_url() -> None:
    text = "GET http://u:pw@h/v2/ failed ('postgresql+asyncpg://a:b@c/d'); see http://x/y"
    assert redact_text(text) == (
        "GET http://u:***@h/v2/ failed ('postgresql+asyncpg://a:***@c/d'); see http://x/y"
    )
