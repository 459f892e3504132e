"""Download the audio behind a public link (YouTube, Vimeo, SoundCloud, podcasts...) with yt-dlp.

yt-dlp runs as a subprocess with every connection going through an EgressProxy, which
vets each hop (page, API calls, redirects, media fragments) against private addresses.
The media comes out on yt-dlp's stdout and goes straight into the caller's sink (an
encrypting writer): plaintext is never written to a file by us. Two passes: a metadata pass
(title, duration, extractor; refuses playlists, live streams and over-long media before
anything is downloaded), then the download pass, capped in bytes and in time.

Errors come out as UrlRefused (the link is not allowed or over a limit) or FetchFailed (it
could not be downloaded); both carry messages fit for users, without the link's query
string (it may hold a token) or paths on this machine.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any, Protocol
from urllib.parse import urlsplit

from flask_babel import gettext as _

from app.ingest.egress_proxy import EgressProxy
from app.security.outbound import MAX_URL_LENGTH, display_url

log = logging.getLogger(__name__)

CHUNK_BYTES = 1024 * 1024
MAX_METADATA_BYTES = 64 * 1024 * 1024
SOCKET_TIMEOUT_S = 30
_STDERR_TAIL_BYTES = 64 * 1024
# tmpfs; mkdtemp makes a private (0700) directory with an unguessable name in it.
_MEMORY_DIR = "/dev/shm"  # noqa: S108
# Only protocols that yt-dlp downloads itself over HTTP(S), i.e. through the proxy: rtmp
# (rtmpdump), rtsp, mms, websockets and the like would bypass it.
_PROTOCOLS = r"^(https?|m3u8|m3u8_native|http_dash_segments|http_dash_segments_generator)$"
FORMAT = f"bestaudio[protocol~='{_PROTOCOLS}']/best[protocol~='{_PROTOCOLS}']"
_EXTRACTOR_NAME = re.compile(r"^[a-z0-9][a-z0-9_.:+-]*$", re.IGNORECASE)
_ALIASES = frozenset({"all", "default", "end"})  # yt-dlp meta-names that widen the list
_URL_IN_TEXT = re.compile(r"[a-z][a-z0-9+.-]*://[^\s'\"<>()]+", re.IGNORECASE)
_PATH_IN_TEXT = re.compile(r"(?<![\w/.:-])(?:~|\.{1,2})?(?:/[\w@%+=,.~-]+){2,}/?")


class UrlRefused(ValueError):
    """The link is not allowed (scheme, address, site, playlist) or is over a limit."""


class FetchFailed(Exception):
    """The link is allowed but its media could not be downloaded."""


@dataclass(frozen=True)
class FetchResult:
    title: str
    duration_s: float | None
    extractor: str
    bytes: int


class Sink(Protocol):
    def write(self, data: bytes, /) -> object: ...


def fetch(
    url: str,
    sink: Sink,
    *,
    max_bytes: int,
    max_duration_s: float,
    extractors: tuple[str, ...],
    allow_private: bool = False,
    allow_http: bool = False,
    timeout_s: float = 3600,
    proxy: EgressProxy | None = None,
) -> FetchResult:
    """Download the best audio of `url` into `sink`; return what was fetched.

    `extractors` is the allowlist of yt-dlp extractor names (e.g. "youtube", "vimeo");
    "generic" (any page or direct file) only when listed. `allow_private` and `allow_http`
    are for tests. `proxy`, not yet started, replaces the default
    EgressProxy(allow_private=..., allow_http=...); fetch starts and stops it.
    Raises UrlRefused or FetchFailed; on either, whatever reached `sink` is to be discarded.
    """
    url = _check_url(url, allow_http=allow_http)
    allowed = _check_extractors(extractors)
    if max_bytes <= 0 or max_duration_s <= 0:
        raise ValueError("max_bytes and max_duration_s must be positive")
    deadline = time.monotonic() + timeout_s
    proxy = proxy or EgressProxy(allow_private=allow_private, allow_http=allow_http)
    shown = display_url(url)
    with proxy, _scratch_dir() as workdir:
        common = _common_args(proxy.url, allowed, workdir)
        info = _metadata(url, common, workdir, deadline, proxy, extractors)
        _vet(info, allowed, max_bytes=max_bytes, max_duration_s=max_duration_s)
        title = str(info.get("title") or "")[:500]
        duration = _number(info.get("duration"))
        extractor = str(info.get("extractor") or "").lower()
        log.info("url fetch: downloading %s (%s, %s s)", shown, extractor, duration)
        size = _download(
            url,
            common,
            sink,
            workdir=workdir,
            deadline=deadline,
            proxy=proxy,
            extractors=extractors,
            max_bytes=max_bytes,
            max_duration_s=max_duration_s,
        )
    log.info("url fetch: %s done, %d bytes", shown, size)
    return FetchResult(title=title, duration_s=duration, extractor=extractor, bytes=size)


# -- checks before anything runs -------------------------------------------------------------


def validate_url(url: str, *, allow_http: bool = False) -> str:
    """The link, normalised, or UrlRefused: checked before anything is stored or queued."""
    return _check_url(url, allow_http=allow_http)


def _check_url(url: str, *, allow_http: bool) -> str:
    url = (url or "").strip()
    if not url:
        raise UrlRefused(_("Paste a link to the audio or video."))
    if len(url) > MAX_URL_LENGTH:
        raise UrlRefused(_("The link is longer than %(max)d characters.", max=MAX_URL_LENGTH))
    if any(c.isspace() or ord(c) < 32 or c in "\\\x7f" for c in url):
        raise UrlRefused(_("The link contains spaces, control characters or backslashes."))
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UrlRefused(_("That is not a valid link.")) from None
    allowed = ("https", "http") if allow_http else ("https",)
    if parts.scheme.lower() not in allowed:
        raise UrlRefused(_("Only https:// links can be imported."))
    if "@" in parts.netloc:
        raise UrlRefused(_("The link must not contain a user name or password."))
    if not (parts.hostname or "").rstrip("."):
        raise UrlRefused(_("The link has no host name."))
    if port == 0:
        raise UrlRefused(_("The link has an invalid port."))
    return url


def _check_extractors(extractors: tuple[str, ...]) -> frozenset[str]:
    names = frozenset(name.strip().lower() for name in extractors)
    if not names:
        raise ValueError("the extractor allowlist is empty")
    for name in names:
        if name in _ALIASES or not _EXTRACTOR_NAME.match(name):
            raise ValueError(f"not an extractor name: {name!r}")
    return names


# -- yt-dlp runs ------------------------------------------------------------------------------


def _common_args(proxy_url: str, allowed: frozenset[str], workdir: str) -> list[str]:
    # yt-dlp reads --use-extractors as regexes (fullmatch): escape, so "youtube" means
    # exactly the "youtube" extractor and not "youtube:tab".
    names = ",".join(re.escape(name) for name in sorted(allowed))
    # ffmpeg would make its own connections (and can read local files): point yt-dlp at an
    # empty directory so it has none to fall back on.
    no_ffmpeg = os.path.join(workdir, "no-ffmpeg")
    os.makedirs(no_ffmpeg, exist_ok=True)
    return [
        "--ignore-config",
        "--no-plugin-dirs",
        "--no-remote-components",
        "--no-cache-dir",
        "--no-cookies",
        "--no-cookies-from-browser",
        "--no-playlist",
        "--no-exec",
        "--proxy",
        proxy_url,
        "--use-extractors",
        names,
        "--downloader",
        "native",
        "--ffmpeg-location",
        no_ffmpeg,
        "--fixup",
        "never",
        "--socket-timeout",
        str(SOCKET_TIMEOUT_S),
        "--retries",
        "3",
        "--fragment-retries",
        "3",
        "--extractor-retries",
        "1",
        "--no-progress",
        "-f",
        FORMAT,
    ]


def _metadata(
    url: str,
    common: list[str],
    workdir: str,
    deadline: float,
    proxy: EgressProxy,
    extractors: tuple[str, ...],
) -> dict[str, Any]:
    out = bytearray()

    def collect(chunk: bytes) -> None:
        if len(out) + len(chunk) > MAX_METADATA_BYTES:
            raise FetchFailed(_("The site returned more information than we can read."))
        out.extend(chunk)

    args = [*common, "--dump-single-json", "--skip-download", "--flat-playlist", "--", url]
    outcome = _run(args, workdir=workdir, deadline=deadline, consume=collect)
    if outcome.timed_out:
        raise FetchFailed(_("Reading the link took too long and was stopped."))
    if outcome.returncode != 0:
        raise _failure(outcome.stderr, proxy, extractors)
    try:
        info = json.loads(out.decode("utf-8", "replace"))
    except ValueError:
        info = None
    if not isinstance(info, dict):
        raise _failure(outcome.stderr, proxy, extractors)
    return info


def _vet(
    info: dict[str, Any], allowed: frozenset[str], *, max_bytes: int, max_duration_s: float
) -> None:
    """Refuse what the metadata pass shows is not to be downloaded."""
    if info.get("_type") in ("playlist", "multi_video"):
        raise UrlRefused(
            _("This link is a playlist or a channel; paste the link to a single video or episode.")
        )
    # yt-dlp keeps delegation within the allowlist; this holds whatever it changes to.
    if str(info.get("extractor") or "").lower() not in allowed:
        raise UrlRefused(_unsupported_message(tuple(sorted(allowed))))
    if info.get("is_live") or info.get("live_status") in ("is_live", "is_upcoming"):
        raise UrlRefused(
            _("Live streams cannot be imported; try again once the broadcast is over.")
        )
    duration = _number(info.get("duration"))
    if duration is not None and duration > max_duration_s:
        raise UrlRefused(
            f"The media is {_human_duration(duration)} long; the limit is "
            f"{_human_duration(max_duration_s)}."
        )
    size = _number(info.get("filesize")) or _number(info.get("filesize_approx"))
    if size is not None and size > max_bytes:
        raise UrlRefused(_too_large_message(max_bytes))


def _download(
    url: str,
    common: list[str],
    sink: Sink,
    *,
    workdir: str,
    deadline: float,
    proxy: EgressProxy,
    extractors: tuple[str, ...],
    max_bytes: int,
    max_duration_s: float,
) -> int:
    written = 0

    def forward(chunk: bytes) -> None:
        nonlocal written
        if written + len(chunk) > max_bytes:
            raise _TooLarge
        sink.write(chunk)
        written += len(chunk)

    args = [
        *common,
        "--max-filesize",
        str(max_bytes),
        # The metadata pass checked the duration exactly; this holds if the second
        # extraction differs. yt-dlp compares whole seconds. Unknown durations pass: the
        # byte cap still holds.
        "--match-filter",
        f"!is_live & duration <=? {math.ceil(max_duration_s)}",
        "--max-downloads",
        "1",
        "--no-part",
        "--no-continue",
        "-o",
        "-",
        "--",
        url,
    ]
    try:
        outcome = _run(args, workdir=workdir, deadline=deadline, consume=forward)
    except _TooLarge:
        raise UrlRefused(_too_large_message(max_bytes)) from None
    if outcome.timed_out:
        raise FetchFailed(_("The download took too long and was stopped."))
    # 101: stopped by --max-downloads after the one download, which is success.
    if outcome.returncode not in (0, 101):
        raise _failure(outcome.stderr, proxy, extractors)
    if written == 0:
        if "does not pass filter" in outcome.stderr:
            raise UrlRefused(
                f"The media is longer than the limit of {_human_duration(max_duration_s)}."
            )
        if "larger than max-filesize" in outcome.stderr:
            raise UrlRefused(_too_large_message(max_bytes))
        raise _failure(outcome.stderr, proxy, extractors, default="The link gave no media.")
    return written


class _TooLarge(Exception):
    pass


@dataclass(frozen=True)
class _Outcome:
    returncode: int
    stderr: str
    timed_out: bool


def _run(
    args: list[str], *, workdir: str, deadline: float, consume: Callable[[bytes], None]
) -> _Outcome:
    """Run yt-dlp, feeding its stdout to `consume` in 1 MiB reads, killed at `deadline`.

    If `consume` raises, the process group is killed and the exception propagates.
    """
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        return _Outcome(-1, "", timed_out=True)
    cmd = [sys.executable, "-I", "-X", "utf8", "-m", "yt_dlp", *args]
    proc = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
        cmd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=workdir,
        env=_environment(workdir),
        start_new_session=True,  # its own process group, so a kill takes its children too
    )
    assert proc.stdout is not None and proc.stderr is not None
    guard = _Reaper(proc)
    timer = threading.Timer(remaining, guard.kill_for_timeout)
    timer.daemon = True
    stderr = _Tail(proc.stderr)
    timer.start()
    try:
        while chunk := proc.stdout.read(CHUNK_BYTES):
            consume(chunk)
    except BaseException:
        guard.kill()
        raise
    finally:
        timer.cancel()
        returncode = guard.reap()
        stderr.join(timeout=5)
        proc.stdout.close()
        proc.stderr.close()
    return _Outcome(returncode, stderr.text(), timed_out=guard.timed_out)


class _Reaper:
    """Kills the process group only while its leader is unreaped (its id cannot be reused)."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self._proc = proc
        self._lock = threading.Lock()
        self._reaped = False
        self.timed_out = False

    def kill_for_timeout(self) -> None:
        self.timed_out = True
        self.kill()

    def kill(self) -> None:
        with self._lock:
            if not self._reaped:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self._proc.pid, signal.SIGKILL)

    def reap(self) -> int:
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()
        with self._lock:
            returncode = self._proc.wait()
            self._reaped = True
        return returncode


