"""A forward HTTP proxy on 127.0.0.1 that vets every hop of a URL-ingest download.

yt-dlp runs with `--proxy` pointing here, so each connection it makes (the page, API calls,
redirects, manifest and media fragments) comes through `CONNECT host:port` (https) or an
absolute-form request (plain http, tests only). For each one the host is resolved once,
every address it resolves to is checked with app.security.outbound.blocked_reason, and
the connection goes to a checked address: there is no second lookup that DNS rebinding
could answer differently. Refused and failed hops are recorded so the caller can explain
why a download failed ("the link leads to a private address").

`allow_private` (tests only) lifts the address and port rules so a test can reach a server
on 127.0.0.1; `allow_networks` lifts them for the given networks only (an operator's own
media host, or a test that needs one reachable hop and one refused); `allow_http` (tests
only) lets plain-http requests through.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import re
import selectors
import socket
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import SplitResult, urlsplit

from app.security.outbound import blocked_reason

log = logging.getLogger(__name__)

HTTPS_PORT = 443
HTTP_PORT = 80
_CHUNK = 64 * 1024
_HOSTNAME = re.compile(r"^(?=.{1,253}$)[a-z0-9_](?:[a-z0-9_.-]*[a-z0-9_])?$", re.IGNORECASE)
_AUTHORITY = re.compile(
    r"^(?:\[(?P<v6>[0-9a-f:.]+)\]|(?P<name>[^:\[\]]+)):(?P<port>[0-9]{1,5})$", re.I
)
# Hop-by-hop headers (RFC 9110 7.6.1) and the ones this proxy sets itself.
_DROPPED_HEADERS = frozenset(
    {
        "connection",
        "proxy-connection",
        "keep-alive",
        "proxy-authorization",
        "proxy-authenticate",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "expect",
    }
)


@dataclass(frozen=True)
class RefusedHop:
    """A connection the proxy would not make; `reason` is fit to show to the user."""

    host: str
    port: int
    reason: str


@dataclass(frozen=True)
class FailedHop:
    """An allowed connection that could not be made (unknown host, refused, timed out)."""

    host: str
    port: int
    reason: str


class _Refused(Exception):
    pass


class _Failed(Exception):
    pass


class EgressProxy:
    """Context manager: a running proxy; `url` is what to give yt-dlp's --proxy."""

    def __init__(
        self,
        *,
        allow_private: bool = False,
        allow_http: bool = False,
        allow_networks: Iterable[str] = (),
        connect_timeout: float = 15.0,
        idle_timeout: float = 120.0,
    ) -> None:
        self.allow_private = allow_private
        self.allow_http = allow_http
        self.allow_networks = tuple(ipaddress.ip_network(net) for net in allow_networks)
        self.connect_timeout = connect_timeout
        self.idle_timeout = idle_timeout
        self._lock = threading.Lock()
        self._refused: list[RefusedHop] = []
        self._failed: list[FailedHop] = []
        self._sockets: set[socket.socket] = set()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        if self._server is not None:
            raise RuntimeError("the proxy is already running")
        self._server = _Server(("127.0.0.1", 0), _Handler, self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="egress-proxy",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        # Tunnels still open would keep their threads alive; cut them.
        with self._lock:
            open_sockets = list(self._sockets)
        for sock in open_sockets:
            _shutdown(sock)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> EgressProxy:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the proxy is not running")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def refused(self) -> tuple[RefusedHop, ...]:
        with self._lock:
            return tuple(self._refused)

    @property
    def failed(self) -> tuple[FailedHop, ...]:
        with self._lock:
            return tuple(self._failed)

    # -- policy ---------------------------------------------------------------------------

    def connect(self, host: str, port: int) -> socket.socket:
        """A socket connected to a vetted address of host:port.

        Raises _Refused when the destination is not allowed, _Failed when it cannot be
        reached. Every resolved address is checked (a resolver may hand out any of them);
        the ones tried are exactly the ones checked.
        """
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            raise _Failed(f"The host {host} could not be found.") from None
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
        vetted = [ip for ip in addresses if not self._allowed_network(ip)]
        if not self.allow_private and vetted:
            for ip in vetted:
                why = blocked_reason(ip)
                if why is not None:
                    raise _Refused(_address_message(host, ip, why))
            if port not in self._allowed_ports():
                raise _Refused(
                    f"The link leads to port {port} on {host}; only the standard web ports "
                    "are allowed."
                )
        last: OSError | None = None
        # IPv4 first: many servers have no working IPv6 route, and a blackholed attempt
        # would cost a whole connect timeout on every hop.
        ordered = sorted(infos, key=lambda info: info[0] != socket.AF_INET)
        for family, kind, proto, _name, sockaddr in ordered:
            sock = socket.socket(family, kind, proto)
            try:
                sock.settimeout(self.connect_timeout)
                sock.connect(sockaddr)
            except OSError as e:
                sock.close()
                last = e
                continue
            sock.settimeout(self.idle_timeout)
            return sock
        detail = f": {last.strerror or last}" if last is not None else ""
        raise _Failed(f"Could not connect to {host}{detail}.")

    def _allowed_network(self, ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        return any(ip.version == net.version and ip in net for net in self.allow_networks)

    def _allowed_ports(self) -> frozenset[int]:
        return frozenset({HTTPS_PORT, HTTP_PORT}) if self.allow_http else frozenset({HTTPS_PORT})

    def _record_refused(self, host: str, port: int, reason: str) -> None:
        log.info("egress refused %s:%s: %s", host, port, reason)
        with self._lock:
            self._refused.append(RefusedHop(host, port, reason))

    def _record_failed(self, host: str, port: int, reason: str) -> None:
        log.info("egress failed %s:%s: %s", host, port, reason)
        with self._lock:
            self._failed.append(FailedHop(host, port, reason))

    def _track(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.add(sock)

    def _untrack(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.discard(sock)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self, address: tuple[str, int], handler: type[_Handler], proxy: EgressProxy
    ) -> None:
        self.proxy = proxy
        super().__init__(address, handler)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    # Unbuffered: nothing the client sends after the request head may be read ahead into a
    # buffer and lost when the socket becomes a raw tunnel.
    rbufsize = 0
    timeout = 30

    def setup(self) -> None:
        super().setup()
        self.server.proxy._track(self.connection)

    def finish(self) -> None:
        self.server.proxy._untrack(self.connection)
        super().finish()

    # One request per client connection: the next one may be for another host.
    def do_CONNECT(self) -> None:
        self.close_connection = True
        target = _parse_authority(self.path)
        if target is None:
            self._reply(400, "Bad CONNECT target.")
            return
        host, port = target
        upstream = self._open(host, port)
        if upstream is None:
            return
        try:
            self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            _relay(self.connection, upstream, self.server.proxy.idle_timeout)
        finally:
            self._close(upstream)

    def _forward(self) -> None:
        self.close_connection = True
        proxy = self.server.proxy
        try:
            parts = urlsplit(self.path)
            port = parts.port
        except ValueError:
            self._reply(400, "Bad request target.")
            return
        host = (parts.hostname or "").rstrip(".")
        if parts.scheme.lower() != "http" or "@" in parts.netloc or not _valid_host(host):
            self._reply(400, "Only absolute http:// request targets are proxied.")
            return
        port = port or HTTP_PORT
        if not proxy.allow_http:
            reason = (
                f"The link leads to an insecure http:// address on {host}; only https is allowed."
            )
            proxy._record_refused(host, port, reason)
            self._reply(403, reason)
            return
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self._reply(411, "Chunked request bodies are not supported.")
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            self._reply(400, "Bad Content-Length.")
            return
        upstream = self._open(host, port)
        if upstream is None:
            return
        try:
            upstream.sendall(self._origin_request(parts, length))
            _copy(self.connection, upstream, length)
            _pump(upstream, self.connection)
        except OSError:
            pass
        finally:
            self._close(upstream)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _forward

    def _origin_request(self, parts: SplitResult, length: int) -> bytes:
        """The request line in origin-form, end-to-end headers, `Connection: close`."""
        target = parts.path or "/"
        if parts.query:
            target = f"{target}?{parts.query}"
        named = {
            token.strip().lower()
            for value in self.headers.get_all("Connection", [])
            for token in value.split(",")
        }
        lines = [f"{self.command} {target} HTTP/1.1", f"Host: {parts.netloc}"]
        for name, value in self.headers.items():
            if name.lower() in _DROPPED_HEADERS or name.lower() in named:
                continue
            if name.lower() == "content-length":
                value = str(length)
            lines.append(f"{name}: {value}")
        lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _open(self, host: str, port: int) -> socket.socket | None:
        proxy = self.server.proxy
        try:
            upstream = proxy.connect(host, port)
        except _Refused as e:
            proxy._record_refused(host, port, str(e))
            self._reply(403, str(e))
            return None
        except _Failed as e:
            proxy._record_failed(host, port, str(e))
            self._reply(502, str(e))
            return None
        proxy._track(upstream)
        # A slow reader on the client side (yt-dlp blocked on its stdout) is not a dead one.
        self.connection.settimeout(proxy.idle_timeout)
        return upstream

    def _close(self, upstream: socket.socket) -> None:
        self.server.proxy._untrack(upstream)
        upstream.close()

    def _reply(self, status: int, reason: str) -> None:
        body = (reason + "\n").encode("utf-8")
        try:
            self.send_response_only(status)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            pass

    # The request line can hold a URL with a token in its query: never log it.
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass

    def log_message(self, format: str, *args: object) -> None:
        log.debug("egress proxy: " + format, *args)


def _address_message(host: str, ip: ipaddress.IPv4Address | ipaddress.IPv6Address, why: str) -> str:
    article = "an" if why[:1] in "aeiou" else "a"
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    where = f"{host} is" if literal is not None else f"{host} resolves to {ip}, which is"
    return (
        "The link leads to a private or internal network address, which is not allowed: "
        f"{where} {article} {why} address."
    )


def _valid_host(host: str) -> bool:
    if _HOSTNAME.match(host):
        return True
    try:
        ipaddress.IPv6Address(host)
    except ValueError:
        return False
    return True


def _parse_authority(target: str) -> tuple[str, int] | None:
    """(host, port) from a CONNECT target `host:port` or `[v6]:port`; None if malformed."""
    m = _AUTHORITY.match(target)
    if m is None:
        return None
    port = int(m["port"])
    if not 0 < port < 65536:
        return None
    if m["v6"] is not None:
        try:
            ipaddress.IPv6Address(m["v6"])
        except ValueError:
            return None
        return m["v6"].lower(), port
    host = m["name"].rstrip(".").lower()
    return (host, port) if _HOSTNAME.match(host) else None


def _relay(client: socket.socket, upstream: socket.socket, idle_timeout: float) -> None:
    """Copy bytes both ways until both sides have finished or nothing moves for a while."""
    peer = {client: upstream, upstream: client}
    with selectors.DefaultSelector() as sel:
        for sock in peer:
            sel.register(sock, selectors.EVENT_READ)
        while sel.get_map():
            events = sel.select(idle_timeout)
            if not events:
                return
            for key, _mask in events:
                src = key.fileobj
                assert isinstance(src, socket.socket)
                try:
                    data = src.recv(_CHUNK)
                except OSError:
                    return
                if not data:
                    sel.unregister(src)
                    with contextlib.suppress(OSError):
                        peer[src].shutdown(socket.SHUT_WR)
                    continue
                try:
                    peer[src].sendall(data)
                except OSError:
                    return


def _copy(src: socket.socket, dst: socket.socket, length: int) -> None:
    """Copy exactly `length` bytes (a request body) from src to dst."""
    while length > 0:
        data = src.recv(min(_CHUNK, length))
        if not data:
            raise ConnectionError("the client closed before sending the whole body")
        dst.sendall(data)
        length -= len(data)


def _pump(src: socket.socket, dst: socket.socket) -> None:
    """Copy src to dst until src closes (the upstream was told `Connection: close`)."""
    while data := src.recv(_CHUNK):
        dst.sendall(data)


def _shutdown(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
