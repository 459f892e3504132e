"""URL ingest end to end: real yt-dlp runs, through the real egress proxy, against real HTTP
servers on loopback serving audio made with ffmpeg.

Loopback is only reachable with allow_private=True (or through a proxy allowing 127.0.0.1
alone), which is how these tests stand in for a public site.
"""

from __future__ import annotations

import functools
import io
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from app.ingest.egress_proxy import EgressProxy
from app.ingest.url_fetch import FetchFailed, FetchResult, UrlRefused, _clean, fetch

MIB = 1024 * 1024
GENERIC = ("generic",)
LOCAL = {"allow_private": True, "allow_http": True}


def _mp3(path: Path, seconds: int) -> None:
    subprocess.run(
        [
            *("ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi"),
            *("-i", f"sine=frequency=440:duration={seconds}", "-c:a", "libmp3lame", str(path)),
        ],
        check=True,
    )


def _json_ld_page(title: str, media_url: str, iso_duration: str) -> str:
    return (
        f"<html><head><title>{title}</title>"
        '<script type="application/ld+json">{"@context": "https://schema.org", '
        f'"@type": "AudioObject", "name": "{title}", "contentUrl": "{media_url}", '
        f'"encodingFormat": "audio/mpeg", "duration": "{iso_duration}"}}</script>'
        "</head><body>A talk</body></html>"
    )


class Site:
    """A ThreadingHTTPServer on `host` serving `root`, plus a few special routes."""

    def __init__(self, root: Path, host: str = "127.0.0.1") -> None:
        self.root = root
        self.paths: list[str] = []
        self.redirect_to = ""
        self.changing_page: list[str] = []  # /changing.html: one per request, the last repeats
        self.release = threading.Event()  # lets /stall.mp3 end
        self.stream_ended = threading.Event()
        site = self

        class Handler(SimpleHTTPRequestHandler):
            def do_GET(self) -> None:
                site.paths.append(self.path)
                route = self.path.split("?", 1)[0]
                if route == "/go":
                    self.send_response(302)
                    self.send_header("Location", site.redirect_to)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                elif route == "/changing.html":
                    pages = site.changing_page
                    body = (pages.pop(0) if len(pages) > 1 else pages[0]).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "text/html; charset=utf-8")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                elif route == "/stream.mp3":
                    self._endless()
                elif route == "/stall.mp3":
                    self.send_response(200)
                    self.send_header("Content-Type", "audio/mpeg")
                    self.send_header("Content-Length", "10000000")
                    self.end_headers()
                    site.release.wait(30)
                else:
                    super().do_GET()

            def _endless(self) -> None:
                # A radio-like stream: no length, never ends unless the client goes away.
                self.send_response(200)
                self.send_header("Content-Type", "audio/mpeg")
                self.send_header("Connection", "close")
                self.end_headers()
                block = (site.root / "x.mp3").read_bytes()
                try:
                    while True:
                        self.wfile.write(block)
                except OSError:
                    site.stream_ended.set()
                self.close_connection = True

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer((host, 0), functools.partial(Handler, directory=root))
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.base = f"http://{host}:{self.port}"
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("media")
    _mp3(root / "x.mp3", 3)
    _mp3(root / "long.mp3", 20)
    return root


@pytest.fixture
def site(media: Path) -> Iterator[Site]:
    server = Site(media)
    (media / "long.html").write_text(
        _json_ld_page("Long talk", f"{server.base}/long.mp3", "PT20S"), encoding="utf-8"
    )
    (media / "short.html").write_text(
        _json_ld_page("Short talk", f"{server.base}/x.mp3?sig=abc", "PT3S"), encoding="utf-8"
    )
    (media / "feed.xml").write_text(
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Show</title>'
        f"<link>{server.base}/</link>"
        f'<item><title>One</title><enclosure url="{server.base}/x.mp3" type="audio/mpeg"/>'
        "<guid>1</guid></item>"
        f'<item><title>Two</title><enclosure url="{server.base}/long.mp3" type="audio/mpeg"/>'
        "<guid>2</guid></item></channel></rss>",
        encoding="utf-8",
    )
    (media / "empty.html").write_text("<html><body>Nothing here</body></html>", encoding="utf-8")
    hls = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:3\n{key}"
    hls += "#EXTINF:3.0,\nx.mp3?part=1\n#EXTINF:3.0,\nx.mp3?part=2\n#EXT-X-ENDLIST\n"
    (media / "hls.m3u8").write_text(hls.format(key=""), encoding="utf-8")
    (media / "drm.m3u8").write_text(
        hls.format(key='#EXT-X-KEY:METHOD=SAMPLE-AES,URI="skd://key"\n'), encoding="utf-8"
    )
    yield server
    server.close()


