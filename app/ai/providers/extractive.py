"""The `extractive` provider: no language model, nothing leaves the server, no cost.

Summaries are the transcript's own sentences, picked by centrality, topic segmentation
and the phrases people commit and decide with (app/ai/extractive/); answers quote the
lines that match the question. It is the quick start's default, so the AI features
work with no key and no model.
"""

from __future__ import annotations

from typing import ClassVar

from app.ai.extractive import answers, summaries
from app.ai.provider import AnswerTask, Emit, ProviderConfig, Result, SummaryTask, Usage

MODEL = "extractive-1"


class ExtractiveProvider:
    name: ClassVar[str] = "extractive"
    title: ClassVar[str] = "Extractive (no language model)"
    uses_language_model: ClassVar[bool] = False

    @classmethod
    def from_config(cls, config: ProviderConfig) -> ExtractiveProvider:
        # Model, URL and key configure language models; there is none here.
        return cls()

    @property
    def model(self) -> str:
        return MODEL

    def summarize(self, task: SummaryTask) -> Result:
        return Result(summaries.summarize(task), Usage(), MODEL)

    def answer(self, task: AnswerTask, emit: Emit) -> Result:
        written: list[str] = []
        for piece in answers.pieces(task):
            written.append(piece)
            emit(piece)
        return Result("".join(written), Usage(), MODEL)
