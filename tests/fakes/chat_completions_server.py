"""A local server speaking OpenAI's Chat Completions wire format, for exercising the
`openai` provider through the official client (no request ever leaves the machine).

What it implements, with OpenAI's answers and error shape
({"error": {"message", "type", "param", "code"}}):

- POST /v1/chat/completions: the request is checked as OpenAI checks it (model, messages
  with roles and content, max_tokens / max_completion_tokens, stream_options only with
  stream); the answer is JSON, or with "stream": true `text/event-stream` of
  `data: {chunk}` events ending in `data: [DONE]`, the last chunk carrying usage when
  stream_options.include_usage is set. max_tokens is honoured (the text is cut and
  finish_reason is "length").
- GET /v1/models (and /v1/models/{id}).
- A bearer key when one is configured: a missing or wrong key is 401. The message echoes
  the key it was given, as careless servers do, so tests can prove we never show it.
- Optional limits as a real deployment has them: `models` (others are 404
  model_not_found), `context_tokens` (a longer prompt is 400 context_length_exceeded),
  `reject_max_tokens` (400 as OpenAI's reasoning models answer to `max_tokens`).

Behaviour is scripted with `Reply` objects queued by `script()` and consumed one per
chat request, in order; with none queued the default responder answers. The default is
deterministic and useful to whole-feature tests: it cites the first one or two citation
labels ("[00:05]", "[T2 1:02:03]") found in the last user message, quoting a few words of
the first cited line, e.g. 'Summary of the part given, starting with "Alice: we looked
at pricing" [00:05]. It continues [00:12].', or says nothing matched when there is no
label. Token counts are characters / 4, as in app/ai/provider.estimate_tokens.

Every request is recorded in `.requests` (method, path, headers without Authorization,
JSON body), so tests can assert what reached the provider, and that nothing did.
`hold()` pauses replies (a stream after its first piece, so a browser can watch deltas
arrive) until `release()`; `.held` is set while one waits.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DEFAULT_MODEL = "verbatim-test-model"
LABEL = re.compile(r"\[(?:T\d+ )?(?:\d{1,2}:)?\d{1,2}:\d{2}\]")
ROLES = {"system", "developer", "user", "assistant", "tool"}
QUOTED_WORDS = 8

Responder = Callable[[dict[str, Any]], str]


def count_tokens(text: str) -> int:
    """The server's rough tokenizer: characters / 4 (nothing at all for no text)."""
    return (len(text) + 3) // 4


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: [{"type": "text", "text": ...}]
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def prompt_text(body: dict[str, Any]) -> str:
    return "\n".join(_content_text(m.get("content")) for m in body.get("messages", []))


def last_user_message(body: dict[str, Any]) -> str:
    for message in reversed(body.get("messages", [])):
        if message.get("role") == "user":
            return _content_text(message.get("content"))
    return ""


def default_answer(body: dict[str, Any]) -> str:
    """Cite the first one or two labels of the last user message, deterministically."""
    text = last_user_message(body)
    labels = list(dict.fromkeys(LABEL.findall(text)))
    if not labels:
        return "The excerpts given do not mention that."
    first = labels[0]
    after = re.search(re.escape(first) + r"[ \t]*([^\n]*)", text)
    words = after.group(1).split()[:QUOTED_WORDS] if after else []
    quote = f', starting with "{" ".join(words)}"' if words else ""
    answer = f"Summary of the part given{quote} {first}."
    if len(labels) > 1:
        answer += f" It continues {labels[1]}."
    return answer


def split_pieces(text: str, count: int | None) -> list[str]:
    """The stream's content deltas: one per word (with its trailing space), or `count`
    nearly equal pieces. Joined, they are exactly `text`."""
    if not text:
        return []
    if count is None:
        return re.findall(r"\s*\S+\s*", text) or [text]
    count = max(1, min(count, len(text)))
    size, extra = divmod(len(text), count)
    pieces, start = [], 0
    for i in range(count):
        end = start + size + (1 if i < extra else 0)
        pieces.append(text[start:end])
        start = end
    return pieces


def error_body(message: str, kind: str, code: str | None = None, param: str | None = None) -> dict:
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