class Sink:
    def __init__(self) -> None:
        self.buffer = io.BytesIO()
        self.writes: list[int] = []

    def write(self, data: bytes) -> int:
        self.writes.append(len(data))
        return self.buffer.write(data)

    @property
    def data(self) -> bytes:
        return self.buffer.getvalue()


def test_a_direct_file_is_downloaded_byte_for_byte(site: Site, media: Path) -> None:
    sink = Sink()
    result = fetch(
        f"{site.base}/x.mp3?token=abc",
        sink,
        max_bytes=10 * MIB,
        max_duration_s=60,
        extractors=GENERIC,
        **LOCAL,
    )
    expected = (media / "x.mp3").read_bytes()
    assert sink.data == expected
    assert result == FetchResult(
        title="x", duration_s=None, extractor="generic", bytes=len(expected)
    )


def test_title_and_duration_come_from_the_page(site: Site, media: Path) -> None:
    sink = Sink()
    result = fetch(
        f"{site.base}/short.html",
        sink,
        max_bytes=10 * MIB,
        max_duration_s=60,
        extractors=GENERIC,
        **LOCAL,
    )
    assert result.title == "Short talk"
    assert result.duration_s == 3.0
    assert sink.data == (media / "x.mp3").read_bytes()


def test_hls_fragments_are_fetched_natively_through_the_proxy(site: Site, media: Path) -> None:
    sink = Sink()
    result = fetch(
        f"{site.base}/hls.m3u8",
        sink,
        max_bytes=10 * MIB,
        max_duration_s=60,
        extractors=GENERIC,
        **LOCAL,
    )
    assert sink.data == (media / "x.mp3").read_bytes() * 2  # the two fragments, in order
    assert result.duration_s == 6.0
    assert "/x.mp3?part=1" in site.paths and "/x.mp3?part=2" in site.paths


def test_drm_protected_media_is_a_clear_failure(site: Site) -> None:
    sink = Sink()
    with pytest.raises(FetchFailed) as caught:
        fetch(
            f"{site.base}/drm.m3u8",
            sink,
            max_bytes=10 * MIB,
            max_duration_s=60,
            extractors=GENERIC,
            **LOCAL,
        )
    assert str(caught.value) == "This video is DRM-protected and cannot be downloaded"
    assert sink.data == b""
    assert not any(path.startswith("/x.mp3") for path in site.paths)


def test_too_long_media_is_refused_before_it_is_downloaded(site: Site) -> None:
    sink = Sink()
    with pytest.raises(UrlRefused, match=r"^The media is 20 s long; the limit is 5 s\.$"):
        fetch(
            f"{site.base}/long.html",
            sink,
            max_bytes=10 * MIB,
            max_duration_s=5,
            extractors=GENERIC,
            **LOCAL,
        )
    assert sink.data == b""
    assert site.paths == ["/long.html"]  # the media itself was never requested


def test_a_duration_that_grows_between_the_passes_is_still_refused(site: Site) -> None:
    # The page claims 3 s when metadata is read, 20 s when the download runs.
    site.changing_page = [
        _json_ld_page("Talk", f"{site.base}/long.mp3", "PT3S"),
        _json_ld_page("Talk", f"{site.base}/long.mp3", "PT20S"),
    ]
    sink = Sink()
    with pytest.raises(UrlRefused, match=r"^The media is longer than the limit of 5 s\.$"):
        fetch(
            f"{site.base}/changing.html",
            sink,
            max_bytes=10 * MIB,
            max_duration_s=5,
            extractors=GENERIC,
            **LOCAL,
        )
    assert sink.data == b""
    assert site.paths == ["/changing.html", "/changing.html"]


def test_a_known_size_over_the_limit_is_refused(site: Site) -> None:
    sink = Sink()
    with pytest.raises(UrlRefused, match=r"larger than the limit of 10 kB"):
        fetch(
            f"{site.base}/long.mp3",
            sink,
            max_bytes=10_000,
            max_duration_s=60,
            extractors=GENERIC,
            **LOCAL,
        )
    assert sink.data == b""


