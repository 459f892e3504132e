"""The contract between the AI features and the providers that do the work.

A provider is a plugin offering (hook `verbatim_ai_providers`, first-party ones in
app/plugins/builtin/ai_providers.py). Two kinds ship:

- `extractive`: no language model. It picks and quotes the transcript's own sentences.
- `openai`: a Chat Completions server (OpenAI or any compatible one). It implements only
  ChatModel (two calls, complete and stream); app/ai/llm.py turns any ChatModel into a
  provider (prompts, map-reduce over long transcripts, citations).

Providers see plain data built by app/ai/service.py from the workspace-scoped ORM: lines
of one transcript, or the retrieved lines of several, each with the label it is cited by.
They never see the database, the request or another workspace.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Protocol

from app.errors import ServiceError


class ProviderError(ServiceError):
    """The provider answered, but not usefully (a refusal, a malformed reply)."""

    status = 502


class ProviderUnavailable(ProviderError):
    """The provider could not be reached in time, or kept answering 429/5xx."""

    status = 503


@dataclass(frozen=True)
class Line:
    """One transcript segment as the AI sees it. `label` is how it is cited: "[12:34]" in
    one transcript, "[T2 12:34]" across the workspace (app/ai/citations.py)."""

    label: str
    source: str  # "" for a transcript's own chat/summary; "T1", "T2"... across a workspace
    position: int  # the segment's position in its transcript
    start: float
    end: float
    speaker: str  # the display name ("Alice"), or "" when the transcript has no speakers
    text: str

    def render(self) -> str:
        who = f"{self.speaker}: " if self.speaker else ""
        return f"{self.label} {who}{self.text}"


@dataclass(frozen=True)
class Source:
    """One transcript taking part in an answer; `key` is its citation prefix ("T1")."""

    key: str
    transcript_id: str
    title: str
    date: str  # ISO date it was recorded, for "last month" questions
    lines: tuple[Line, ...]


@dataclass(frozen=True)
class Template:
    key: str  # built-in key or "custom:<uuid>"
    title: str
    instructions: str  # what the summary must contain (shown to people as "the prompt")
    builtin: bool = True


@dataclass(frozen=True)
class SummaryTask:
    template: Template
    title: str
    language: str | None
    duration: float
    lines: tuple[Line, ...]  # the whole transcript, in order
    speakers: tuple[str, ...]  # display names, in order of first appearance


@dataclass(frozen=True)
class Turn:
    role: str  # "user" or "assistant"
    content: str


@dataclass(frozen=True)
class AnswerTask:
    question: str
    history: tuple[Turn, ...]  # earlier turns of this conversation, oldest first
    # What the answer may use, each source's lines in time order: the whole transcript
    # when it fits, otherwise the retrieved lines and their neighbours.
    sources: tuple[Source, ...]
    # Lines that match the question best, best first (from retrieval); a subset of the
    # sources' lines. Empty when nothing matched.
    ranked: tuple[Line, ...]
    across_workspace: bool = False


@dataclass
class Usage:
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    estimated: bool = False  # some call reported no usage; ours is characters / 4

    def add(self, other: Usage) -> None:
        self.calls += other.calls
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        self.estimated = self.estimated or other.estimated


@dataclass
class Result:
    text: str  # markdown; citations as the labels of the lines it relies on
    usage: Usage = field(default_factory=Usage)
    model: str = ""


@dataclass(frozen=True)
class ProviderConfig:
    """What the installation (and the workspace's override) says about the provider."""

    model: str
    base_url: str
    api_key: str
    timeout: float
    max_retries: int
    context_tokens: int  # prompt budget of one call, in tokens
    max_output_tokens: int


Emit = Callable[[str], None]  # receives the answer's text as it is written


class AIProvider(Protocol):
    name: ClassVar[str]
    title: ClassVar[str]
    # False for providers that run no language model: the UI labels their output so.
    uses_language_model: ClassVar[bool]

    @classmethod
    def from_config(cls, config: ProviderConfig) -> AIProvider: ...

    @property
    def model(self) -> str:
        """What to record as the model that made a result."""

    def summarize(self, task: SummaryTask) -> Result: ...

    def answer(self, task: AnswerTask, emit: Emit) -> Result:
        """Answer task.question; call emit() with each piece of text as it is written
        (the whole text, in order, equals Result.text)."""


@dataclass(frozen=True)
class Message:
    role: str  # system, user, assistant
    content: str


class ChatModel(Protocol):
    """A language model behind a chat API (app/ai/providers/openai_chat.py)."""

    name: ClassVar[str]
    title: ClassVar[str]
    model: str
    context_tokens: int
    max_output_tokens: int

    def complete(self, messages: Sequence[Message], *, max_tokens: int) -> Result:
        """One call; ProviderUnavailable after retries on timeouts, 429 and 5xx;
        ProviderError on a refused request or a malformed reply."""

    def stream(
        self, messages: Sequence[Message], *, max_tokens: int, usage: Usage
    ) -> Iterator[str]:
        """One streamed call: yields text deltas, then fills `usage`. Errors as complete();
        a malformed chunk mid-stream raises ProviderError after what came before it."""


def estimate_tokens(text: str) -> int:
    """Tokens in `text` without the model's tokenizer (none can be downloaded here):
    about 4 characters per token for English, erring high for other scripts."""
    if text.isascii():
        return len(text) // 4 + 1
    other = len(text) - len(text.encode("ascii", "ignore"))
    return (len(text) - other) // 4 + other + 1