@dataclass
class Reply:
    """One scripted answer to a chat request. Use the constructors below."""

    text: str | None = None  # None: the responder writes it
    chunks: int | None = None  # streamed as this many pieces; None: one per word
    status: int = 200
    error: dict | None = None  # the JSON body of an error status
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering (a slow or hung server)
    usage: bool = True  # False: no usage, in the JSON answer or at the end of a stream
    finish_reason: str = "stop"
    no_choices: bool = False  # a 200 answer whose "choices" is empty
    refusal: str | None = None  # the model declined (content null, refusal set)
    broken: str | None = None  # streamed: this raw data line follows `broken_after` pieces
    broken_after: int = 1
    drop_after: int | None = None  # streamed: the connection dies after this many pieces
    raw_body: str | None = None  # a 200 JSON answer replaced by these bytes as they are

    @classmethod
    def say(cls, text: str, *, chunks: int | None = None) -> Reply:
        return cls(text=text, chunks=chunks)

    @classmethod
    def without_usage(cls, text: str | None = None) -> Reply:
        return cls(text=text, usage=False)

    @classmethod
    def rate_limited(cls, retry_after: str | None = "0") -> Reply:
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        return cls(
            status=429,
            headers=headers,
            error=error_body(
                "Rate limit reached for requests. Please try again later.",
                "requests",
                "rate_limit_exceeded",
            ),
        )

    @classmethod
    def server_error(cls, status: int = 500, headers: dict[str, str] | None = None) -> Reply:
        return cls(
            status=status,
            headers=headers or {},
            error=error_body(
                "The server had an error while processing your request. Sorry about that!",
                "server_error",
            ),
        )

    @classmethod
    def bad_request(
        cls, message: str, *, code: str | None = None, param: str | None = None
    ) -> Reply:
        return cls(status=400, error=error_body(message, "invalid_request_error", code, param))

    @classmethod
    def context_too_long(cls, limit: int = 8192, used: int = 9000) -> Reply:
        return cls.bad_request(_context_message(limit, used), code="context_length_exceeded")

    @classmethod
    def slow(cls, seconds: float, text: str | None = None) -> Reply:
        return cls(text=text, delay=seconds)

    @classmethod
    def malformed(cls, after: int = 1, line: str = "{not json", text: str | None = None) -> Reply:
        return cls(text=text, broken=line, broken_after=after)

    @classmethod
    def dropped(cls, after: int = 1, text: str | None = None) -> Reply:
        return cls(text=text, drop_after=after)

    @classmethod
    def filtered(cls, text: str = "") -> Reply:
        return cls(text=text, finish_reason="content_filter")

    @classmethod
    def empty(cls) -> Reply:
        return cls(text="", no_choices=True)


def _context_message(limit: int, used: int) -> str:
    return (
        f"This model's maximum context length is {limit} tokens. However, your messages "
        f"resulted in {used} tokens. Please reduce the length of the messages."
    )


@dataclass(frozen=True)
class SeenRequest:
    method: str
    path: str
    headers: dict[str, str]  # lower-cased names, Authorization left out
    body: Any  # the parsed JSON body, or None
    authorized: bool  # the bearer key matched (always True when none is configured)

    @property
    def messages(self) -> list[dict[str, Any]]:
        return self.body.get("messages", []) if isinstance(self.body, dict) else []

    @property
    def streamed(self) -> bool:
        return isinstance(self.body, dict) and self.body.get("stream") is True


class _Stop(Exception):
    """The server is shutting down while a reply waits."""


