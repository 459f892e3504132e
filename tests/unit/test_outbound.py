"""SSRF rules of app.security.outbound, against real sockets on 127.0.0.1.

DNS is the one thing stood in for (socket.getaddrinfo), to make a name resolve to a chosen
address: that is the environment the code runs in, not the code.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from app.security.outbound import (
    MAX_RESPONSE_BYTES,
    OutboundError,
    OutboundRefused,
    blocked_reason,
    check_url,
    display_url,
    post,
)

REFUSED_URLS = [
    # loopback, in every spelling
    "https://127.0.0.1/",
    "https://127.1/",
    "https://127.0.1/",
    "https://0x7f000001/",
    "https://0x7f.0.0.1/",
    "https://2130706433/",
    "https://017700000001/",
    "https://0177.0.0.1/",
    "https://127.255.255.254:8443/x",
    "https://[::1]/",
    "https://[0:0:0:0:0:0:0:1]/",
    "https://localhost/",
    "https://LOCALHOST./",
    # IPv4 inside IPv6
    "https://[::ffff:127.0.0.1]/",
    "https://[::ffff:7f00:1]/",
    "https://[::ffff:10.0.0.1]/",
    "https://[::ffff:169.254.169.254]/",
    "https://[::127.0.0.1]/",
    "https://[64:ff9b::10.0.0.1]/",
    "https://[2002:7f00:1::]/",
    "https://[2002:a00:1::1]/",
    # private
    "https://10.0.0.1/",
    "https://10.255.255.255/",
    "https://172.16.0.1/",
    "https://172.31.255.254/",
    "https://192.168.1.1/",
    # carrier-grade NAT
    "https://100.64.0.1/",
    "https://100.127.255.254/",
    # link-local and the cloud metadata address
    "https://169.254.169.254/latest/meta-data/",
    "https://169.254.0.1/",
    "https://[fe80::1]/",
    "https://[fe80::1%25eth0]/",
    # unique local
    "https://[fc00::1]/",
    "https://[fd12:3456:789a::1]/",
    # unspecified, "this network"
    "https://0.0.0.0/",
    "https://0/",
    "https://0.1.2.3/",
    "https://[::]/",
    # multicast, broadcast, reserved, documentation, benchmarking
    "https://224.0.0.1/",
    "https://239.255.255.250/",
    "https://[ff02::1]/",
    "https://255.255.255.255/",
    "https://240.0.0.1/",
    "https://192.0.0.8/",
    "https://192.0.2.10/",
    "https://198.18.0.1/",
    "https://[2001:db8::1]/",
    "https://[fec0::1]/",
]


@pytest.mark.parametrize("url", REFUSED_URLS)
def test_non_public_destinations_are_refused(url: str) -> None:
    with pytest.raises(OutboundRefused) as refused:
        check_url(url)
    assert "public internet address" in refused.value.message


@pytest.mark.parametrize("url", ["https://10.0.0.1/", "https://127.1/", "https://[::1]/"])
def test_post_refuses_before_connecting(url: str) -> None:
    with pytest.raises(OutboundRefused):
        post(url, b"{}", {}, timeout=1)


@pytest.mark.parametrize(
    "ip, why",
    [
        ("127.0.0.1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.20.0.1", "private"),
        ("192.168.0.1", "private"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("169.254.169.254", "link-local"),
        ("0.0.0.0", "unspecified"),
        ("0.255.0.1", "unspecified"),
        ("224.0.0.251", "multicast"),
        ("240.0.0.1", "reserved"),
        ("::1", "loopback"),
        ("::", "unspecified"),
        ("fc00::1", "unique local"),
        ("fdff::1", "unique local"),
        ("fe80::1", "link-local"),
        ("ff02::1", "multicast"),
        ("::ffff:127.0.0.1", "IPv6-wrapped loopback"),
        ("::ffff:100.64.0.1", "IPv6-wrapped carrier-grade NAT"),
        ("64:ff9b::a9fe:a9fe", "IPv6-wrapped link-local"),
    ],
)
def test_blocked_reason_names_the_range(ip: str, why: str) -> None:
    assert blocked_reason(ipaddress.ip_address(ip)) == why


@pytest.mark.parametrize(
    "ip", ["93.184.215.14", "8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"]
)
def test_public_addresses_pass(ip: str) -> None:
    assert blocked_reason(ipaddress.ip_address(ip)) is None


def test_public_literal_url_is_accepted_and_pinned() -> None:
    dest = check_url("https://93.184.215.14:8443/hooks/in?token=abc")
    assert (dest.scheme, dest.host, dest.port, dest.address) == (
        "https",
        "93.184.215.14",
        8443,
        "93.184.215.14",
    )
    assert dest.path == "/hooks/in?token=abc"
    assert dest.display == "https://93.184.215.14:8443/hooks/in"


@pytest.mark.parametrize(
    "url, message",
    [
        ("http://93.184.215.14/", "https://"),
        ("ftp://93.184.215.14/", "https://"),
        ("file:///etc/passwd", "https://"),
        ("gopher://93.184.215.14/", "https://"),
        ("//93.184.215.14/", "https://"),
        ("93.184.215.14", "https://"),
        ("https://user:pw@93.184.215.14/", "user name or password"),
        ("https://user@93.184.215.14/", "user name or password"),
        ("https://93.184.215.14@127.0.0.1/", "user name or password"),
        ("https://93.184.215.14\\@127.0.0.1/", "backslash"),
        ("https://93.184.215.14 /", "spaces"),
        ("https://93.184.215.14/\r\nX-Injected: 1", "control"),
        ("https:///path", "no host"),
        ("https://93.184.215.14:99999/", "not a valid URL"),
        ("https://93.184.215.14:0/", "invalid port"),
        ("", "Enter a URL"),
        ("https://" + "a" * 2100 + ".com/", "longer than"),
    ],
)
def test_malformed_or_wrong_scheme_urls_are_refused(url: str, message: str) -> None:
    with pytest.raises(OutboundRefused) as refused:
        check_url(url)
    assert message in refused.value.message


def test_http_and_private_only_with_allow_private() -> None:
    with pytest.raises(OutboundRefused):
        check_url("http://127.0.0.1:8080/")
    dest = check_url("http://127.0.0.1:8080/x", allow_private=True)
    assert (dest.scheme, dest.address, dest.port) == ("http", "127.0.0.1", 8080)
    with pytest.raises(OutboundRefused, match="user name"):
        check_url("http://u:p@127.0.0.1/", allow_private=True)


def test_display_url_drops_credentials_and_query() -> None:
    assert display_url("https://u:p@hooks.example.com/a/b?token=s#f") == (
        "https://hooks.example.com/a/b"
    )


# --- DNS ------------------------------------------------------------------------------


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[list[str]]]:
    """Names in the returned dict resolve to the next list of addresses (the last repeats);
    every other name goes to the real resolver. Lookups are counted in `calls`."""
    real = socket.getaddrinfo
    table: dict[str, list[list[str]]] = {}
    calls: list[str] = []

    def fake(host, port, *args, **kw):  # type: ignore[no-untyped-def]
        name = host.decode() if isinstance(host, bytes) else host
        if name not in table:
            return real(host, port, *args, **kw)
        calls.append(name)
        answers = table[name]
        addresses = answers.pop(0) if len(answers) > 1 else answers[0]
        out = []
        for a in addresses:
            family = socket.AF_INET6 if ":" in a else socket.AF_INET
            sockaddr = (a, port or 0, 0, 0) if family == socket.AF_INET6 else (a, port or 0)
            out.append((family, socket.SOCK_STREAM, 6, "", sockaddr))
        return out

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    table["__calls__"] = calls  # type: ignore[assignment]
    return table


def test_name_resolving_to_private_address_is_refused(dns) -> None:  # type: ignore[no-untyped-def]
    dns["internal.example.com"] = [["10.0.0.7"]]
    with pytest.raises(OutboundRefused) as refused:
        check_url("https://internal.example.com/hook")
    assert "internal.example.com resolves to 10.0.0.7" in refused.value.message


def test_any_private_answer_refuses_the_name(dns) -> None:  # type: ignore[no-untyped-def]
    dns["mixed.example.com"] = [["93.184.215.14", "2606:4700::1", "::ffff:127.0.0.1"]]
    with pytest.raises(OutboundRefused, match="loopback"):
        check_url("https://mixed.example.com/")


def test_public_name_is_pinned_to_its_first_address(dns) -> None:  # type: ignore[no-untyped-def]
    dns["hooks.example.com"] = [["93.184.215.14", "93.184.215.15"]]
    dest = check_url("https://hooks.example.com/in")
    assert (dest.host, dest.address) == ("hooks.example.com", "93.184.215.14")


def test_unknown_name_is_refused_clearly() -> None:
    with pytest.raises(OutboundRefused, match="could not be found"):
        check_url("https://no-such-host.invalid/")


# --- real connections -----------------------------------------------------------------


class Receiver(BaseHTTPRequestHandler):
    requests: list[dict] = []
    mode = "ok"

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        type(self).requests.append({"path": self.path, "host": self.headers["Host"], "body": body})
        if self.mode == "redirect":
            self.send_response(302)
            self.send_header("Location", "/elsewhere")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.mode == "slow":
            time.sleep(2)
        payload = b"x" * (MAX_RESPONSE_BYTES * 3) if self.mode == "big" else b"ok"
        self.send_response(200)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[int, type[Receiver]]]:
    handler = type("R", (Receiver,), {"requests": [], "mode": "ok"})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], handler
    finally:
        server.shutdown()
        server.server_close()


def test_post_delivers_body_and_headers(receiver) -> None:  # type: ignore[no-untyped-def]
    port, handler = receiver
    status, body = post(
        f"http://127.0.0.1:{port}/in?x=1", b'{"a":1}', {"X-T": "1"}, allow_private=True, timeout=5
    )
    assert (status, body) == (200, b"ok")
    assert handler.requests == [
        {"path": "/in?x=1", "host": f"127.0.0.1:{port}", "body": b'{"a":1}'}
    ]


def test_connection_is_pinned_against_dns_rebinding(dns, receiver) -> None:  # type: ignore[no-untyped-def]
    # First answer (checked) is the receiver; any later lookup would give a black hole.
    port, handler = receiver
    dns["rebind.example.com"] = [["127.0.0.1"], ["192.0.2.1"]]
    status, _ = post(
        f"http://rebind.example.com:{port}/hook", b"{}", {}, allow_private=True, timeout=3
    )
    assert status == 200
    assert dns["__calls__"] == ["rebind.example.com"]  # resolved once, by the check
    assert handler.requests[0]["host"] == f"rebind.example.com:{port}"


def test_redirects_are_not_followed(receiver) -> None:  # type: ignore[no-untyped-def]
    port, handler = receiver
    handler.mode = "redirect"
    status, _ = post(f"http://127.0.0.1:{port}/a", b"{}", {}, allow_private=True, timeout=5)
    assert status == 302
    assert [r["path"] for r in handler.requests] == ["/a"]


def test_response_body_is_capped(receiver) -> None:  # type: ignore[no-untyped-def]
    port, handler = receiver
    handler.mode = "big"
    status, body = post(f"http://127.0.0.1:{port}/", b"{}", {}, allow_private=True, timeout=5)
    assert status == 200
    assert len(body) == MAX_RESPONSE_BYTES


def test_slow_endpoint_times_out(receiver) -> None:  # type: ignore[no-untyped-def]
    port, handler = receiver
    handler.mode = "slow"
    started = time.monotonic()
    with pytest.raises(OutboundError, match="failed"):
        post(f"http://127.0.0.1:{port}/", b"{}", {}, allow_private=True, timeout=0.5)
    assert time.monotonic() - started < 1.8


def test_closed_port_is_an_outbound_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(OutboundError, match="Could not connect"):
        post(f"http://127.0.0.1:{port}/", b"{}", {}, allow_private=True, timeout=2)


# --- TLS: SNI carries the hostname, and the certificate is verified -----------------------


def _self_signed(tmp: Path, name: str) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_tls_uses_hostname_for_sni_and_verifies_certificate(dns, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cert, key = _self_signed(tmp_path, "hooks.example.com")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    seen: list[str | None] = []
    ctx.sni_callback = lambda _sock, name, _ctx: seen.append(name)  # type: ignore[assignment,misc]
    handler = type("R", (Receiver,), {"requests": [], "mode": "ok"})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        dns["hooks.example.com"] = [["127.0.0.1"]]
        port = server.server_address[1]
        with pytest.raises(OutboundError, match="failed"):
            post(f"https://hooks.example.com:{port}/", b"{}", {}, allow_private=True, timeout=3)
        assert seen == ["hooks.example.com"]  # reached the pinned IP, introduced by name
        assert handler.requests == []  # an untrusted certificate: nothing was sent
    finally:
        server.shutdown()
        server.server_close()
