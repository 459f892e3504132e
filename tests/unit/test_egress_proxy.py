"""The ingest egress proxy, spoken to over real sockets on 127.0.0.1.

DNS is the one thing stood in for (socket.getaddrinfo), to make a name resolve to a chosen
address: that is the environment the code runs in, not the code.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from app.ingest.egress_proxy import EgressProxy

REFUSED_TARGETS = [
    ("127.0.0.1", "loopback"),
    ("127.1.2.3", "loopback"),
    ("10.0.0.1", "private"),
    ("192.168.1.1", "private"),
    ("172.16.0.1", "private"),
    ("[::1]", "loopback"),
    ("169.254.169.254", "link-local"),
    ("[fe80::1]", "link-local"),
    ("100.64.0.1", "carrier-grade NAT"),
    ("[::ffff:127.0.0.1]", "IPv6-wrapped loopback"),
    ("[::ffff:10.0.0.1]", "IPv6-wrapped private"),
    ("[fd00::1]", "unique local"),
    ("0.0.0.0", "unspecified"),
    ("[::]", "unspecified"),
    ("224.0.0.1", "multicast"),
    ("240.0.0.1", "reserved"),
]


class Upstream:
    """A TCP server on 127.0.0.1 that records what it receives and answers each connection."""

    def __init__(self, reply: bytes | None = None, host: str = "127.0.0.1") -> None:
        self.reply = reply  # None: echo back what arrives, until the client half-closes
        self.received: list[bytes] = []
        self.connections = 0
        self.sock = socket.create_server((host, 0))
        self.port = self.sock.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            data = b""
            try:
                if self.reply is None:
                    while chunk := conn.recv(65536):
                        data += chunk
                        conn.sendall(chunk)
                else:
                    while b"\r\n\r\n" not in data:
                        chunk = conn.recv(65536)
                        if not chunk:
                            break
                        data += chunk
                    head, _, body = data.partition(b"\r\n\r\n")
                    length = _content_length(head)
                    while len(body) < length:
                        body += conn.recv(65536)
                    data = head + b"\r\n\r\n" + body
                    conn.sendall(self.reply)
            except OSError:
                pass
            self.received.append(data)

    def close(self) -> None:
        self.sock.close()


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    server = Upstream()
    yield server
    server.close()


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Names put in the returned dict resolve to those addresses (none: the name is not
    found); other names go to the real resolver. Lookups are counted in "__calls__"."""
    real = socket.getaddrinfo
    table: dict[str, list[str]] = {}
    calls: list[str] = []

    def fake(host, port, *args, **kw):  # type: ignore[no-untyped-def]
        if host not in table:
            return real(host, port, *args, **kw)
        calls.append(host)
        if not table[host]:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        infos = []
        for address in table[host]:
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            sockaddr = (address, port, 0, 0) if family == socket.AF_INET6 else (address, port)
            infos.append((family, socket.SOCK_STREAM, 6, "", sockaddr))
        return infos

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    table["__calls__"] = calls
    return table


def _request(proxy: EgressProxy, raw: bytes) -> tuple[socket.socket, int, bytes]:
    """Send `raw` to the proxy; return the socket, the status and the response head+body."""
    sock = socket.create_connection(("127.0.0.1", proxy.port), timeout=5)
    sock.sendall(raw)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    status = int(data.split(b" ", 2)[1])
    return sock, status, data


def _connect(proxy: EgressProxy, target: str) -> tuple[int, bytes]:
    sock, status, data = _request(
        proxy, f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode()
    )
    if status != 200:
        # A refusal is the whole answer: the body follows, then the proxy closes.
        while chunk := sock.recv(65536):
            data += chunk
    sock.close()
    return status, data


@pytest.mark.parametrize(("host", "why"), REFUSED_TARGETS)
def test_connect_to_a_non_public_address_is_refused_and_recorded(host: str, why: str) -> None:
    with EgressProxy() as proxy:
        status, body = _connect(proxy, f"{host}:443")
        assert status == 403
        assert f"a {why} address" in body.decode() or f"an {why} address" in body.decode()
        [hop] = proxy.refused
        assert hop.port == 443
        assert hop.host == host.strip("[]")
        assert why in hop.reason
        assert "private or internal network address" in hop.reason
        assert proxy.failed == ()


