"""AI: map-reduce efficiency and our overhead on a 3-hour transcript.

The `openai` provider runs through the official client against the local Chat Completions
server of the tests (tests/fakes/chat_completions_server.py), which answers at once. For
each built-in template and several context windows it reports:
- calls and prompt tokens per summary, and prompt tokens as a multiple of the
  transcript's own tokens (1.0 would be reading it exactly once; map-reduce adds the
  instructions per call and the reduce step reads the notes);
- our overhead: the whole summary (splitting, prompts, the client, citation checks, the
  HTML rendering) against the provider's own time (each HTTP call, measured around the
  client call), as a ratio. The provider answers instantly, so this is the worst case;
  a real model spends seconds per call.
The same for a chat answer (retrieval over the whole transcript, streaming) and for the
extractive provider's summaries (no provider time: absolute milliseconds).

Targets: every summary takes the fewest calls possible (the parts the window forces, plus
one reduce), with prompt tokens at most 1.1x the transcript's; our overhead around a
summary is at most 1.0x an instant provider's time (a real model's seconds per call dwarf
it). A chat answer reads the whole 3-hour transcript for retrieval before its one call,
so against an instant provider its ratio is larger; its target is our own time: at most
50 ms before the model is asked, whatever the window. Exit status 1 when one is missed.

    .venv/bin/python bench/ai.py [--windows 8000,16000,32000,128000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.ai import render, retrieval  # noqa: E402
from app.ai.citations import Resolver, label  # noqa: E402
from app.ai.llm import provider_for, split  # noqa: E402
from app.ai.provider import (  # noqa: E402
    AnswerTask,
    Line,
    Message,
    ProviderConfig,
    Result,
    Source,
    SummaryTask,
    Usage,
    estimate_tokens,
)
from app.ai.providers.extractive import ExtractiveProvider  # noqa: E402
from app.ai.providers.openai_chat import OpenAIChatModel  # noqa: E402
from app.ai.templates import BUILTIN  # noqa: E402
from tests.fakes.chat_completions_server import ChatCompletionsServer  # noqa: E402

HOURS = 3.0
TARGET_PROMPT_RATIO = 1.1
TARGET_OVERHEAD = 1.0
TARGET_CHAT_OURS_MS = 50.0
SPEAKERS = ("Ana", "Ben", "Chloé", "Dev")
# A meeting's vocabulary, Zipf-weighted so some words are common and others rare.
VOCAB = re.findall(
    r"\w+",
    """we should look at the numbers again before review and then decide what team ships next
    quarter because customers asked for faster exports better search pricing discount plan
    roadmap budget hiring launch mobile release testing bug backlog design research users
    interview contract legal security audit migration database latency outage incident
    dashboard metrics revenue churn onboarding support ticket feedback survey partner
    integration webhook invoice renewal deadline friday monday owner action follow agreed""",
)


def three_hours() -> list[Line]:
    rng = random.Random(7)
    weights = [1 / (i + 1) for i in range(len(VOCAB))]
    lines, t, i = [], 0.0, 0
    while t < HOURS * 3600:
        n = rng.randint(8, 22)
        text = " ".join(rng.choices(VOCAB, weights, k=n)).capitalize() + "."
        dur = n * 0.38
        lines.append(Line(label(t), "", i, t, t + dur, SPEAKERS[i % 4 if i % 7 else 0], text))
        t += dur + 0.4
        i += 1
    return lines


class Timed:
    """Wraps the chat model to time the provider's own part (the HTTP calls)."""

    def __init__(self, chat: OpenAIChatModel) -> None:
        self.chat = chat
        self.name, self.title = chat.name, chat.title
        self.model = chat.model
        self.context_tokens = chat.context_tokens
        self.max_output_tokens = chat.max_output_tokens
        self.seconds = 0.0

    def complete(self, messages: Sequence[Message], *, max_tokens: int) -> Result:
        began = time.perf_counter()
        try:
            return self.chat.complete(messages, max_tokens=max_tokens)
        finally:
            self.seconds += time.perf_counter() - began

    def stream(self, messages: Sequence[Message], *, max_tokens: int, usage: Usage) -> Any:
        began = time.perf_counter()
        for piece in self.chat.stream(messages, max_tokens=max_tokens, usage=usage):
            self.seconds += time.perf_counter() - began
            yield piece
            began = time.perf_counter()
        self.seconds += time.perf_counter() - began


def config(url: str, window: int) -> ProviderConfig:
    return ProviderConfig(
        model="bench-model",
        base_url=url,
        api_key="sk-bench",
        timeout=30.0,
        max_retries=0,
        context_tokens=window,
        max_output_tokens=1500 if window >= 16000 else 800,
    )