def test_a_stream_over_the_limit_is_cut_off(site: Site) -> None:
    # No Content-Length and no end: only the byte count can stop this one.
    sink = Sink()
    with pytest.raises(UrlRefused, match=r"larger than the limit of 2.5 MB"):
        fetch(
            f"{site.base}/stream.mp3",
            sink,
            max_bytes=2_500_000,
            max_duration_s=60,
            extractors=GENERIC,
            timeout_s=60,
            **LOCAL,
        )
    assert len(sink.data) <= 2_500_000
    assert sink.writes and all(n <= MIB for n in sink.writes)
    # yt-dlp was killed: its connection (through the proxy) to the stream went away.
    assert site.stream_ended.wait(10)


def test_a_download_past_the_deadline_is_killed(site: Site) -> None:
    started = time.monotonic()
    with pytest.raises(FetchFailed, match=r"took too long"):
        fetch(
            f"{site.base}/stall.mp3",
            Sink(),
            max_bytes=20 * MIB,
            max_duration_s=60,
            extractors=GENERIC,
            timeout_s=2,
            **LOCAL,
        )
    assert time.monotonic() - started < 12  # not yt-dlp's own 30 s socket timeout


def test_a_missing_file_is_a_clear_failure_without_the_query(site: Site) -> None:
    with pytest.raises(FetchFailed) as caught:
        fetch(
            f"{site.base}/missing.mp3?token=s3cret",
            Sink(),
            max_bytes=MIB,
            max_duration_s=60,
            extractors=GENERIC,
            **LOCAL,
        )
    assert not isinstance(caught.value, UrlRefused)
    assert str(caught.value) == (
        "The link was not found (HTTP 404): check that it is correct and still online."
    )


def test_a_site_outside_the_allowlist_is_refused(site: Site) -> None:
    with pytest.raises(UrlRefused) as caught:
        fetch(
            f"{site.base}/x.mp3?token=s3cret",
            Sink(),
            max_bytes=MIB,
            max_duration_s=60,
            extractors=("youtube", "vimeo", "soundcloud"),
            **LOCAL,
        )
    assert str(caught.value) == (
        "Links from this site are not supported. Supported sources: soundcloud, vimeo, youtube."
    )
    assert site.paths == []


def test_a_page_without_media_is_refused_as_unsupported(site: Site) -> None:
    with pytest.raises(UrlRefused, match=r"^Links from this site are not supported"):
        fetch(
            f"{site.base}/empty.html",
            Sink(),
            max_bytes=MIB,
            max_duration_s=60,
            extractors=GENERIC,
            **LOCAL,
        )


def test_a_playlist_is_refused(site: Site) -> None:
    with pytest.raises(UrlRefused, match=r"playlist"):
        fetch(
            f"{site.base}/feed.xml",
            Sink(),
            max_bytes=10 * MIB,
            max_duration_s=60,
            extractors=GENERIC,
            **LOCAL,
        )
    assert "/x.mp3" not in site.paths and "/long.mp3" not in site.paths


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_a_private_address_is_refused_without_the_test_switch(site: Site, host: str) -> None:
    with pytest.raises(UrlRefused) as caught:
        fetch(
            f"http://{host}:{site.port}/x.mp3",
            Sink(),
            max_bytes=MIB,
            max_duration_s=60,
            extractors=GENERIC,
            allow_http=True,
        )
    assert "private or internal network address" in str(caught.value)
    assert "loopback" in str(caught.value)
    assert site.paths == []


@pytest.fixture
def second_site(media: Path) -> Iterator[Site]:
    server = Site(media, host="127.0.0.2")
    yield server
    server.close()