def test_a_name_that_resolves_to_loopback_is_refused() -> None:
    with EgressProxy() as proxy:
        status, _ = _connect(proxy, "localhost:443")
        assert status == 403
        [hop] = proxy.refused
        assert hop.host == "localhost"
        assert "localhost resolves to" in hop.reason
        assert "loopback" in hop.reason


def test_refused_before_any_connection_is_made(upstream: Upstream, dns) -> None:  # type: ignore[no-untyped-def]
    dns["internal.example.com"] = ["127.0.0.1"]
    with EgressProxy() as proxy:
        status, _ = _connect(proxy, f"internal.example.com:{upstream.port}")
    assert status == 403
    assert upstream.connections == 0


def test_one_private_address_among_public_ones_refuses_the_host(dns) -> None:  # type: ignore[no-untyped-def]
    dns["mixed.example.com"] = ["8.8.8.8", "10.1.2.3"]
    with EgressProxy() as proxy:
        status, _ = _connect(proxy, "mixed.example.com:443")
        assert status == 403
        [hop] = proxy.refused
        assert "mixed.example.com resolves to 10.1.2.3" in hop.reason


def test_only_the_https_port_is_allowed() -> None:
    # The port is refused before any connection, so a public address needs no network here.
    with EgressProxy() as proxy:
        for target in ("8.8.8.8:25", "8.8.8.8:22", "8.8.8.8:80", "8.8.8.8:8443"):
            status, _ = _connect(proxy, target)
            assert status == 403
        assert [hop.port for hop in proxy.refused] == [25, 22, 80, 8443]
        assert all("standard web ports" in hop.reason for hop in proxy.refused)


@pytest.mark.parametrize(
    "target",
    ["127.0.0.1", "127.0.0.1:", "a b:443", "[::1%lo]:443", "user@host:443", "host:99999", ":443"],
)
def test_malformed_connect_targets_are_rejected(target: str) -> None:
    with EgressProxy(allow_private=True) as proxy:
        sock, status, _ = _request(proxy, f"CONNECT {target} HTTP/1.1\r\n\r\n".encode())
        sock.close()
        assert status == 400
        assert proxy.refused == ()


def test_an_allowed_tunnel_relays_bytes_both_ways(upstream: Upstream) -> None:
    with EgressProxy(allow_private=True) as proxy:
        sock, status, head = _request(
            proxy, f"CONNECT 127.0.0.1:{upstream.port} HTTP/1.1\r\n\r\n".encode()
        )
        assert status == 200
        assert head.endswith(b"\r\n\r\n")
        payload = bytes(range(256)) * 4096  # 1 MiB, more than one read
        sender = threading.Thread(target=sock.sendall, args=(payload,))
        sender.start()
        echoed = b""
        while len(echoed) < len(payload):
            echoed += sock.recv(65536)
        sender.join()
        sock.shutdown(socket.SHUT_WR)
        assert sock.recv(1) == b""  # the upstream's close came through
        sock.close()
    assert echoed == payload
    assert proxy.refused == ()


def test_the_checked_address_is_the_one_connected_to(upstream: Upstream, dns) -> None:  # type: ignore[no-untyped-def]
    # A second lookup would get the private address: there must not be one.
    dns["rebind.example.com"] = ["127.0.0.1"]
    with EgressProxy(allow_networks=["127.0.0.1/32"]) as proxy:
        sock, status, _ = _request(
            proxy, f"CONNECT rebind.example.com:{upstream.port} HTTP/1.1\r\n\r\n".encode()
        )
        dns["rebind.example.com"] = ["10.9.9.9"]
        assert status == 200
        sock.sendall(b"ping")
        assert sock.recv(4) == b"ping"
        sock.close()
    assert dns["__calls__"] == ["rebind.example.com"]


def test_allowed_networks_are_reachable_and_nothing_else(upstream: Upstream) -> None:
    with EgressProxy(allow_networks=["127.0.0.1/32"]) as proxy:
        sock, status, _ = _request(
            proxy, f"CONNECT 127.0.0.1:{upstream.port} HTTP/1.1\r\n\r\n".encode()
        )
        sock.close()
        assert status == 200
        status, _ = _connect(proxy, f"127.0.0.2:{upstream.port}")
        assert status == 403
        assert [hop.host for hop in proxy.refused] == ["127.0.0.2"]