class _Tail(threading.Thread):
    """Drains a pipe (so the child never blocks on it) and keeps its last bytes."""

    def __init__(self, pipe: IO[bytes]) -> None:
        super().__init__(name="yt-dlp-stderr", daemon=True)
        self._pipe = pipe
        self._buf = bytearray()
        self.start()

    def run(self) -> None:
        while data := self._pipe.read1(64 * 1024):  # type: ignore[attr-defined]
            self._buf.extend(data)
            del self._buf[:-_STDERR_TAIL_BYTES]

    def text(self) -> str:
        return self._buf.decode("utf-8", "replace")


def _environment(workdir: str) -> dict[str, str]:
    # Nothing inherited that could redirect traffic (*_proxy) or load config or code.
    return {
        "PATH": os.environ.get("PATH", os.defpath),
        "HOME": workdir,
        "TMPDIR": workdir,
        "XDG_CACHE_HOME": workdir,
        "XDG_CONFIG_HOME": workdir,
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
    }


@contextlib.contextmanager
def _scratch_dir() -> Iterator[str]:
    """yt-dlp's working directory; its HLS/DASH fragments pass through files here.

    /dev/shm (memory) is preferred so those plaintext fragments never reach a disk.
    """
    base = _MEMORY_DIR if os.path.isdir(_MEMORY_DIR) and os.access(_MEMORY_DIR, os.W_OK) else None
    with tempfile.TemporaryDirectory(prefix="verbatim-fetch-", dir=base) as path:
        yield path


