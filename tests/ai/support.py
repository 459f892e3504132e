"""What the AI tests share: one product meeting, and a workspace pointed at a local Chat
Completions server (tests/fakes/chat_completions_server.py)."""

from __future__ import annotations

import uuid

from flask import Flask

from app.ai.config import KEY_PURPOSE
from app.ai.models import AiSettings, AiUsage
from app.security import sealed
from tests.conftest import SECRET
from tests.fakes.chat_completions_server import DEFAULT_MODEL, ChatCompletionsServer
from tests.integration.test_workspaces import database

# Decisions, an owner with a deadline, a question left open.
MEETING = [
    (0.0, 5.5, "Good morning everyone, today we settle the pricing of the Pro plan.", "S0"),
    (5.5, 12.0, "Customers keep telling us the Pro plan is too cheap for what it does.", "S1"),
    (12.0, 18.5, "The survey says most would pay forty nine dollars a month.", "S1"),
    (18.5, 25.0, "Then we agreed: the Pro plan moves to forty nine dollars in March.", "S0"),
    (25.0, 31.0, "Ben will update the pricing page and the checkout by Friday.", "S0"),
    (31.0, 37.5, "I will send the new price sheet to the sales team tomorrow.", "S1"),
    (37.5, 44.0, "What happens to customers on the old annual plan is still open.", "S0"),
    (44.0, 48.0, "Thanks everyone, see you next Monday.", "S0"),
]
STARTS = {start for start, _end, _text, _speaker in MEETING}
NAMES = {"S0": "Ana", "S1": "Ben"}


def use_server(
    app: Flask, workspace_id: uuid.UUID, server: ChatCompletionsServer, key: str = "sk-workspace"
) -> None:
    """The workspace's AI settings, as an admin saves them, pointing at `server`."""
    with database(app, workspace_id) as s:
        s.add(
            AiSettings(
                provider="openai",
                model=DEFAULT_MODEL,
                base_url=server.url,
                api_key_sealed=sealed.seal(SECRET, KEY_PURPOSE, key) if key else None,
            )
        )
        s.commit()


def spend(
    app: Flask,
    workspace_id: uuid.UUID,
    prompt_tokens: int,
    completion_tokens: int = 0,
    *,
    model: str = "m",
    provider: str = "openai",
) -> None:
    """Tokens the workspace already used this month (one recorded run)."""
    with database(app, workspace_id) as s:
        s.add(
            AiUsage(
                feature="summary",
                provider=provider,
                model=model,
                calls=3,
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens,
            )
        )
        s.commit()
