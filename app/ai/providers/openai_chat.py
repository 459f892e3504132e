"""The `openai` chat model: any Chat Completions server (OpenAI, vLLM, Ollama, LM Studio,
llama.cpp...) through the official `openai` client.

Retries are the client's own: exponential backoff on timeouts, connection errors, 429 and
5xx, honouring Retry-After, `max_retries` times. What still fails becomes our
ProviderUnavailable (worth trying again later) or ProviderError (the request or the reply
is wrong), with a message fit for the person who asked: never the API key, and the
server's own words only where they help (a prompt too long, a parameter refused).
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar
from urllib.parse import urlsplit

import openai
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from openai.types import CompletionUsage
from openai.types.chat import ChatCompletion, ChatCompletionChunk, ChatCompletionMessage
from openai.types.chat.chat_completion_chunk import ChoiceDelta

from app.ai.provider import (
    Message,
    ProviderConfig,
    ProviderError,
    ProviderUnavailable,
    Result,
    Usage,
    estimate_tokens,
)

log = logging.getLogger(__name__)

OPENAI_URL = "https://api.openai.com/v1"
MALFORMED = _l("The AI server sent a malformed reply.")
NO_KEY = "not-needed"  # local servers want no key, but the client insists on one
MAX_DETAIL = 300  # characters of the server's own error message worth showing
# Keys as OpenAI and most proxies print them, whole or partly masked ("sk-ab***yz").
KEY_LIKE = re.compile(r"\b(?:sk|rk|pk)-[A-Za-z0-9_\-*.]{4,}")


def describe_base_url(url: str) -> str:
    """The server's address for display: no user:password, query string or fragment,
    where a key may hide."""
    if not url:
        return OPENAI_URL
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "(an invalid address)"
    if not parts.scheme or not host:
        return "(an invalid address)"
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    return f"{parts.scheme}://{host}{port}{parts.path.rstrip('/')}"


class OpenAIChatModel:
    """ChatModel (app/ai/provider.py) over the Chat Completions API."""

    name: ClassVar[str] = "openai"
    title: ClassVar[str] = "OpenAI-compatible"

    def __init__(self, config: ProviderConfig) -> None:
        if not config.model.strip():
            raise ProviderError(_("No AI model is configured: set the model in the AI settings."))
        base_url = config.base_url.strip() or OPENAI_URL
        if urlsplit(base_url).scheme not in ("http", "https"):
            raise ProviderError(_("The AI server address must start with http:// or https://."))
        self.model = config.model.strip()
        self.context_tokens = config.context_tokens
        self.max_output_tokens = config.max_output_tokens
        self.base_url = base_url
        self._key = config.api_key
        # base_url is always given: left out, the client would read OPENAI_BASE_URL from
        # the environment, and the configuration would no longer say where text goes.
        self._client = openai.OpenAI(
            api_key=config.api_key or NO_KEY,
            base_url=base_url,
            timeout=config.timeout,
            max_retries=config.max_retries,
        )
        # `max_tokens` is what every compatible server knows; OpenAI's reasoning models
        # refuse it for `max_completion_tokens`, which we switch to when told so.
        self._limit_param = "max_tokens"

    @classmethod
    def from_config(cls, config: ProviderConfig) -> OpenAIChatModel:
        return cls(config)

    def close(self) -> None:
        self._client.close()

    # --- ChatModel --------------------------------------------------------------------

    def complete(self, messages: Sequence[Message], *, max_tokens: int) -> Result:
        with self._errors():
            reply = self._create(messages, max_tokens)
        text = self._text_of(reply, max_tokens)
        usage = _reported(reply.usage) or _estimate(messages, text)
        model = reply.model if isinstance(reply.model, str) and reply.model else self.model
        return Result(text=text, usage=usage, model=model)

    def stream(
        self, messages: Sequence[Message], *, max_tokens: int, usage: Usage
    ) -> Iterator[str]:
        with self._errors():
            chunks = self._create(
                messages, max_tokens, stream=True, stream_options={"include_usage": True}
            )
        written: list[str] = []
        refusal: list[str] = []
        finish: str | None = None
        seen_choice = False
        reported: Usage | None = None
        try:
            with self._errors(midway=True):
                for chunk in chunks:
                    if not isinstance(chunk, ChatCompletionChunk):
                        raise ProviderError(MALFORMED)
                    # A usage we cannot read is estimated instead: it is bookkeeping.
                    reported = _reported(chunk.usage) or reported
                    choices = chunk.choices
                    if choices is None and chunk.usage is not None:
                        continue  # some servers leave "choices" out of the usage chunk
                    if not isinstance(choices, list):
                        raise ProviderError(MALFORMED)
                    for choice in choices:
                        if getattr(choice, "index", 0) not in (0, None):
                            continue  # we ask for one choice; ignore any other
                        seen_choice = True
                        piece, refused, finish = _delta_of(choice, finish)
                        if refused:
                            refusal.append(refused)
                        if piece:
                            written.append(piece)
                            yield piece
        finally:
            chunks.close()
        text = "".join(written)
        if not seen_choice:
            raise ProviderError(_("The AI server sent an empty reply."))
        self._check_finish(finish, text, "".join(refusal), max_tokens)
        usage.add(reported or _estimate(messages, text))

    # --- For the admin's "Test connection" --------------------------------------------

    def check_connection(self) -> str:
        """A tiny request proving the server, the key and the model work; a short
        description of what answered, or ProviderError / ProviderUnavailable."""
        where = describe_base_url(self.base_url)
        with self._errors():
            try:
                listed = {getattr(m, "id", None) for m in self._client.models.list()}
            except openai.NotFoundError:
                listed = set()  # some compatible servers have no model list
        if self.model in listed:
            return f"Connected to {where}: the model “{self.model}” is available."
        # Unlisted (an alias, or no list at all): a one-word completion settles it. Its
        # text does not matter: a reasoning model may spend these tokens thinking.
        started = time.monotonic()
        with self._errors():
            self._create([Message("user", "Reply with the word OK.")], 16)
        took = time.monotonic() - started
        return f"Connected to {where}: the model “{self.model}” answered in {took:.1f} s."

    # --- Calls ------------------------------------------------------------------------

    def _create(self, messages: Sequence[Message], max_tokens: int, **extra: Any) -> Any:
        body = [{"role": m.role, "content": m.content} for m in messages]

        def call() -> Any:
            limit = {self._limit_param: max_tokens}
            return self._client.chat.completions.create(
                model=self.model, messages=body, **limit, **extra
            )

        try:
            return call()
        except openai.BadRequestError as e:
            if self._limit_param != "max_tokens" or not _wants_completion_limit(e):
                raise
            self._limit_param = "max_completion_tokens"
            return call()

    def _text_of(self, reply: ChatCompletion, max_tokens: int) -> str:
        if not isinstance(reply, ChatCompletion):
            raise ProviderError(MALFORMED)
        choices = reply.choices
        if not isinstance(choices, list):
            raise ProviderError(MALFORMED)
        if not choices:
            raise ProviderError(_("The AI server sent an empty reply."))
        choice = choices[0]
        message = getattr(choice, "message", None)
        if not isinstance(message, ChatCompletionMessage):
            raise ProviderError(MALFORMED)
        text = message.content if message.content is not None else ""
        refusal = message.refusal if isinstance(message.refusal, str) else ""
        if not isinstance(text, str):
            raise ProviderError(MALFORMED)
        self._check_finish(choice.finish_reason, text, refusal, max_tokens)
        return text

    def _check_finish(self, finish: str | None, text: str, refusal: str, max_tokens: int) -> None:
        if finish == "content_filter":
            raise ProviderError(_("The AI server withheld its answer (content filter)."))
        if refusal and not text:
            raise ProviderError(f"The AI model declined to answer: {self._detail(refusal)}")
        if finish == "length" and not text.strip():
            raise ProviderError(
                f"The AI model used up its {max_tokens}-token allowance before writing "
                "anything. Raise the output limit in the AI settings."
            )

    # --- Errors -----------------------------------------------------------------------

    @contextmanager
    def _errors(self, *, midway: bool = False) -> Iterator[None]:
        # `from None`: the client's exception may quote the key (a server echoing it),
        # and a chained traceback ends up in logs and RQ's failed-job records.
        try:
            yield
        except openai.OpenAIError as e:
            translated = self._translate(e, midway)
            log.warning(
                "AI server %s: %s (HTTP %s, request %s)",
                describe_base_url(self.base_url),
                type(e).__name__,
                getattr(e, "status_code", "-"),
                getattr(e, "request_id", None) or "-",
            )
            raise translated from None
        except json.JSONDecodeError:
            # An SSE data line (or a JSON answer) that is not JSON.
            raise ProviderError(MALFORMED) from None

    def _translate(self, e: openai.OpenAIError, midway: bool = False) -> ProviderError:
        where = describe_base_url(self.base_url)
        if isinstance(e, openai.APITimeoutError):
            return ProviderUnavailable(
                f"The AI server did not answer in time ({where}). Try again later."
            )
        if isinstance(e, openai.APIConnectionError) and midway:
            return ProviderUnavailable(
                _(
                    "The connection to the AI server broke off in the middle of the answer. "
                    "Try again."
                )
            )
        if isinstance(e, openai.APIConnectionError):
            return ProviderUnavailable(
                f"Could not reach the AI server at {where}. Try again later."
            )
        if isinstance(e, openai.APIResponseValidationError):
            return ProviderError(MALFORMED)
        if not isinstance(e, openai.APIStatusError):
            detail = self._detail(getattr(e, "message", "") or str(e))
            return ProviderError(f"The AI server reported an error: {detail}")
        if isinstance(e, openai.RateLimitError):
            if e.code == "insufficient_quota":
                return ProviderUnavailable(
                    _("The AI account has used up its quota. Ask an administrator to check it.")
                )
            return ProviderUnavailable(
                _("The AI server is busy (rate limited). Try again in a few minutes.")
            )
        if isinstance(e, openai.InternalServerError) or e.status_code in (408, 409):
            return ProviderUnavailable(
                f"The AI server failed (HTTP {e.status_code}). Try again later."
            )
        if isinstance(e, openai.AuthenticationError):
            # Never the server's message here: it often quotes the key it was given.
            return ProviderError(
                _("The AI server refused the API key. Check the key in the AI settings.")
            )
        if isinstance(e, openai.PermissionDeniedError):
            return ProviderError(
                "The AI server refused the API key access (HTTP 403): "
                f"{self._detail(_server_message(e))}"
            )
        if isinstance(e, openai.NotFoundError):
            if e.code == "model_not_found" or "model" in _server_message(e).lower():
                return ProviderError(
                    f"The AI server does not offer the model “{self.model}”. "
                    "Check the model name in the AI settings."
                )
            return ProviderError(
                f"The AI server at {where} answered “not found” for the model "
                f"“{self.model}”. Check the model name and the address (it usually ends "
                "in /v1)."
            )
        if isinstance(e, openai.BadRequestError | openai.UnprocessableEntityError):
            return ProviderError(
                f"The AI server refused the request: {self._detail(_server_message(e))}"
            )
        return ProviderError(
            f"The AI server answered HTTP {e.status_code}: {self._detail(_server_message(e))}"
        )

    def _detail(self, text: str) -> str:
        """The server's words, fit to show: the key blanked out, short, one line."""
        if self._key and len(self._key) >= 4:
            text = text.replace(self._key, "[key]")
        text = KEY_LIKE.sub("[key]", text)
        text = " ".join(text.split())
        if len(text) > MAX_DETAIL:
            text = text[: MAX_DETAIL - 1].rstrip() + "…"
        return text or "no reason given"