# -- messages ---------------------------------------------------------------------------------


def _failure(
    stderr: str,
    proxy: EgressProxy,
    extractors: tuple[str, ...],
    default: str = "The download failed.",
) -> Exception:
    """The exception that explains a failed yt-dlp run to the user."""
    error = _error_line(stderr)
    lowered = error.lower()
    if re.search(r"\bdrm\b", lowered):
        return FetchFailed(_("This video is DRM-protected and cannot be downloaded"))
    refused = proxy.refused
    if refused:
        return UrlRefused(refused[0].reason)
    if "unsupported url" in lowered or "no suitable extractor" in lowered:
        return UrlRefused(_unsupported_message(extractors))
    status = re.search(r"http error (\d{3})", lowered)
    if status:
        return FetchFailed(_http_message(int(status[1])))
    if "not a bot" in lowered:
        return FetchFailed(_("The site wants to confirm this is not a bot; try again later."))
    if any(s in lowered for s in ("private video", "sign in", "log in", "login", "members-only")):
        return FetchFailed(_("This media is private or needs an account; only public links work."))
    if "requested format is not available" in lowered:
        return FetchFailed(_("No downloadable audio was found at this link."))
    failed = proxy.failed
    if failed:
        return FetchFailed(failed[0].reason)
    if error:
        return FetchFailed(f"The download failed: {_clean(error)}")
    return FetchFailed(default)