def test_an_unknown_host_is_a_failure_not_a_refusal(dns) -> None:  # type: ignore[no-untyped-def]
    dns["no-such-host.invalid"] = []
    with EgressProxy() as proxy:
        status, _ = _connect(proxy, "no-such-host.invalid:443")
        assert status == 502
        assert proxy.refused == ()
        [hop] = proxy.failed
        assert "no-such-host.invalid could not be found" in hop.reason


def test_plain_http_is_refused_unless_allowed(upstream: Upstream) -> None:
    with EgressProxy(allow_private=True) as proxy:
        url = f"http://127.0.0.1:{upstream.port}/x"
        sock, status, _ = _request(proxy, f"GET {url} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        sock.close()
        assert status == 403
        [hop] = proxy.refused
        assert "insecure http://" in hop.reason
    assert upstream.connections == 0


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/x",
        "http://10.0.0.1/x",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:{port}/x",
        "http://localhost:{port}/x",
    ],
)
def test_plain_http_to_a_private_address_is_refused(upstream: Upstream, url: str) -> None:
    with EgressProxy(allow_http=True) as proxy:
        url = url.format(port=upstream.port)
        sock, status, _ = _request(proxy, f"GET {url} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        sock.close()
        assert status == 403
        [hop] = proxy.refused
        assert "private or internal network address" in hop.reason
    assert upstream.connections == 0


def test_plain_http_is_forwarded_in_origin_form() -> None:
    reply = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"
    server = Upstream(reply=reply)
    try:
        with EgressProxy(allow_private=True, allow_http=True) as proxy:
            body = b"a=1&b=2"
            request = (
                f"POST http://127.0.0.1:{server.port}/api/v1?key=abc HTTP/1.1\r\n"
                f"Host: 127.0.0.1:{server.port}\r\n"
                "Proxy-Connection: keep-alive\r\n"
                "Proxy-Authorization: Basic Zm9vOmJhcg==\r\n"
                "Connection: keep-alive, X-Secret\r\n"
                "X-Secret: drop-me\r\n"
                "User-Agent: test\r\n"
                f"Content-Length: {len(body)}\r\n\r\n"
            ).encode() + body
            sock, status, data = _request(proxy, request)
            while chunk := sock.recv(65536):  # the proxy closes after one response
                data += chunk
            sock.close()
    finally:
        server.close()
    assert status == 200
    assert data == reply
    [received] = server.received
    head, _, sent_body = received.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "POST /api/v1?key=abc HTTP/1.1"
    headers = [line.split(":", 1)[0].lower() for line in lines[1:]]
    assert sorted(headers) == ["connection", "content-length", "host", "user-agent"]
    assert f"Host: 127.0.0.1:{server.port}" in lines
    assert "Connection: close" in lines
    assert sent_body == body


def test_stopping_cuts_open_tunnels(upstream: Upstream) -> None:
    proxy = EgressProxy(allow_private=True)
    proxy.start()
    sock, status, _ = _request(
        proxy, f"CONNECT 127.0.0.1:{upstream.port} HTTP/1.1\r\n\r\n".encode()
    )
    assert status == 200
    proxy.stop()
    sock.settimeout(5)
    assert sock.recv(1) == b""
    sock.close()
    with pytest.raises(RuntimeError):
        _ = proxy.port


def test_the_next_checked_address_is_tried_when_one_does_not_answer(
    upstream: Upstream,
    dns,  # type: ignore[no-untyped-def]
) -> None:
    dns["two.example.com"] = ["127.0.0.3", "127.0.0.1"]  # nothing listens on 127.0.0.3
    with EgressProxy(allow_networks=["127.0.0.0/8"]) as proxy:
        sock, status, _ = _request(
            proxy, f"CONNECT two.example.com:{upstream.port} HTTP/1.1\r\n\r\n".encode()
        )
        assert status == 200
        sock.sendall(b"ping")
        assert sock.recv(4) == b"ping"
        sock.close()
        assert proxy.failed == ()
