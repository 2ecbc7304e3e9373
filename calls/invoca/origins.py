"""Where a token may go: the origin a URL points at, the hosts an installation allows
(INVOCA_ALLOWED_HOSTS), and the addresses a connection may reach.

A token is bound to the origin (scheme://host:port) it was entered for. A base URL must name
an allowed host and carry no user info; a host that is, or resolves to, a private, loopback,
link-local or otherwise non-public address is allowed only when listed by its exact name, so
neither a typed address nor a DNS answer can point a token at an internal service.
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import re
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from calls.invoca.errors import OriginRefused

# Invoca's own API hosts: https://invoca.net and the per-network https://<network>.invoca.net.
INVOCA_HOSTS = ("invoca.net", "*.invoca.net")
DEFAULT_PORTS = {"http": 80, "https": 443}
ALLOWED_HOSTS_SETTING = "INVOCA_ALLOWED_HOSTS"

_NAME = re.compile(r"^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*$")
_ENTRY = re.compile(r"^(?P<host>\[[0-9a-f:.]+\]|[^:\[\]]+)(:(?P<port>[0-9]{1,5}))?$")

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _port(parts: SplitResult) -> int | None:
    """The URL's port, the scheme's default when it names none; None when it is invalid."""
    try:
        port = parts.port
    except ValueError:
        return None
    return port or DEFAULT_PORTS.get(parts.scheme.lower(), 0)


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def url_origin(url: str) -> str:
    """`scheme://host:port`, lower-cased, default port filled in, an IPv6 host bracketed
    (port 0 when the URL's is invalid: no request is ever made to it)."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    return f"{parts.scheme.lower()}://{_bracketed(host)}:{_port(parts) or 0}"


def url_host(url: str) -> str:
    """The host (and port, when the URL names one) to quote in an error message."""
    parts = urlsplit(url.strip())
    return parts.netloc.rpartition("@")[2] or url


def _address(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def address_is_public(address: Address) -> bool:
    """Reachable on the internet: not private, loopback, link-local, shared, reserved,
    unspecified or multicast, also when an IPv6 address wraps an IPv4 one."""
    if isinstance(address, ipaddress.IPv6Address):
        wrapped = address.ipv4_mapped or address.sixtofour or (address.teredo or (None, None))[1]
        if wrapped is not None and not address_is_public(wrapped):
            return False
    return address.is_global and not address.is_multicast


@dataclass(frozen=True, slots=True)
class HostRule:
    """One INVOCA_ALLOWED_HOSTS entry: `host`, `host:port`, `*.domain` or `*.domain:port`;
    an IPv6 address in brackets. Without a port any port matches."""

    host: str
    port: int | None = None
    wildcard: bool = False

    def matches(self, host: str, port: int) -> bool:
        if self.port is not None and self.port != port:
            return False
        if self.wildcard:
            return host.endswith("." + self.host)
        return host == self.host

    def names(self, host: str, port: int) -> bool:
        """This entry lists `host` by its exact name (no wildcard)."""
        return not self.wildcard and self.matches(host, port)


def _rule(entry: str) -> HostRule:
    text = entry.strip().lower()
    match = _ENTRY.match(text)
    if match is None:
        raise OriginRefused(f"{ALLOWED_HOSTS_SETTING} entry {entry!r} is not a host[:port]")
    host, port = match["host"], match["port"]
    wildcard = host.startswith("*.")
    if wildcard:
        host = host[2:]
    # Compared as written, like the URL's host: an address is listed in the form it is used.
    if _address(host) is None and not _NAME.match(host):
        raise OriginRefused(f"{ALLOWED_HOSTS_SETTING} entry {entry!r} is not a host[:port]")
    if port is not None and not 0 < int(port) < 65536:
        raise OriginRefused(f"{ALLOWED_HOSTS_SETTING} entry {entry!r} has an invalid port")
    return HostRule(host=host, port=int(port) if port else None, wildcard=wildcard)


def host_rules(entries: Iterable[str]) -> tuple[HostRule, ...]:
    return _rules_parsed(tuple(entries))


@functools.lru_cache(maxsize=16)  # the same few lists, read on every request
def _rules_parsed(entries: tuple[str, ...]) -> tuple[HostRule, ...]:
    return tuple(_rule(entry) for entry in entries if entry.strip())


@dataclass(frozen=True, slots=True)
class Destination:
    """Where a base URL points: its origin, host (lower-case, IPv6 bracketed) and port."""

    origin: str
    host: str
    port: int


def base_url_check(url: str, *, allowed_hosts: Iterable[str]) -> Destination:
    """The base URL's destination, or OriginRefused saying why no token may go there."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise OriginRefused("the API base URL must start with https:// (or http://)")
    if "@" in parts.netloc:  # user info would travel as a second set of credentials
        raise OriginRefused("the API base URL must not contain a user name or password")
    host = _bracketed((parts.hostname or "").lower())
    if not host:
        raise OriginRefused("the API base URL has no host")
    address = _address(host)
    if address is None and not _NAME.match(host):  # e.g. a backslash, read apart elsewhere
        raise OriginRefused("the API base URL's host is not a valid host name")
    port = _port(parts)
    if not port:
        raise OriginRefused("the API base URL has an invalid port")
    rules = host_rules(allowed_hosts)
    listed = [rule for rule in rules if rule.matches(host, port)]
    shown = host if parts.port is None else f"{host}:{port}"
    if not listed:
        raise OriginRefused(f"{shown} is not one of the hosts in {ALLOWED_HOSTS_SETTING}")
    named = any(rule.names(host, port) for rule in listed)
    if address is not None and not address_is_public(address) and not named:
        raise OriginRefused(
            f"{shown} is not a public address; list it exactly in {ALLOWED_HOSTS_SETTING} "
            "to allow it"
        )
    return Destination(origin=f"{scheme}://{host}:{port}", host=host, port=port)


_INVOCA_RULES = host_rules(INVOCA_HOSTS)
# Outside destinations_limited, as for Invoca's own hosts: public addresses only.
_rules_in_force: ContextVar[tuple[HostRule, ...] | None] = ContextVar(
    "invoca_allowed_hosts", default=None
)


@contextlib.contextmanager
def destinations_limited(allowed_hosts: Iterable[str]) -> Iterator[None]:
    """Connections opened in this context may reach only what `allowed_hosts` allows."""
    reset = _rules_in_force.set(host_rules(allowed_hosts))
    try:
        yield
    finally:
        _rules_in_force.reset(reset)


def addresses_vetted(host: str, port: int, addresses: Iterable[str]) -> list[str]:
    """The addresses `host` resolved to, in order and each once, when a connection may reach
    all of them; OriginRefused when one is not public and the host is not listed by name.
    Every address is checked, not just the first: a name answering with one public and one
    internal address must not reach the internal one on a retry."""
    name = _bracketed(host.lower().rstrip("."))
    rules = _rules_in_force.get()
    if rules is None:
        rules = _INVOCA_RULES
    named = any(rule.names(name, port) for rule in rules)
    vetted: list[str] = []
    for text in addresses:
        address = ipaddress.ip_address(text.partition("%")[0])
        if not named and not address_is_public(address):
            raise OriginRefused(
                f"refused to connect to {name}: it resolves to a non-public address, which "
                f"only a host listed by name in {ALLOWED_HOSTS_SETTING} may"
            )
        if text not in vetted:
            vetted.append(text)
    return vetted