def _error_line(stderr: str) -> str:
    for line in stderr.splitlines():
        if line.startswith("ERROR:"):
            return line[len("ERROR:") :].strip()
    return ""


def _clean(message: str) -> str:
    """yt-dlp's message without report-a-bug advice, URL queries or local paths."""
    message = re.split(r";? ?please report this issue|\(caused by ", message, maxsplit=1)[0]
    pieces: list[str] = []
    last = 0
    for m in _URL_IN_TEXT.finditer(message):
        pieces.append(_PATH_IN_TEXT.sub("[path]", message[last : m.start()]))
        pieces.append(display_url(m.group(0)))
        last = m.end()
    pieces.append(_PATH_IN_TEXT.sub("[path]", message[last:]))
    text = "".join(pieces).strip().rstrip(";,:")
    return text if len(text) <= 300 else text[:299] + "…"


def _http_message(status: int) -> str:
    if status == 404:
        return "The link was not found (HTTP 404): check that it is correct and still online."
    if status == 410:
        return "The media at this link has been removed (HTTP 410)."
    if status in (401, 403):
        return f"The site refused access (HTTP {status}); only public links can be imported."
    if status == 429:
        return "The site is limiting downloads right now (HTTP 429); try again later."
    if status >= 500:
        return f"The site had an error (HTTP {status}); try again later."
    return f"The site answered with HTTP {status}."


def _unsupported_message(extractors: tuple[str, ...]) -> str:
    sites = ", ".join(sorted({name.lower() for name in extractors}))
    return f"Links from this site are not supported. Supported sources: {sites}."


def _too_large_message(max_bytes: int) -> str:
    return f"The media is larger than the limit of {_human_size(max_bytes)}."


def _human_size(n: int) -> str:
    for unit, scale in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}".replace(".0 ", " ")
    return f"{n} bytes"


def _human_duration(seconds: float) -> str:
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    return f"{secs} s"


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)
