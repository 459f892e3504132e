"""Any ChatModel as an AIProvider: prompts, map-reduce over long transcripts, streaming.

A transcript that fits the model's prompt budget is summarised in one call. A longer one
is cut into the fewest parts that fit, evenly sized (map: notes on each part, labels
kept), and the notes are combined (reduce), in rounds if they too exceed the budget. The
labels in the notes are the transcript's own, so citations in the final text stay valid;
app/ai/citations.py checks them anyway.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import ClassVar

from flask_babel import gettext as _

from app.ai import prompts
from app.ai.citations import stamp
from app.ai.provider import (
    AnswerTask,
    ChatModel,
    Emit,
    Line,
    Message,
    ProviderConfig,
    ProviderError,
    Result,
    SummaryTask,
    Usage,
    estimate_tokens,
)

# Room kept in every call for the system prompt, the task and the markers, in tokens.
OVERHEAD_TOKENS = 700
# A reduce round must shrink the notes; past this many rounds something is wrong.
MAX_REDUCE_ROUNDS = 4


class LanguageModelProvider:
    """Base of providers backed by a ChatModel; see provider_for()."""

    name: ClassVar[str]
    title: ClassVar[str]
    chat_model: ClassVar[type[ChatModel]]
    uses_language_model: ClassVar[bool] = True

    def __init__(self, chat: ChatModel) -> None:
        self.chat = chat

    @classmethod
    def from_config(cls, config: ProviderConfig) -> LanguageModelProvider:
        return cls(cls.chat_model.from_config(config))  # type: ignore[attr-defined]

    @property
    def model(self) -> str:
        return self.chat.model

    @property
    def context_tokens(self) -> int:
        """Prompt tokens an answer's context may take (the service sizes retrieval by it)."""
        return self.budget

    @property
    def budget(self) -> int:
        return max(1000, self.chat.context_tokens - self.chat.max_output_tokens - OVERHEAD_TOKENS)

    # Summaries.

    def summarize(self, task: SummaryTask) -> Result:
        n = prompts.nonce()
        header = prompts.about(task.title, stamp(task.duration), task.speakers)
        usage = Usage()
        if not any(ln.text.strip() for ln in task.lines):
            return Result("The transcript is empty: there is nothing to summarise.", usage, "")
        parts = split(task.lines, self.budget)
        if len(parts) == 1:
            text = self._call(prompts.summary(n, task.template, header, parts[0]), usage)
            return Result(text, usage, self.model)
        notes = [
            self._call(
                prompts.summary_map(n, task.template, header, i, len(parts), part),
                usage,
                max_tokens=self._note_tokens(len(parts)),
            )
            for i, part in enumerate(parts, 1)
        ]
        for _round in range(MAX_REDUCE_ROUNDS):
            groups = group(notes, self.budget)
            if len(groups) == 1:
                text = self._call(
                    prompts.summary_reduce(n, task.template, header, groups[0], final=True), usage
                )
                return Result(text, usage, self.model)
            notes = [
                self._call(
                    prompts.summary_reduce(n, task.template, header, g, final=False),
                    usage,
                    max_tokens=self._note_tokens(len(groups)),
                )
                for g in groups
            ]
        raise ProviderError(_("The summary did not converge: the model's notes kept growing."))

    def _note_tokens(self, parts: int) -> int:
        # Notes on all parts should fit one reduce call together.
        return max(200, min(self.chat.max_output_tokens, self.budget // max(1, parts)))

    def _call(self, messages: Sequence[Message], usage: Usage, max_tokens: int = 0) -> str:
        result = self.chat.complete(messages, max_tokens=max_tokens or self.chat.max_output_tokens)
        usage.add(result.usage)
        return result.text.strip()

    # Answers.

    def answer(self, task: AnswerTask, emit: Emit) -> Result:
        n = prompts.nonce()
        if task.across_workspace:
            context = prompts.sources_block(n, task.sources)
        else:
            context = prompts.data_block(n, (ln for s in task.sources for ln in s.lines))
        messages = prompts.answer(
            n, task.question, task.history, context, across=task.across_workspace
        )
        usage = Usage()
        pieces: list[str] = []
        for delta in self.chat.stream(
            messages, max_tokens=self.chat.max_output_tokens, usage=usage
        ):
            pieces.append(delta)
            emit(delta)
        return Result("".join(pieces), usage, self.model)


def provider_for(chat_cls: type[ChatModel]) -> type[LanguageModelProvider]:
    """The AIProvider class for a ChatModel class (what a plugin offers)."""
    return type(
        f"{chat_cls.__name__}Provider",
        (LanguageModelProvider,),
        {"name": chat_cls.name, "title": chat_cls.title, "chat_model": chat_cls},
    )


def split(lines: Sequence[Line], budget: int) -> list[list[Line]]:
    """The fewest parts of at most `budget` tokens each, about equal in size (so the last
    part is not a sliver that costs a call and says nothing)."""
    sizes = [estimate_tokens(ln.render()) + 1 for ln in lines]
    total = sum(sizes)
    if total <= budget:
        return [list(lines)]
    target = total / math.ceil(total / budget)
    parts: list[list[Line]] = [[]]
    filled = 0
    for ln, size in zip(lines, sizes, strict=True):
        if parts[-1] and (filled + size > budget or filled >= target):
            parts.append([])
            filled = 0
        parts[-1].append(ln)
        filled += size
    return parts


def group(notes: Sequence[str], budget: int) -> list[list[str]]:
    """Consecutive notes in groups of at most `budget` tokens (one note alone may exceed
    it only if the model overran its output limit; it then goes alone)."""
    groups: list[list[str]] = [[]]
    filled = 0
    for note in notes:
        size = estimate_tokens(note) + 10
        if groups[-1] and filled + size > budget:
            groups.append([])
            filled = 0
        groups[-1].append(note)
        filled += size
    return groups
