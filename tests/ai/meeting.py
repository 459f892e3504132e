"""Transcripts for the AI tests, as the provider sees them (app/ai/provider.py Lines).

MEETING is a product meeting of three people with things planted where tests look for
them: a pricing discussion, decisions, action items with owners and deadlines, a topic
change to the mobile release at line TOPIC_CHANGE, and a question left unanswered.
long_meeting() generates a 3-hour recording whose topics change at known lines.
"""

from __future__ import annotations

import random

from app.ai.citations import label
from app.ai.provider import Line, SummaryTask, Template
from app.ai.templates import BUILTIN

SCRIPT: list[tuple[str, str]] = [
    # Pricing (lines 0-19)
    ("Alice", "Okay, let's get started. We need to settle the pricing for the Pro plan "
     "and then look at the mobile release."),
    ("Carol", "Right now the Pro plan is thirty-nine dollars a month, and customers keep "
     "telling us the price is too low for what they get."),
    ("Bob", "Too low? I thought the complaint was about the price of extra seats."),
    ("Carol", "Both, actually. Enterprise prospects compare our per-seat pricing with "
     "competitors and we look cheap, which makes them doubt the product."),
    ("Alice", "What did the pricing survey say about willingness to pay?"),
    ("Carol", "Most respondents said they would pay between forty-five and fifty-five "
     "dollars a month for the Pro plan."),
    ("Bob", "If we raise the monthly price, we should grandfather existing customers "
     "for at least six months."),
    ("Alice", "I agree, grandfathering existing customers keeps churn down."),
    ("Carol", "And we could offer an annual discount of twenty percent to soften the "
     "price increase."),
    ("Bob", "With a twenty percent annual discount the effective monthly price stays "
     "close to forty dollars."),
    ("Alice", "That works for me. So we agreed to move the Pro plan to forty-nine dollars "
     "a month with a twenty percent annual discount."),
    ("Carol", "Great. The enterprise seat price stays at fifteen dollars per seat for now."),
    ("Alice", "Bob, can you update the pricing page and the checkout flow by Friday?"),
    ("Bob", "Sure, I'll have the pricing page ready by Friday."),
    ("Carol", "I'll send the new price sheet to the sales team tomorrow."),
    ("Alice", "Carol, please follow up with Acme about their discount before next Tuesday."),
    ("Carol", "Will do. Acme was worried about the renewal price anyway."),
    ("Bob", "Do we need a migration script for customers on the legacy pricing plan?"),
    ("Alice", "Yes, the billing system needs a migration for legacy plan customers, but "
     "that can wait until the new price is live."),
    ("Alice", "Alright, that covers pricing. Let's move on to the mobile app."),
    # The mobile release (lines 20-37)
    ("Bob", "The Android build crashes on login for some users, mostly older Samsung phones."),
    ("Alice", "How many users are affected by the login crash?"),
    ("Bob", "About three percent of Android sessions hit the login crash since version "
     "two point four."),
    ("Carol", "Two customers mentioned the app crashing on calls this week."),
    ("Bob", "The crash comes from the new biometric login library, it fails when the "
     "phone has no fingerprint sensor."),
    ("Alice", "Can we ship the mobile release with the crash fix only, and hold the new "
     "onboarding screens?"),
    ("Bob", "We can, the onboarding screens still need a design review anyway."),
    ("Alice", "Then we've decided to delay the mobile release by one week and ship the "
     "crash fix first."),
    ("Bob", "I'll fix the login crash on Android by Wednesday."),
    ("Carol", "Let's ask Dave to review the app store screenshots for the new onboarding "
     "screens."),
    ("Alice", "Good idea, the screenshots in the app store still show the old design."),
    ("Bob", "Testing on the iPhone looks fine, the iOS build has no login problems."),
    ("Bob", "And Alice will write the release notes for the app store once the fixed "
     "build is ready."),
    ("Alice", "Sure, I can do that."),
    ("Carol", "One more thing: what happens to customers on the old annual plan when "
     "their renewal comes up?"),
    ("Alice", "I don't know yet, we need to check with finance."),
    ("Bob", "Makes sense."),
    ("Alice", "Okay, thanks everyone, see you next Monday."),
]  # fmt: skip