def _server_message(e: openai.APIStatusError) -> str:
    body = e.body
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return body["message"]
    if isinstance(body, str):
        return body
    return e.message


def _wants_completion_limit(e: openai.BadRequestError) -> bool:
    return e.param == "max_tokens" or "max_completion_tokens" in _server_message(e)


def _delta_of(choice: Any, finish: str | None) -> tuple[str, str, str | None]:
    """(content, refusal, finish_reason so far) of one streamed choice; ProviderError
    when it is not what the wire format promises."""
    delta = getattr(choice, "delta", None)
    reason = getattr(choice, "finish_reason", None)
    if reason is not None and not isinstance(reason, str):
        raise ProviderError(MALFORMED)
    if delta is None and reason is not None:
        return "", "", reason  # some servers send the last chunk without a delta
    if not isinstance(delta, ChoiceDelta):
        raise ProviderError(MALFORMED)
    content, refusal = delta.content, getattr(delta, "refusal", None)
    if content is not None and not isinstance(content, str):
        raise ProviderError(MALFORMED)
    if refusal is not None and not isinstance(refusal, str):
        raise ProviderError(MALFORMED)
    return content or "", refusal or "", reason or finish


def _reported(usage: CompletionUsage | None) -> Usage | None:
    if not isinstance(usage, CompletionUsage):
        return None
    prompt, completion = usage.prompt_tokens, usage.completion_tokens
    if not all(
        isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in (prompt, completion)
    ):
        return None
    return Usage(calls=1, prompt_tokens=prompt, completion_tokens=completion)


def _estimate(messages: Sequence[Message], text: str) -> Usage:
    prompt = sum(estimate_tokens(m.content) for m in messages)
    return Usage(
        calls=1, prompt_tokens=prompt, completion_tokens=estimate_tokens(text), estimated=True
    )
