"""Outbound HTTP to URLs users give us (webhooks), safe against SSRF.

Rules (SECURITY.md): https only; no credentials in the URL; every address the host
resolves to must be public (not private, loopback, link-local, CGNAT, ULA, multicast,
reserved, or an IPv4 one of those embedded in IPv6); the connection goes to the address we
checked (pinned, so DNS rebinding between check and connect cannot redirect it) while TLS
still verifies the certificate for the hostname; redirects are not followed; the response
body is capped. `allow_private` (VERBATIM_OUTBOUND_ALLOW_PRIVATE, tests only) lifts the
address and https rules so a test can reach a receiver on 127.0.0.1.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask_babel import gettext as _
from urllib3 import HTTPConnectionPool, HTTPSConnectionPool, Timeout
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import HTTPError
from urllib3.util import connection as urllib3_connection

MAX_RESPONSE_BYTES = 64 * 1024
MAX_URL_LENGTH = 2048
USER_AGENT = "Verbatim-Webhooks/1.0"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Checked by hand as well as through ipaddress's flags: those flags have changed between
# Python versions, and these ranges must stay refused whatever the interpreter thinks.
_BLOCKED: tuple[tuple[str, str], ...] = (
    ("0.0.0.0/8", "unspecified"),
    ("10.0.0.0/8", "private"),
    ("100.64.0.0/10", "carrier-grade NAT"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local"),
    ("172.16.0.0/12", "private"),
    ("192.0.0.0/24", "reserved"),
    ("192.0.2.0/24", "documentation"),
    ("192.88.99.0/24", "reserved"),
    ("192.168.0.0/16", "private"),
    ("198.18.0.0/15", "reserved"),
    ("198.51.100.0/24", "documentation"),
    ("203.0.113.0/24", "documentation"),
    ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "reserved"),
    ("::/128", "unspecified"),
    ("::1/128", "loopback"),
    ("::/96", "reserved"),
    ("100::/64", "reserved"),
    ("2001:db8::/32", "documentation"),
    ("fc00::/7", "unique local"),
    ("fe80::/10", "link-local"),
    ("fec0::/10", "site-local"),
    ("ff00::/8", "multicast"),
)
_BLOCKED_NETS = tuple((ipaddress.ip_network(net), why) for net, why in _BLOCKED)
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
# Hosts made only of digits, dots and hex: inet_aton reads these as addresses ("127.1").
_NUMERIC_HOST = re.compile(r"^[0-9a-fx.]+$", re.IGNORECASE)


class OutboundError(Exception):
    """The request could not be made or did not complete (network, TLS, timeout)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class OutboundRefused(OutboundError, ValueError):
    """The destination is not allowed; the message is fit to show to the user."""


@dataclass(frozen=True)
class Destination:
    """A vetted URL: connect to `address`, but speak to `host` (Host header, SNI, cert)."""

    scheme: str
    host: str
    port: int
    path: str  # path and query, as sent on the request line
    address: str

    @property
    def display(self) -> str:
        """The URL without its query (which may carry a token), for logs and lists."""
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        port = "" if self.port == default else f":{self.port}"
        return f"{self.scheme}://{host}{port}{self.path.split('?', 1)[0]}"


def display_url(url: str) -> str:
    """`url` without credentials, query or fragment (they may carry tokens), for lists."""
    try:
        parts = urlsplit((url or "").strip())
        netloc = parts.netloc.rsplit("@", 1)[-1]
    except ValueError:
        return ""
    return f"{parts.scheme}://{netloc}{parts.path}"[:MAX_URL_LENGTH]