TOPIC_CHANGE = 20  # the first line about the mobile release
PRICING_LINES = range(0, 20)
SPEAKERS = ("Alice", "Carol", "Bob")


def lines_of(script: list[tuple[str, str]], *, source: str = "", gap: float = 0.6) -> list[Line]:
    """Lines with plausible times: about 2.6 words a second, a short pause between."""
    out = []
    t = 3.0
    for i, (speaker, text) in enumerate(script):
        length = max(1.0, len(text.split()) / 2.6)
        out.append(Line(label(t, source), source, i, t, t + length, speaker, text))
        t += length + gap
    return out


MEETING: list[Line] = lines_of(SCRIPT)


def task(
    lines: list[Line],
    template: str | Template = "overview",
    *,
    speakers: tuple[str, ...] | None = None,
    duration: float | None = None,
) -> SummaryTask:
    tpl = BUILTIN[template] if isinstance(template, str) else template
    if speakers is None:
        speakers = tuple(dict.fromkeys(ln.speaker for ln in lines if ln.speaker))
    if duration is None:
        duration = lines[-1].end if lines else 0.0
    return SummaryTask(tpl, "Product sync", "en", duration, tuple(lines), speakers)


# The long recording's topics: each has words of its own; all share the small talk.
_TOPIC_WORDS = """
budget forecast revenue quarter spending invoices accounting margin
hiring candidates interviews recruiter offer salary onboarding referral
database migration postgres replica index schema backup latency
marketing campaign newsletter audience webinar brand social launch
security audit passwords phishing encryption firewall vulnerability patch
office relocation lease furniture parking kitchen desks commute
customer support tickets escalation refund complaint satisfaction chat
roadmap features prototype feedback usability design sprint backlog
"""
TOPICS: list[list[str]] = [row.split() for row in _TOPIC_WORDS.strip().splitlines()]
_FRAMES = [
    "I think the {0} and the {1} need more attention before we decide anything.",
    "We looked at the {0} last month and the {1} was better than expected.",
    "The main problem with the {0} is that nobody owns the {1} yet.",
    "Let me add that the {0} depends on the {2} more than people realise.",
    "Honestly the {1} is fine, but the {0} still worries me a little.",
    "So if we change the {2}, the {0} and the {1} will move too.",
    "Right, and the {2} report shows the {0} trending the wrong way.",
    "Can we agree that the {1} comes before the {2} this time?",
]
_SMALL_TALK = [
    "Yeah, okay.",
    "Right, that makes sense to me.",
    "Sorry, could you repeat that?",
    "Mm, good point.",
]
LONG_SPEAKERS = ("Alice", "Bob", "Carol", "Dan")


def long_meeting(segments: int = 1700, seconds: float = 3 * 3600) -> tuple[list[Line], list[int]]:
    """A generated recording of `seconds` with one topic after another; returns its lines
    and the positions where a new topic starts."""
    rng = random.Random(6)
    per_topic = segments // len(TOPICS)
    step = seconds / segments
    lines = []
    for i in range(segments):
        topic = TOPICS[min(i // per_topic, len(TOPICS) - 1)]
        if rng.random() < 0.12:
            text = rng.choice(_SMALL_TALK)
        else:
            sentences = []
            for _ in range(rng.choice((1, 2))):
                words = rng.sample(topic, 3)
                sentences.append(rng.choice(_FRAMES).format(*words))
            text = " ".join(sentences)
        start = i * step
        speaker = LONG_SPEAKERS[rng.randrange(len(LONG_SPEAKERS))]
        lines.append(Line(label(start), "", i, start, start + step - 0.3, speaker, text))
    changes = [per_topic * k for k in range(1, len(TOPICS))]
    return lines, changes