class ChatCompletionsServer:
    def __init__(
        self,
        *,
        api_key: str | None = None,
        models: Sequence[str] | None = None,  # None: any model is served
        context_tokens: int | None = None,
        reject_max_tokens: bool = False,
        responder: Responder = default_answer,
    ) -> None:
        self.api_key = api_key
        self.models = tuple(models) if models is not None else None
        self.context_tokens = context_tokens
        self.reject_max_tokens = reject_max_tokens
        self.responder = responder
        self.held = threading.Event()
        self._gate = threading.Event()
        self._gate.set()
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._replies: deque[Reply] = deque()
        self._requests: list[SeenRequest] = []
        self._ids = itertools.count(1)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # --- Life -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> ChatCompletionsServer:
        handler = type("Handler", (_Handler,), {"fake": self})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        self.port = server.server_address[1]
        self._stopping.clear()
        self._server = server
        # A short poll interval: shutdown() waits for it, once per test.
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            daemon=True,
            name="fake-chat-completions",
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # frees replies waiting on a delay or at the gate
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> ChatCompletionsServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- Script -----------------------------------------------------------------------

    def script(self, *replies: Reply) -> None:
        """Queue replies for the next chat requests, in order."""
        with self._lock:
            self._replies.extend(replies)

    def pending(self) -> int:
        """Scripted replies not used yet."""
        with self._lock:
            return len(self._replies)

    def hold(self) -> None:
        """Pause replies until release(): streams after their first piece, JSON answers
        before they are sent."""
        self._gate.clear()

    def release(self) -> None:
        self._gate.set()

    def reset(self) -> None:
        with self._lock:
            self._replies.clear()
            self._requests.clear()
        self.held.clear()
        self._gate.set()

    @property
    def requests(self) -> list[SeenRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def chat_requests(self) -> list[SeenRequest]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    # --- For the handler --------------------------------------------------------------

    def _record(self, request: SeenRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _next_reply(self) -> Reply:
        with self._lock:
            return self._replies.popleft() if self._replies else Reply()

    def _next_id(self) -> str:
        return f"chatcmpl-fake{next(self._ids)}"

    def _sleep(self, seconds: float) -> None:
        if self._stopping.wait(seconds):
            raise _Stop

    def _wait_gate(self) -> None:
        if self._gate.is_set():
            return
        self.held.set()
        while not self._gate.wait(0.02):
            if self._stopping.is_set():
                raise _Stop


class _Handler(BaseHTTPRequestHandler):
    fake: ChatCompletionsServer
    protocol_version = "HTTP/1.1"  # keep-alive, and chunked streams, as real servers do

    def log_message(self, format: str, *args: Any) -> None:
        pass  # tests read .requests; the log would only add noise

    def handle(self) -> None:
        # The client may hang up at any time: a stream closed early, a timeout.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            super().handle()

    # --- Plumbing ---------------------------------------------------------------------

    def _body(self) -> tuple[Any, bool]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return None, True
        try:
            return json.loads(raw), True
        except ValueError:
            return None, False

    def _authorized(self) -> bool:
        key = self.fake.api_key
        return key is None or self.headers.get("Authorization") == f"Bearer {key}"

    def _record(self, body: Any) -> bool:
        authorized = self._authorized()
        headers = {k.lower(): v for k, v in self.headers.items() if k.lower() != "authorization"}
        path = self.path.split("?", 1)[0]
        self.fake._record(SeenRequest(self.command, path, headers, body, authorized))
        return authorized

    def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        raw = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.send_header("x-request-id", f"req_fake{self.fake.port}")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(raw)

    def _refuse_key(self) -> None:
        given = self.headers.get("Authorization", "")
        if not given.startswith("Bearer "):
            message = (
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
            )
            self._send_json(401, error_body(message, "invalid_request_error"))
            return
        message = f"Incorrect API key provided: {given.removeprefix('Bearer ')}."
        self._send_json(401, error_body(message, "invalid_request_error", "invalid_api_key"))

    def _run(self, answer: Callable[[], None]) -> None:
        try:
            answer()
        except _Stop:
            self.close_connection = True
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (a timeout): nothing to say

    # --- Routes -----------------------------------------------------------------------

    def do_GET(self) -> None:
        self._run(self._get)

    def do_POST(self) -> None:
        self._run(self._post)

    def _get(self) -> None:
        if not self._record(None):
            self._refuse_key()
            return
        path = self.path.split("?", 1)[0].rstrip("/")
        served = self.fake.models or (DEFAULT_MODEL,)
        if path == "/v1/models":
            self._send_json(200, {"object": "list", "data": [_model(m) for m in served]})
        elif path.startswith("/v1/models/") and path.removeprefix("/v1/models/") in served:
            self._send_json(200, _model(path.removeprefix("/v1/models/")))
        elif path.startswith("/v1/models/"):
            self._send_json(404, _unknown_model(path.removeprefix("/v1/models/")))
        else:
            self._send_json(404, _invalid_url("GET", path))

    def _post(self) -> None:
        body, parsed = self._body()
        if not self._record(body):
            self._refuse_key()
            return
        path = self.path.split("?", 1)[0].rstrip("/")
        if path != "/v1/chat/completions":
            self._send_json(404, _invalid_url("POST", path))
            return
        if not parsed:
            message = "We could not parse the JSON body of your request."
            self._send_json(400, error_body(message, "invalid_request_error"))
            return
        reply = self.fake._next_reply()
        if reply.delay:
            self.fake._sleep(reply.delay)
        if reply.status != 200:
            self._send_json(reply.status, reply.error or {}, reply.headers)
            return
        refusal = self._check(body)
        if refusal is not None:
            self._send_json(*refusal)
            return
        self._answer(body, reply)

    def _check(self, body: Any) -> tuple[int, dict] | None:
        """What OpenAI refuses before generating anything, as (status, error body)."""

        def bad(message: str, param: str | None = None, code: str | None = None) -> tuple:
            return 400, error_body(message, "invalid_request_error", code, param)

        if not isinstance(body, dict):
            return bad("The request body must be a JSON object.")
        model = body.get("model")
        if not isinstance(model, str) or not model:
            return bad("you must provide a model parameter", "model")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return bad("'messages' must be a non-empty array.", "messages")
        for i, m in enumerate(messages):
            if not isinstance(m, dict) or m.get("role") not in ROLES:
                return bad(f"Invalid value for 'messages[{i}].role'.", f"messages[{i}].role")
            if not isinstance(m.get("content"), str | list):
                return bad(f"Invalid type for 'messages[{i}].content'.", f"messages[{i}].content")
        for name in ("max_tokens", "max_completion_tokens"):
            value = body.get(name)
            if value is not None and (not isinstance(value, int) or value < 1):
                return bad(f"Invalid '{name}': integer below minimum value.", name)
        if "stream" in body and not isinstance(body["stream"], bool):
            return bad("Invalid type for 'stream': expected a boolean.", "stream")
        if body.get("stream_options") is not None and body.get("stream") is not True:
            return bad(
                "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                "stream_options",
            )
        if self.fake.models is not None and model not in self.fake.models:
            return 404, _unknown_model(model)
        if self.fake.reject_max_tokens and body.get("max_tokens") is not None:
            return bad(
                "Unsupported parameter: 'max_tokens' is not supported with this model. "
                "Use 'max_completion_tokens' instead.",
                "max_tokens",
                "unsupported_parameter",
            )
        used = count_tokens(prompt_text(body))
        if self.fake.context_tokens is not None and used > self.fake.context_tokens:
            return bad(
                _context_message(self.fake.context_tokens, used),
                "messages",
                "context_length_exceeded",
            )
        return None

    # --- Answers ----------------------------------------------------------------------

    def _answer(self, body: dict[str, Any], reply: Reply) -> None:
        text = reply.text if reply.text is not None else self.fake.responder(body)
        finish = reply.finish_reason
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        if finish == "stop" and limit and count_tokens(text) > limit:
            text, finish = text[: limit * 4], "length"
        usage = {
            "prompt_tokens": count_tokens(prompt_text(body)),
            "completion_tokens": count_tokens(text),
        }
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        head = {
            "id": self.fake._next_id(),
            "created": int(time.time()),
            "model": body["model"],
            "system_fingerprint": "fp_fake",
        }
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            self._stream(
                head, text, finish, usage if reply.usage and include_usage else None, reply
            )
            return
        self.fake._wait_gate()
        if reply.raw_body is not None:
            self._send_json(200, reply.raw_body)
            return
        message = {"role": "assistant", "content": None if reply.refusal else text}
        message["refusal"] = reply.refusal
        choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}
        payload = {
            **head,
            "object": "chat.completion",
            "choices": [] if reply.no_choices else [choice],
        }
        payload["usage"] = usage if reply.usage else None
        self._send_json(200, payload)

    def _stream(self, head: dict, text: str, finish: str, usage: dict | None, reply: Reply) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        head = {**head, "object": "chat.completion.chunk"}
        if usage is not None:
            head["usage"] = None  # OpenAI sends "usage": null on every chunk but the last

        def chunk(choices: list, **extra: Any) -> str:
            return json.dumps({**head, "choices": choices, **extra})

        def choice(delta: dict, finish_reason: str | None = None) -> list:
            return [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}]

        if not reply.no_choices:
            self._event(chunk(choice({"role": "assistant", "content": "", "refusal": None})))
        pieces = split_pieces(text, reply.chunks)
        for n, piece in enumerate([*pieces, None]):
            if reply.broken is not None and n == min(reply.broken_after, len(pieces)):
                self._event(reply.broken)
            if reply.drop_after is not None and n == min(reply.drop_after, len(pieces)):
                self.close_connection = True  # no closing chunk: the body is cut short
                return
            if piece is None:
                break
            self._event(chunk(choice({"content": piece})))
            if n == 0:
                self.fake._wait_gate()
        if not reply.no_choices:
            self._event(chunk(choice({}, finish)))
        if usage is not None:
            self._event(chunk([], usage=usage))
        self._event("[DONE]")
        self.wfile.write(b"0\r\n\r\n")

    def _event(self, data: str) -> None:
        raw = f"data: {data}\n\n".encode()
        self.wfile.write(f"{len(raw):x}\r\n".encode() + raw + b"\r\n")
        self.wfile.flush()


def _model(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": 1700000000, "owned_by": "verbatim-tests"}


def _unknown_model(name: str) -> dict:
    return error_body(
        f"The model `{name}` does not exist or you do not have access to it.",
        "invalid_request_error",
        "model_not_found",
    )


def _invalid_url(method: str, path: str) -> dict:
    return error_body(f"Invalid URL ({method} {path})", "invalid_request_error")


def labels_in(texts: Iterable[str]) -> list[str]:
    """Every citation label in `texts`, in order (for assertions on what was sent)."""
    return [label for text in texts for label in LABEL.findall(text)]