def blocked_reason(ip: IPAddress) -> str | None:
    """Why `ip` may not be contacted, or None for a public address."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            inner = blocked_reason(embedded)
            return f"IPv6-wrapped {inner}" if inner else None
    for net, why in _BLOCKED_NETS:
        if ip.version == net.version and ip in net:
            return why
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_private:
        return "private"
    if ip.is_reserved or not ip.is_global:
        return "reserved"
    return None


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries (mapped, 6to4, Teredo, NAT64), if any."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if any(ip in net for net in _NAT64):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _literal(host: str) -> IPAddress | None:
    """The address a host names literally, including legacy forms (127.1, 0x7f000001)."""
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        pass
    if _NUMERIC_HOST.match(host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def _resolve(host: str, port: int) -> list[IPAddress]:
    literal = _literal(host)
    if literal is not None:
        return [literal]
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise OutboundRefused(_("The host %(host)s could not be found.", host=host)) from None
    addresses: list[IPAddress] = []
    for info in infos:
        ip = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if ip not in addresses:
            addresses.append(ip)
    if not addresses:
        raise OutboundRefused(_("The host %(host)s could not be found.", host=host))
    return addresses


def check_url(url: str, allow_private: bool = False) -> Destination:
    """Vet `url` and resolve its host; raise OutboundRefused with a clear message if not allowed.

    Every resolved address must be public (one bad address refuses the URL: a resolver
    could hand out either). The first address is the one to connect to.
    """
    url = (url or "").strip()
    if not url:
        raise OutboundRefused(_("Enter a URL."))
    if len(url) > MAX_URL_LENGTH:
        raise OutboundRefused(_("The URL is longer than %(max)d characters.", max=MAX_URL_LENGTH))
    if any(c.isspace() or ord(c) < 32 or c == "\\" for c in url):
        raise OutboundRefused(_("The URL contains spaces, control characters or backslashes."))
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise OutboundRefused(_("That is not a valid URL.")) from None
    scheme = parts.scheme.lower()
    allowed = ("https", "http") if allow_private else ("https",)
    if scheme not in allowed:
        raise OutboundRefused(_("The URL must start with https://."))
    if "@" in parts.netloc:
        raise OutboundRefused(_("The URL must not contain a user name or password."))
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise OutboundRefused(_("The URL has no host name."))
    if port == 0:
        raise OutboundRefused(_("The URL has an invalid port."))
    port = port or (443 if scheme == "https" else 80)
    addresses = _resolve(host, port)
    if not allow_private:
        for ip in addresses:
            why = blocked_reason(ip)
            if why is not None:
                # `kind` stays English ("a private", "a loopback"): a network term.
                kind = f"{_article(why)} {why}"
                if _is_standard_literal(host):
                    message = _(
                        "The URL must point to a public internet address: "
                        "%(host)s is %(kind)s address.",
                        host=host,
                        kind=kind,
                    )
                else:
                    message = _(
                        "The URL must point to a public internet address: "
                        "%(host)s resolves to %(ip)s, which is %(kind)s address.",
                        host=host,
                        ip=ip,
                        kind=kind,
                    )
                raise OutboundRefused(message)
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return Destination(scheme, host, port, path, str(addresses[0]))


def _is_standard_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


class _PinnedMixin:
    """Connects to the vetted address instead of resolving the host name again."""

    pinned_address: str
    host: str
    port: int
    timeout: Any
    source_address: Any
    socket_options: Any

    def _new_conn(self) -> socket.socket:
        try:
            return urllib3_connection.create_connection(
                (self.pinned_address, self.port),
                self.timeout,
                source_address=self.source_address,
                socket_options=self.socket_options,
            )
        except OSError as e:
            raise OutboundError(
                f"Could not connect to {self.host}:{self.port}: {e.strerror or e}"
            ) from None


class PinnedHTTPConnection(_PinnedMixin, HTTPConnection):
    def __init__(self, *args: Any, pinned_address: str, **kw: Any) -> None:
        self.pinned_address = pinned_address
        super().__init__(*args, **kw)


class PinnedHTTPSConnection(_PinnedMixin, HTTPSConnection):
    # The hostname stays `host`: SNI and certificate verification use it, not the address.
    def __init__(self, *args: Any, pinned_address: str, **kw: Any) -> None:
        self.pinned_address = pinned_address
        super().__init__(*args, **kw)


def _pool(dest: Destination, timeout: float) -> HTTPConnectionPool:
    kw: dict[str, Any] = {
        "timeout": Timeout(connect=timeout, read=timeout),
        "retries": False,
        "maxsize": 1,
        "pinned_address": dest.address,
    }
    if dest.scheme == "https":
        pool: HTTPConnectionPool = HTTPSConnectionPool(
            dest.host, dest.port, cert_reqs="CERT_REQUIRED", **kw
        )
        pool.ConnectionCls = PinnedHTTPSConnection
    else:
        pool = HTTPConnectionPool(dest.host, dest.port, **kw)
        pool.ConnectionCls = PinnedHTTPConnection
    return pool


def post(
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    allow_private: bool = False,
    timeout: float = 10.0,
) -> tuple[int, bytes]:
    """POST `body` to `url`; return (status, first 64 KiB of the response body).

    A 3xx comes back as its status (redirects are never followed: the next hop would not
    be vetted). Raises OutboundRefused for a destination that is not allowed and
    OutboundError when the request fails.
    """
    dest = check_url(url, allow_private=allow_private)
    pool = _pool(dest, timeout)
    try:
        response = pool.urlopen(
            "POST",
            dest.path,
            body=body,
            headers={"User-Agent": USER_AGENT, **headers},
            redirect=False,
            retries=False,
            preload_content=False,
            assert_same_host=False,
        )
        try:
            payload = response.read(MAX_RESPONSE_BYTES)
        finally:
            response.release_conn()
            response.close()
        return response.status, payload
    except OutboundError:
        raise
    except HTTPError as e:
        raise OutboundError(f"Request to {dest.display} failed: {_reason(e)}") from None
    finally:
        pool.close()


def _reason(e: Exception) -> str:
    text = str(getattr(e, "reason", None) or e) or e.__class__.__name__
    return text[:300]