def summary_row(url: str, window: int, key: str, lines: list[Line], repeat: int) -> dict:
    provider_cls = provider_for(OpenAIChatModel)
    task = SummaryTask(BUILTIN[key], "Quarterly planning", "en", lines[-1].end, tuple(lines),
                       SPEAKERS)  # fmt: skip
    transcript_tokens = sum(estimate_tokens(ln.render()) for ln in lines)
    totals, providers, result = [], [], None
    for _ in range(repeat):
        provider = provider_cls.from_config(config(url, window))
        timed = Timed(provider.chat)
        provider.chat = timed
        began = time.perf_counter()
        result = provider.summarize(task)
        checked = Resolver.for_transcript("t", lines).check(result.text)
        render.to_html(result.text, Resolver.for_transcript("t", lines), render.same_page)
        totals.append(time.perf_counter() - began)
        providers.append(timed.seconds)
    assert result is not None
    assert checked and all(c.valid for c in checked), "summary citations must be valid"
    total, prov = statistics.median(totals), statistics.median(providers)
    budget = provider_cls.from_config(config(url, window)).budget
    parts = len(split(lines, budget))
    return {
        "window": window,
        "template": key,
        "fewest": parts + (1 if parts > 1 else 0),
        "calls": result.usage.calls,
        "prompt_tokens": result.usage.prompt_tokens,
        "prompt_ratio": result.usage.prompt_tokens / transcript_tokens,
        "total_ms": total * 1000,
        "provider_ms": prov * 1000,
        "overhead": (total - prov) / prov,
    }


def answer_row(url: str, window: int, lines: list[Line], repeat: int) -> dict:
    provider = provider_for(OpenAIChatModel).from_config(config(url, window))
    timed = Timed(provider.chat)
    provider.chat = timed
    totals, providers = [], []
    for _ in range(repeat):
        timed.seconds = 0.0
        began = time.perf_counter()
        ctx = retrieval.for_transcript(lines, "what was agreed about pricing and the discount?",
                                       provider.context_tokens)  # fmt: skip
        source = Source("", "t", "", "", tuple(ctx.lines))
        task = AnswerTask("what was agreed about pricing?", (), (source,), tuple(ctx.ranked))
        result = provider.answer(task, lambda _piece: None)
        Resolver.for_transcript("t", lines).check(result.text)
        totals.append(time.perf_counter() - began)
        providers.append(timed.seconds)
    total, prov = statistics.median(totals), statistics.median(providers)
    return {"window": window, "total_ms": total * 1000, "provider_ms": prov * 1000,
            "overhead": (total - prov) / prov}  # fmt: skip


def extractive_ms(lines: list[Line], repeat: int) -> dict[str, float]:
    provider = ExtractiveProvider.from_config(config("", 0))
    out = {}
    for key, template in BUILTIN.items():
        task = SummaryTask(template, "Quarterly planning", "en", lines[-1].end, tuple(lines),
                           SPEAKERS)  # fmt: skip
        times = []
        for _ in range(repeat):
            began = time.perf_counter()
            provider.summarize(task)
            times.append(time.perf_counter() - began)
        out[key] = statistics.median(times) * 1000
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", default="8000,16000,32000,128000")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    windows = [int(w) for w in args.windows.split(",")]
    lines = three_hours()
    words = sum(len(ln.text.split()) for ln in lines)
    tokens = sum(estimate_tokens(ln.render()) for ln in lines)
    print(f"# 3-hour transcript: {len(lines):,} segments, {words:,} words, ~{tokens:,} tokens\n")
    failures = []
    with ChatCompletionsServer() as server:
        print("| window | template | calls | prompt tokens | x transcript | total ms "
              "| provider ms | overhead |")  # fmt: skip
        print("|---|---|---|---|---|---|---|---|")
        for window in windows:
            for key in BUILTIN:
                r = summary_row(server.url, window, key, lines, args.repeat)
                print(f"| {window:,} | {key} | {r['calls']} | {r['prompt_tokens']:,} "
                      f"| {r['prompt_ratio']:.2f} | {r['total_ms']:.0f} | {r['provider_ms']:.0f} "
                      f"| {r['overhead']:.2f} |")  # fmt: skip
                if r["calls"] > r["fewest"]:
                    failures.append(f"{key} at {window}: {r['calls']} calls, {r['fewest']} needed")
                if r["prompt_ratio"] > TARGET_PROMPT_RATIO:
                    failures.append(f"{key} at {window} read {r['prompt_ratio']:.2f}x")
                if r["overhead"] > TARGET_OVERHEAD:
                    failures.append(f"{key} at {window}: overhead {r['overhead']:.2f}")
        print(
            "\n| window | chat answer total ms | provider ms | ours ms | overhead |"
            "\n|---|---|---|---|---|"
        )
        for window in windows:
            r = answer_row(server.url, window, lines, args.repeat)
            ours = r["total_ms"] - r["provider_ms"]
            print(f"| {window:,} | {r['total_ms']:.0f} | {r['provider_ms']:.0f} | {ours:.0f} "
                  f"| {r['overhead']:.2f} |")  # fmt: skip
            if ours > TARGET_CHAT_OURS_MS:
                failures.append(f"chat at {window}: {ours:.0f} ms of our own")
    print("\n| extractive template | ms |\n|---|---|")
    for key, ms in extractive_ms(lines, args.repeat).items():
        print(f"| {key} | {ms:.0f} |")
    print()
    for f in failures:
        print(f"MISSED: {f}")
    print("PASS" if not failures else "FAIL")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
