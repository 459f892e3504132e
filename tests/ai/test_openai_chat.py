"""The `openai` chat model through the official client, against a local server speaking
the Chat Completions wire format (tests/fakes/chat_completions_server.py): answers,
streams, usage, the client's retries, timeouts, and every failure mapped to our errors.

TestRealServer runs the same calls against a real server when OPENAI_API_KEY is set
(OPENAI_BASE_URL and OPENAI_MODEL optional).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from app.ai.provider import (
    Message,
    ProviderConfig,
    ProviderError,
    ProviderUnavailable,
    Usage,
    estimate_tokens,
)
from app.ai.providers.openai_chat import (
    MALFORMED,
    OPENAI_URL,
    OpenAIChatModel,
    describe_base_url,
)
from tests.fakes.chat_completions_server import (
    DEFAULT_MODEL,
    ChatCompletionsServer,
    Reply,
    count_tokens,
    default_answer,
    prompt_text,
    split_pieces,
)

KEY = "sk-test-0123456789abcdef"
MODEL = "verbatim-chat-1"
MESSAGES = (
    Message("system", "You summarise transcripts. Cite labels."),
    Message("user", "<<<DATA>>>\n[00:05] Alice: we looked at pricing\n[00:12] Bob: fine\n"),
)
TEXT = "Pricing was discussed [00:05]. Bob agreed [00:12]."


def config(server: ChatCompletionsServer, **overrides: object) -> ProviderConfig:
    values: dict = {
        "model": MODEL,
        "base_url": server.url,
        "api_key": KEY,
        "timeout": 1.0,
        "max_retries": 1,
        "context_tokens": 4000,
        "max_output_tokens": 500,
    }
    values.update(overrides)
    return ProviderConfig(**values)


@pytest.fixture
def server() -> Iterator[ChatCompletionsServer]:
    with ChatCompletionsServer(api_key=KEY, models=[MODEL]) as fake:
        yield fake


@pytest.fixture
def chat(server: ChatCompletionsServer) -> Iterator[OpenAIChatModel]:
    model = OpenAIChatModel.from_config(config(server))
    yield model
    model.close()


def make(server: ChatCompletionsServer, **overrides: object) -> OpenAIChatModel:
    return OpenAIChatModel.from_config(config(server, **overrides))


def drain(model: OpenAIChatModel, usage: Usage, pieces: list[str], max_tokens: int = 200) -> None:
    """Stream into `pieces`, so a test still sees what came before an error."""
    for piece in model.stream(MESSAGES, max_tokens=max_tokens, usage=usage):
        pieces.append(piece)


def sent_prompt_tokens() -> int:
    body = {"messages": [{"role": m.role, "content": m.content} for m in MESSAGES]}
    return count_tokens(prompt_text(body))


# --- Answers -------------------------------------------------------------------------


def test_complete_returns_the_text_the_reported_usage_and_the_model(
    server: ChatCompletionsServer, chat: OpenAIChatModel
) -> None:
    server.script(Reply.say(TEXT))
    result = chat.complete(MESSAGES, max_tokens=200)
    assert result.text == TEXT
    assert result.model == MODEL
    assert result.usage == Usage(
        calls=1,
        prompt_tokens=sent_prompt_tokens(),
        completion_tokens=count_tokens(TEXT),
        estimated=False,
    )


def test_the_request_carries_model_limit_and_messages_as_given(
    server: ChatCompletionsServer, chat: OpenAIChatModel
) -> None:
    chat.complete(MESSAGES, max_tokens=123)
    usage = Usage()
    list(chat.stream(MESSAGES, max_tokens=45, usage=usage))
    plain, streamed = server.chat_requests
    expected = [{"role": m.role, "content": m.content} for m in MESSAGES]
    for seen in (plain, streamed):
        assert seen.authorized
        assert seen.method == "POST"
        assert seen.body["model"] == MODEL
        assert seen.body["messages"] == expected
        assert "max_completion_tokens" not in seen.body
        assert "authorization" not in seen.headers
    assert plain.body["max_tokens"] == 123
    assert not plain.body.get("stream")
    assert "stream_options" not in plain.body
    assert streamed.body["max_tokens"] == 45
    assert streamed.body["stream"] is True
    assert streamed.body["stream_options"] == {"include_usage": True}


def test_stream_yields_the_deltas_in_order_and_fills_usage(
    server: ChatCompletionsServer, chat: OpenAIChatModel
) -> None:
    server.script(Reply.say(TEXT, chunks=5))
    usage = Usage()
    pieces = list(chat.stream(MESSAGES, max_tokens=200, usage=usage))
    assert pieces == split_pieces(TEXT, 5)
    assert len(pieces) == 5
    assert "".join(pieces) == TEXT
    assert usage == Usage(1, sent_prompt_tokens(), count_tokens(TEXT), estimated=False)


def test_stream_adds_to_the_usage_it_is_given(
    server: ChatCompletionsServer, chat: OpenAIChatModel
) -> None:
    usage = Usage(calls=2, prompt_tokens=100, completion_tokens=10)
    server.script(Reply.say(TEXT))
    list(chat.stream(MESSAGES, max_tokens=200, usage=usage))
    assert usage.calls == 3
    assert usage.prompt_tokens == 100 + sent_prompt_tokens()
    assert usage.completion_tokens == 10 + count_tokens(TEXT)


def test_deltas_arrive_while_the_server_is_still_writing(
    server: ChatCompletionsServer, chat: OpenAIChatModel
) -> None:
    server.script(Reply.say(TEXT, chunks=4))
    server.hold()
    received: list[str] = []
    first = threading.Event()
    done = threading.Event()

    def consume() -> None:
        for piece in chat.stream(MESSAGES, max_tokens=200, usage=Usage()):
            received.append(piece)
            first.set()
        done.set()

    reader = threading.Thread(target=consume, daemon=True)
    reader.start()
    assert server.held.wait(5)
    assert first.wait(5)
    assert received == split_pieces(TEXT, 4)[:1]  # the first delta, the rest held back
    assert not done.is_set()
    server.release()
    assert done.wait(5)
    reader.join(5)
    assert received == split_pieces(TEXT, 4)


def test_missing_usage_is_estimated(server: ChatCompletionsServer, chat: OpenAIChatModel) -> None:
    estimated = Usage(
        calls=1,
        prompt_tokens=sum(estimate_tokens(m.content) for m in MESSAGES),
        completion_tokens=estimate_tokens(TEXT),
        estimated=True,
    )
    server.script(Reply.without_usage(TEXT), Reply.without_usage(TEXT))
    assert chat.complete(MESSAGES, max_tokens=200).usage == estimated
    usage = Usage()
    assert "".join(chat.stream(MESSAGES, max_tokens=200, usage=usage)) == TEXT
    assert usage == estimated


def test_a_reply_cut_by_max_tokens_is_kept(
    server: ChatCompletionsServer, chat: OpenAIChatModel
) -> None:
    server.script(Reply.say("word " * 50))
    assert chat.complete(MESSAGES, max_tokens=3).text == ("word " * 50)[:12]


def test_switches_to_max_completion_tokens_when_the_model_refuses_max_tokens() -> None:
    with ChatCompletionsServer(api_key=KEY, reject_max_tokens=True) as server:
        chat = make(server)
        assert chat.complete(MESSAGES, max_tokens=77).text == default_answer(
            {"messages": [{"role": m.role, "content": m.content} for m in MESSAGES]}
        )
        assert "".join(chat.stream(MESSAGES, max_tokens=66, usage=Usage()))
        refused, accepted, streamed = server.chat_requests
        assert refused.body["max_tokens"] == 77
        assert accepted.body["max_completion_tokens"] == 77
        assert "max_tokens" not in accepted.body
        assert streamed.body["max_completion_tokens"] == 66  # remembered: no second refusal
        assert "max_tokens" not in streamed.body
        chat.close()


# --- Retries -------------------------------------------------------------------------


def test_rate_limited_then_answered_succeeds_on_the_retry(
    server: ChatCompletionsServer, chat: OpenAIChatModel
) -> None:
    server.script(Reply.rate_limited(retry_after="0"), Reply.say(TEXT))
    assert chat.complete(MESSAGES, max_tokens=200).text == TEXT
    first, second = server.chat_requests
    assert first.headers["x-stainless-retry-count"] == "0"
    assert second.headers["x-stainless-retry-count"] == "1"


def test_rate_limited_stream_is_retried_before_any_delta(
    server: ChatCompletionsServer, chat: OpenAIChatModel
) -> None:
    server.script(Reply.rate_limited(retry_after="0"), Reply.say(TEXT))
    assert "".join(chat.stream(MESSAGES, max_tokens=200, usage=Usage())) == TEXT
    assert len(server.chat_requests) == 2


def test_retry_after_is_honoured(server: ChatCompletionsServer, chat: OpenAIChatModel) -> None:
    # Without the header the client's first backoff is at most 0.5 s.
    server.script(Reply.rate_limited(retry_after="1"), Reply.say(TEXT))
    started = time.monotonic()
    chat.complete(MESSAGES, max_tokens=200)
    assert time.monotonic() - started >= 1.0
    assert len(server.chat_requests) == 2


def test_rate_limited_beyond_the_retries_is_unavailable(server: ChatCompletionsServer) -> None:
    chat = make(server, max_retries=2)
    server.script(*[Reply.rate_limited(retry_after="0.01")] * 3, Reply.say(TEXT))
    with pytest.raises(ProviderUnavailable, match="rate limited"):
        chat.complete(MESSAGES, max_tokens=200)
    assert len(server.chat_requests) == 3
    assert server.pending() == 1  # it gave up: the answer queued after was never asked for


@pytest.mark.parametrize("retries", [0, 2])
def test_server_errors_are_retried_as_configured_then_unavailable(
    server: ChatCompletionsServer, retries: int
) -> None:
    chat = make(server, max_retries=retries)
    fail = Reply.server_error(500, headers={"retry-after-ms": "10"})
    server.script(*[fail] * (retries + 1), Reply.say(TEXT))
    with pytest.raises(ProviderUnavailable, match=r"HTTP 500"):
        chat.complete(MESSAGES, max_tokens=200)
    assert len(server.chat_requests) == retries + 1
    assert server.pending() == 1


def test_quota_exhausted_says_so(server: ChatCompletionsServer) -> None:
    chat = make(server, max_retries=0)
    quota = Reply.rate_limited(retry_after=None)
    quota.error = {
        "error": {
            "message": "You exceeded your current quota.",
            "type": "insufficient_quota",
            "param": None,
            "code": "insufficient_quota",
        }
    }
    server.script(quota)
    with pytest.raises(ProviderUnavailable, match="quota"):
        chat.complete(MESSAGES, max_tokens=200)


# --- Timeouts and broken connections --------------------------------------------------


def test_a_server_slower_than_the_timeout_is_unavailable_fast(
    server: ChatCompletionsServer,
) -> None:
    chat = make(server, timeout=0.3, max_retries=1)
    server.script(Reply.slow(5), Reply.slow(5))
    started = time.monotonic()
    with pytest.raises(ProviderUnavailable, match="did not answer in time"):
        chat.complete(MESSAGES, max_tokens=200)
    assert time.monotonic() - started < 2.5  # two 0.3 s attempts and one backoff
    assert len(server.chat_requests) == 2  # the client retries a timeout too


def test_a_stream_that_stalls_mid_way_is_unavailable_after_its_deltas(
    server: ChatCompletionsServer,
) -> None:
    chat = make(server, timeout=0.4, max_retries=0)
    server.script(Reply.say(TEXT, chunks=3))
    server.hold()  # never released: the server stops writing after the first delta
    pieces: list[str] = []
    with pytest.raises(ProviderUnavailable, match="did not answer in time"):
        drain(chat, Usage(), pieces)
    assert pieces == split_pieces(TEXT, 3)[:1]
    server.release()


def test_a_connection_dropped_mid_stream_is_unavailable_after_its_deltas(
    server: ChatCompletionsServer, chat: OpenAIChatModel
) -> None:
    server.script(Reply.dropped(after=2, text=TEXT))
    pieces: list[str] = []
    usage = Usage()
    with pytest.raises(ProviderUnavailable, match="broke off"):
        drain(chat, usage, pieces)
    assert pieces == split_pieces(TEXT, None)[:2]
    assert usage == Usage()  # no call is counted for an answer that never finished


def test_a_server_that_is_not_there_is_unavailable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again before the call: nothing listens there
    with ChatCompletionsServer() as fake:
        chat = make(fake, base_url=f"http://127.0.0.1:{port}/v1", max_retries=0)
    with pytest.raises(ProviderUnavailable, match=f"Could not reach the AI server at .*:{port}/v1"):
        chat.complete(MESSAGES, max_tokens=200)


# --- Malformed replies ---------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "{not json",
        '{"id": "chatcmpl-x", "object": "chat.completion.chunk"}',  # no choices
        '{"id": "x", "choices": [{"index": 0, "delta": 5, "finish_reason": null}]}',
        '{"id": "x", "choices": [{"index": 0, "delta": {"content": 7}}]}',
        "[1, 2]",
    ],
)
def test_a_malformed_chunk_mid_stream_fails_after_the_deltas_before_it(
    server: ChatCompletionsServer, chat: OpenAIChatModel, line: str
) -> None:
    server.script(Reply.malformed(after=2, line=line, text=TEXT))
    pieces: list[str] = []
    usage = Usage()
    with pytest.raises(ProviderError) as caught:
        drain(chat, usage, pieces)
    assert type(caught.value) is ProviderError  # not "unavailable": retrying will not help
    assert caught.value.message == MALFORMED
    assert pieces == split_pieces(TEXT, None)[:2]
    assert usage == Usage()


@pytest.mark.parametrize("raw", ["{not json", "[1, 2]", '{"id": "x", "choices": "none"}'])
def test_a_malformed_answer_is_an_error(
    server: ChatCompletionsServer, chat: OpenAIChatModel, raw: str
) -> None:
    server.script(Reply(raw_body=raw))
    with pytest.raises(ProviderError) as caught:
        chat.complete(MESSAGES, max_tokens=200)
    assert caught.value.message == MALFORMED


def test_an_error_event_mid_stream_reports_the_server_message_without_the_key(
    server: ChatCompletionsServer, chat: OpenAIChatModel
) -> None:
    event = f'{{"error": {{"message": "Worker crashed (key {KEY})", "type": "server_error"}}}}'
    server.script(Reply.malformed(after=1, line=event, text=TEXT))
    pieces: list[str] = []
    with pytest.raises(ProviderError, match="Worker crashed") as caught:
        drain(chat, Usage(), pieces)
    assert KEY not in caught.value.message
    assert pieces == split_pieces(TEXT, None)[:1]


def test_no_choices_is_an_error(server: ChatCompletionsServer, chat: OpenAIChatModel) -> None:
    server.script(Reply.empty(), Reply.empty())
    with pytest.raises(ProviderError, match="empty reply"):
        chat.complete(MESSAGES, max_tokens=200)
    with pytest.raises(ProviderError, match="empty reply"):
        list(chat.stream(MESSAGES, max_tokens=200, usage=Usage()))


def test_a_filtered_answer_is_an_error(
    server: ChatCompletionsServer, chat: OpenAIChatModel
) -> None:
    server.script(Reply.filtered(), Reply.filtered("Partial text"))
    with pytest.raises(ProviderError, match="content filter"):
        chat.complete(MESSAGES, max_tokens=200)
    pieces: list[str] = []
    with pytest.raises(ProviderError, match="content filter"):
        drain(chat, Usage(), pieces)
    assert "".join(pieces) == "Partial text"


def test_a_refusal_is_an_error_quoting_it(
    server: ChatCompletionsServer, chat: OpenAIChatModel
) -> None:
    server.script(Reply(refusal="I cannot help with that."))
    with pytest.raises(ProviderError, match="declined to answer: I cannot help with that"):
        chat.complete(MESSAGES, max_tokens=200)


def test_an_output_limit_spent_before_any_text_is_an_error(
    server: ChatCompletionsServer, chat: OpenAIChatModel
) -> None:
    reply = Reply.say("")
    reply.finish_reason = "length"
    server.script(reply)
    with pytest.raises(ProviderError, match="200-token allowance"):
        chat.complete(MESSAGES, max_tokens=200)


# --- Refusals ------------------------------------------------------------------------


def test_a_wrong_key_is_refused_without_showing_it(
    server: ChatCompletionsServer, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "sk-wrong-key-9876543210"
    chat = make(server, api_key=wrong)
    with caplog.at_level(logging.DEBUG), pytest.raises(ProviderError) as caught:
        chat.complete(MESSAGES, max_tokens=200)
    assert type(caught.value) is ProviderError
    assert "refused the API key" in caught.value.message
    assert wrong not in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert all(wrong not in r.getMessage() for r in caplog.records)
    (seen,) = server.chat_requests  # a refused key is not retried
    assert not seen.authorized


def test_no_key_configured_sends_a_placeholder_and_is_refused(
    server: ChatCompletionsServer,
) -> None:
    chat = make(server, api_key="")
    with pytest.raises(ProviderError, match="refused the API key"):
        chat.complete(MESSAGES, max_tokens=200)
    assert not server.chat_requests[0].authorized


def test_a_server_without_a_key_accepts_the_placeholder() -> None:
    with ChatCompletionsServer() as open_server:
        chat = make(open_server, api_key="")
        assert chat.complete(MESSAGES, max_tokens=200).text
        chat.close()


def test_forbidden_is_an_error(server: ChatCompletionsServer, chat: OpenAIChatModel) -> None:
    forbidden = Reply.bad_request("Project does not have access to this model.")
    forbidden.status = 403
    server.script(forbidden)
    with pytest.raises(ProviderError, match=r"HTTP 403.*Project does not have access"):
        chat.complete(MESSAGES, max_tokens=200)


def test_an_unknown_model_is_named(server: ChatCompletionsServer) -> None:
    chat = make(server, model="no-such-model")
    with pytest.raises(ProviderError) as caught:
        chat.complete(MESSAGES, max_tokens=200)
    assert type(caught.value) is ProviderError
    assert "“no-such-model”" in caught.value.message
    assert len(server.chat_requests) == 1


def test_a_base_url_missing_v1_names_the_model_and_the_address(
    server: ChatCompletionsServer,
) -> None:
    chat = make(server, base_url=server.url.removesuffix("/v1"))
    with pytest.raises(ProviderError, match=f"“{MODEL}”.*/v1"):
        chat.complete(MESSAGES, max_tokens=200)


def test_a_prompt_too_long_passes_on_the_server_message() -> None:
    with ChatCompletionsServer(api_key=KEY, context_tokens=10) as server:
        chat = make(server)
        with pytest.raises(ProviderError) as caught:
            chat.complete(MESSAGES, max_tokens=200)
        assert type(caught.value) is ProviderError
        assert "refused the request" in caught.value.message
        assert "maximum context length is 10 tokens" in caught.value.message
        assert len(server.chat_requests) == 1
        chat.close()


def test_a_long_server_message_is_shortened(
    server: ChatCompletionsServer, chat: OpenAIChatModel
) -> None:
    server.script(Reply.bad_request("Bad input. " + "x" * 5000))
    with pytest.raises(ProviderError) as caught:
        chat.complete(MESSAGES, max_tokens=200)
    assert "Bad input." in caught.value.message
    assert len(caught.value.message) < 400


# --- Test connection -----------------------------------------------------------------


def test_check_connection_finds_the_model_in_the_list(
    server: ChatCompletionsServer, chat: OpenAIChatModel
) -> None:
    assert f"“{MODEL}” is available" in chat.check_connection()
    (seen,) = server.requests
    assert (seen.method, seen.path) == ("GET", "/v1/models")


def test_check_connection_tries_an_unlisted_model() -> None:
    with ChatCompletionsServer() as server:  # serves any model, lists only its default
        chat = make(server, model="alias-of-something")
        assert DEFAULT_MODEL != "alias-of-something"
        assert "“alias-of-something” answered in" in chat.check_connection()
        assert [r.path for r in server.requests] == ["/v1/models", "/v1/chat/completions"]
        assert server.chat_requests[0].body["model"] == "alias-of-something"
        chat.close()


def test_check_connection_reports_a_wrong_key_and_an_unknown_model(
    server: ChatCompletionsServer,
) -> None:
    with pytest.raises(ProviderError, match="refused the API key"):
        make(server, api_key="sk-nope-000000").check_connection()
    with pytest.raises(ProviderError, match="“gone-model”"):
        make(server, model="gone-model").check_connection()


def test_check_connection_reports_an_unreachable_server(server: ChatCompletionsServer) -> None:
    chat = make(server, max_retries=0)
    server.stop()
    with pytest.raises(ProviderUnavailable):
        chat.check_connection()


# --- Configuration -------------------------------------------------------------------


def test_configuration_is_checked(server: ChatCompletionsServer) -> None:
    with pytest.raises(ProviderError, match="No AI model"):
        make(server, model=" ")
    with pytest.raises(ProviderError, match="http:// or https://"):
        make(server, base_url="ftp://example.com/v1")
    chat = make(server, context_tokens=1234, max_output_tokens=321)
    assert (chat.name, chat.title) == ("openai", "OpenAI-compatible")
    assert (chat.model, chat.context_tokens, chat.max_output_tokens) == (MODEL, 1234, 321)


def test_no_base_url_means_openai_not_the_environment(
    server: ChatCompletionsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", server.url)
    chat = make(server, base_url="")
    assert chat.base_url == OPENAI_URL
    assert str(chat._client.base_url).rstrip("/") == OPENAI_URL


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("", OPENAI_URL),
        ("https://user:secret@llm.example.com/v1/?key=abc#frag", "https://llm.example.com/v1"),
        ("http://10.0.0.5:8000/v1", "http://10.0.0.5:8000/v1"),
        ("http://[::1]:11434/v1", "http://[::1]:11434/v1"),
        ("http://host:99999999/v1", "(an invalid address)"),
        ("not a url", "(an invalid address)"),
    ],
)
def test_describe_base_url_hides_credentials(url: str, shown: str) -> None:
    assert describe_base_url(url) == shown


# --- The fake's default answer --------------------------------------------------------


def test_the_default_answer_cites_labels_of_the_last_user_message() -> None:
    body = {
        "messages": [
            {"role": "system", "content": "Cite like [12:34]."},
            {"role": "user", "content": "old [09:09] question"},
            {"role": "assistant", "content": "answer"},
            {"role": "user", "content": "[T2 1:02:03] Ann: price is <b>high</b>\n[T1 00:07] ok"},
        ]
    }
    assert default_answer(body) == (
        'Summary of the part given, starting with "Ann: price is <b>high</b>" [T2 1:02:03]. '
        "It continues [T1 00:07]."
    )
    assert "do not mention" in default_answer({"messages": [{"role": "user", "content": "hi"}]})


# --- A real server, when one is configured --------------------------------------------


@pytest.mark.skipif(not os.environ.get("OPENAI_API_KEY"), reason="OPENAI_API_KEY is not set")
class TestRealServer:
    @pytest.fixture
    def real(self) -> Iterator[OpenAIChatModel]:
        model = OpenAIChatModel.from_config(
            ProviderConfig(
                model=os.environ.get("OPENAI_MODEL", "gpt-4o-mini"),
                base_url=os.environ.get("OPENAI_BASE_URL", ""),
                api_key=os.environ["OPENAI_API_KEY"],
                timeout=60.0,
                max_retries=2,
                context_tokens=4000,
                max_output_tokens=400,
            )
        )
        yield model
        model.close()

    def test_complete(self, real: OpenAIChatModel) -> None:
        result = real.complete(MESSAGES, max_tokens=400)
        assert result.text.strip()
        assert result.model
        assert result.usage.calls == 1
        assert result.usage.prompt_tokens > 0
        assert result.usage.completion_tokens > 0

    def test_stream(self, real: OpenAIChatModel) -> None:
        usage = Usage()
        pieces = list(real.stream(MESSAGES, max_tokens=400, usage=usage))
        assert "".join(pieces).strip()
        assert usage.calls == 1
        assert usage.prompt_tokens > 0
        assert usage.completion_tokens > 0

    def test_check_connection(self, real: OpenAIChatModel) -> None:
        assert real.model in real.check_connection()