@pytest.mark.parametrize(
    ("target", "why"),
    [
        ("http://127.0.0.2:{port}/x.mp3", "127.0.0.2 is a loopback address"),
        ("https://127.0.0.2:{port}/x.mp3", "127.0.0.2 is a loopback address"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://[::ffff:127.0.0.2]:{port}/x.mp3", "IPv6-wrapped loopback"),
    ],
)
def test_a_redirect_to_a_private_address_is_refused(
    site: Site, second_site: Site, media: Path, target: str, why: str
) -> None:
    # The first hop is allowed (the proxy lets 127.0.0.1 through, standing in for a public
    # site); the redirect it answers with must be checked on its own.
    site.redirect_to = target.format(port=second_site.port)
    proxy = EgressProxy(allow_http=True, allow_networks=["127.0.0.1/32"])
    sink = Sink()
    with pytest.raises(UrlRefused) as caught:
        fetch(
            f"{site.base}/go",
            sink,
            max_bytes=MIB,
            max_duration_s=60,
            extractors=GENERIC,
            allow_http=True,
            proxy=proxy,
        )
    assert why in str(caught.value)
    assert site.paths and all(path == "/go" for path in site.paths)
    assert second_site.paths == []
    assert sink.data == b""


def test_the_same_redirect_is_followed_when_its_target_is_allowed(
    site: Site, second_site: Site, media: Path
) -> None:
    # The control for the test above: the redirect works, so the refusal is the address.
    site.redirect_to = f"{second_site.base}/x.mp3"
    proxy = EgressProxy(allow_http=True, allow_networks=["127.0.0.1/32", "127.0.0.2/32"])
    sink = Sink()
    result = fetch(
        f"{site.base}/go",
        sink,
        max_bytes=MIB,
        max_duration_s=60,
        extractors=GENERIC,
        allow_http=True,
        proxy=proxy,
    )
    assert sink.data == (media / "x.mp3").read_bytes()
    assert result.bytes == len(sink.data)
    assert "/x.mp3" in second_site.paths
    assert proxy.refused == ()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://127.0.0.1:{port}/x.mp3", "Only https:// links can be imported."),
        ("file:///etc/passwd", "Only https:// links can be imported."),
        ("javascript:alert(1)", "Only https:// links can be imported."),
        ("http://127.0.0.1:{port}/x.mp3", "Only https:// links can be imported."),
        ("//127.0.0.1:{port}/x.mp3", "Only https:// links can be imported."),
        ("https://user:pw@127.0.0.1:{port}/x.mp3", "must not contain a user name or password"),
        ("https:///x.mp3", "The link has no host name."),
        ("https://127.0.0.1:{port}/x y.mp3", "spaces, control characters or backslashes"),
        ("https://127.0.0.1:99999/x.mp3", "That is not a valid link."),
        ("https://127.0.0.1:{port}/" + "a" * 2100, "longer than 2048 characters"),
        ("", "Paste a link"),
    ],
)
def test_bad_links_are_refused_before_anything_runs(site: Site, url: str, message: str) -> None:
    with pytest.raises(UrlRefused) as caught:
        fetch(
            url.format(port=site.port),
            Sink(),
            max_bytes=MIB,
            max_duration_s=60,
            extractors=GENERIC,
            allow_private=True,  # so only the link itself can be the reason
        )
    assert message in str(caught.value)
    assert site.paths == []


@pytest.mark.parametrize("extractors", [(), ("all",), ("default",), ("-generic",), ("you.*",)])
def test_the_allowlist_must_name_extractors(extractors: tuple[str, ...]) -> None:
    with pytest.raises(ValueError) as caught:
        fetch(
            "https://example.com/x.mp3",
            Sink(),
            max_bytes=MIB,
            max_duration_s=60,
            extractors=extractors,
        )
    assert not isinstance(caught.value, UrlRefused)


def test_yt_dlp_messages_lose_paths_queries_and_bug_report_advice() -> None:
    line = (
        "[generic] x: Unable to download webpage: <urlopen error [Errno 2] No such file or "
        "directory: '/srv/verbatim/.venv/lib/python3.11/site-packages/certifi/cacert.pem'> "
        "(caused by URLError(FileNotFoundError(2))); please report this issue on  "
        "https://github.com/yt-dlp/yt-dlp/issues?q= , filling out the appropriate issue template"
    )
    assert _clean(line) == (
        "[generic] x: Unable to download webpage: <urlopen error [Errno 2] No such file or "
        "directory: '[path]'>"
    )
    line = "[vimeo] 1: Unable to fetch https://u:p@cdn.example.com/a/b.m3u8?sig=s3cret&exp=1 now"
    assert _clean(line) == "[vimeo] 1: Unable to fetch https://cdn.example.com/a/b.m3u8 now"
