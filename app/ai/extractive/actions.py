"""What people commit to, decide and leave open, found by the phrases they say it with.

English phrasing only: in other languages these find nothing and say so, which is
honest, rather than guessing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from app.ai.extractive.text import QUESTION_ENDS, STOPWORDS, Unit

_I = re.IGNORECASE
_DAY = r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_WHEN = (
    rf"(?:end of (?:the |this |next )?(?:day|week|month|quarter|year|sprint)|eod|eow|cob|"
    rf"tomorrow(?: morning| afternoon)?|tonight|today|(?:this|next) (?:week|month|quarter|"
    rf"sprint|{_DAY})|{_DAY}(?: morning| afternoon| evening)?|the \d{{1,2}}(?:st|nd|rd|th)?|"
    rf"{_MONTH} \d{{1,2}}(?:st|nd|rd|th)?|\d{{1,2}}(?::\d{{2}})? ?(?:am|pm)|noon|"
    rf"the (?:next|following) (?:meeting|call|sync|standup))"
)
DEADLINE = re.compile(
    rf"\b(?:(?:by|before|until|no later than|due|on)\s+(?:the\s+)?{_WHEN}"
    rf"|(?:tomorrow|tonight|(?:this|next) (?:week|month|sprint|{_DAY})|"
    rf"end of (?:the )?(?:day|week|month|quarter|sprint)))\b",
    _I,
)
_SELF = re.compile(
    r"\b(?:i'll|i will|i'm going to|i am going to|i can (?:take|do|handle|send|write|"
    r"draft|set up|look)|i'll take|let me (?:take|handle|send|write|draft|check|look|set up|"
    r"follow|ask|sort|draft|put)|i'm on it|i'll own|i can own|i volunteer|i'll make sure)\b",
    _I,
)
_REQUEST = re.compile(
    r"\b(?:can you|could you|would you|will you|can you please|please|i need you to|"
    r"you need to|you should|make sure you|you'll|let me know|can someone|could someone)\b",
    _I,
)
_GROUP = re.compile(
    r"\b(?:we need to|we have to|we should|we must|we've got to|we'll need to|let's|"
    r"let us|we're going to have to|someone needs to|somebody needs to)\b",
    _I,
)
# "We need to settle the pricing", "let's move on to the release": what the meeting is
# about to discuss, not work for afterwards.
_AGENDA = re.compile(
    r"\b(?:we need to|we have to|we should|let's|let us)\s+(?:\w+\s+)?(?:discuss|talk|"
    r"cover|go over|look at|settle|get started|start|begin|move on|wrap up|recap|decide|"
    r"agree|think about|focus|meet)\b",
    _I,
)
_MARKER = re.compile(
    r"\b(?:action items?|follow[- ]?up|to-?do|assign(?:ed)?|take care of|make sure|"
    r"is responsible for|will own|owns this)\b",
    _I,
)
_NOT_A_TASK = re.compile(
    r"\b(?:let's see|let's say|let's be honest|let's face it|let me (?:think|see|be honest|"
    r"just say|tell you)|i'll be honest|i will say|i'll say|i'll admit|i'll tell you|"
    r"we'll see|i'll be there|don't need to|doesn't need to|no need to|won't need to|"
    r"shouldn't|we don't have to|you'll see|you'll notice|you'll find|i'll pass|"
    r"please note|i'll leave it there|repeat that|say that again|(?:you )?hear me|"
    r"see my screen|share (?:your|my) screen|(?:un)?mute|speak up|go ahead|hold on|"
    r"give me a (?:second|sec|minute|moment)|bear with me|excuse me)\b",
    _I,
)
_ASKING = re.compile(r"^(?:\W*\w+,\s*)?(?:can|could|would|will)\s+(?:you|someone|somebody)\b", _I)
_LEAD = re.compile(
    r"^(?:(?:so|okay|ok|alright|all right|and|also|um|uh|well|right|yeah|yes|sure|great|"
    r"perfect|good|then|now|oh|fine)\b[,.!]?\s+)+",
    _I,
)
DECISION = re.compile(
    r"\b(?:we(?:'ve| have)? decided|decided (?:to|on|that)|the decision is|decision:|"
    r"we(?:'re| are) agreed|(?:we|everyone|all) agree(?:d)?|agreed (?:to|on|that)|"
    r"(?:we'll|we will|let's|we're going to|we are going to) go with|going with|"
    r"approved|signed off|settled on|(?:it's|that's) (?:decided|settled|final)|"
    r"final (?:answer|decision)|consensus|we'll stick with|we're sticking with)\b",
    _I,
)
_UNDECIDED = re.compile(
    r"(?:\b(?:not|never|yet to|undecided)|n't)\s+(?:\w+\s+)?(?:decided|agreed|agree|approved|"
    r"settled|go with)\b",
    _I,
)
_OPEN = re.compile(
    r"\b(?:open question|still open|not sure yet|don't know yet|do not know yet|tbd|"
    r"to be (?:decided|determined|confirmed)|need to figure out|needs to be figured out|"
    r"need to find out|come back to (?:that|this|it)|park (?:that|this|it)|parking lot|"
    r"haven't decided|unresolved|no answer yet)\b",
    _I,
)
_NON_ANSWER = re.compile(
    r"\b(?:i don't know|i do not know|not sure|no idea|good question|hard to say|"
    r"come back to|find out|check on that|we'll see|depends)\b",
    _I,
)
_ANSWER_CUE = re.compile(
    r"^(?:\W*)(?:yes|no|yeah|yep|nope|sure|definitely|absolutely|probably|i think|i'd say|"
    r"it's|it is|it was|we|they|that's|the|about|around|roughly|because|since|only|"
    r"just|one|two|three|\d)",
    _I,
)
_GENERIC_SPEAKER = re.compile(r"^(?:speaker|spk|unknown|participant|guest)\b", _I)
_NOT_NAMES_TEXT = (
    "okay so yeah and also then now well right great perfect thanks everyone everybody "
    "guys folks team all someone somebody anyone hey hi sorry please maybe actually look "
    "listen wait fine cool sure agreed correct exactly indeed monday tuesday wednesday "
    "thursday friday saturday sunday january february march april may june july august "
    "september october november december"
)
_NOT_NAMES = frozenset(_NOT_NAMES_TEXT.split())
_REFERRED = re.compile(
    r"\b(?:ask|asking|assign(?:ed)?(?: (?:it|this|that))? to|owner is|owned by|over to|"
    r"hand (?:it|this|that) (?:off )?to)\s+([A-Z][\w'-]+)"
)


@dataclass(frozen=True)
class ActionItem:
    unit: Unit
    owner: str  # a person's name, "Team", or "" when nobody is named
    task: str
    deadline: str


class Names:
    """The people a transcript's text may name: its speakers, by full or first name."""

    def __init__(self, speakers: Sequence[str]) -> None:
        self.by_word: dict[str, str] = {}
        firsts: dict[str, list[str]] = {}
        for name in speakers:
            if not name or _GENERIC_SPEAKER.match(name):
                continue
            self.by_word[name.lower()] = name
            first = name.split()[0]
            if len(first) > 1:
                firsts.setdefault(first.lower(), []).append(name)
        for first, names in firsts.items():
            if len(set(names)) == 1:
                self.by_word.setdefault(first, names[0])
        # Longest first, so "Ann Lee" is found before "Ann".
        alternatives = "|".join(re.escape(w) for w in sorted(self.by_word, key=len, reverse=True))
        self.pattern = re.compile(rf"\b({alternatives})\b", _I) if alternatives else None

    def known(self, word: str) -> str | None:
        return self.by_word.get(word.lower())

    def vocative(self, text: str) -> str | None:
        """A name said first, as in "Bob, can you...": a speaker or any capitalised name."""
        m = re.match(r"^\W*([A-Z][\w'-]+(?: [A-Z][\w'-]+)?)\s*,", text)
        if not m:
            return None
        word = m.group(1)
        if self.known(word):
            return self.known(word)
        first = word.split()[0]
        if first.lower() in STOPWORDS or first.lower() in _NOT_NAMES:
            return None
        return word

    def subject(self, text: str) -> str | None:
        """The speaker named as the one who acts: "Alice will", "Carol to update"."""
        if self.pattern is None:
            return None
        for m in self.pattern.finditer(text):
            if not m.group(1)[:1].isupper():
                continue
            after = text[m.end() :]
            if re.match(
                r"\s*(?:will|'ll|is going to|is gonna|can|should|needs to|has to|"
                r"to (?!me\b|you\b|us\b)\w+|takes|owns|is on it|is handling)",
                after,
                _I,
            ):
                return self.by_word[m.group(1).lower()]
        return None


def action_items(units: Sequence[Unit], speakers: Sequence[str]) -> list[ActionItem]:
    names = Names(speakers)
    items: list[ActionItem] = []
    for i, unit in enumerate(units):
        text = _LEAD.sub("", unit.text)
        if len(unit.terms) < 2 or _NOT_A_TASK.search(text):
            continue
        question = text.rstrip().endswith(QUESTION_ENDS)
        if question and not _ASKING.search(text):
            continue
        deadline_match = DEADLINE.search(text)
        deadline = deadline_match.group(0) if deadline_match else ""
        owner, kind = _owner(text, unit, units, i, names, bool(deadline))
        if kind is None:
            continue
        vocative = names.vocative(text)
        task = re.sub(r"^\W*[A-Z][\w'-]+(?: [A-Z][\w'-]+)?\s*,\s*", "", text) if vocative else text
        task = task[:1].upper() + task[1:]
        if kind == "self" and _confirms(items, unit, owner):
            if deadline and not items[-1].deadline:
                items[-1] = ActionItem(items[-1].unit, owner, items[-1].task, deadline)
            continue
        items.append(ActionItem(unit, owner, task, deadline))
    return items


def _owner(
    text: str, unit: Unit, units: Sequence[Unit], i: int, names: Names, has_deadline: bool
) -> tuple[str, str | None]:
    """(owner, kind of commitment), kind None when the sentence commits nobody."""
    request = _REQUEST.search(text)
    vocative = names.vocative(text)
    if vocative and (request or (_SELF.search(text) is None and has_deadline)):
        return vocative, "named"
    if vocative and _MARKER.search(text):
        return vocative, "named"
    named = names.subject(text)
    if named:
        return named, "named"
    referred = _REFERRED.search(text)
    if referred and referred.group(1).lower() not in STOPWORDS | _NOT_NAMES:
        return names.known(referred.group(1)) or referred.group(1), "named"
    if _SELF.search(text):
        return unit.speaker, "self"
    if request:
        return _addressee(unit, units, i), "request"
    if _GROUP.search(text) and not _AGENDA.search(text):
        return "Team", "group"
    if _MARKER.search(text) or (has_deadline and re.search(r"\bwe'll\b|\bwe will\b", text, _I)):
        return unit.speaker if re.search(r"\bwe\b", text, _I) is None else "Team", "marker"
    return "", None


def _addressee(unit: Unit, units: Sequence[Unit], i: int) -> str:
    """Who "can you..." was said to: the next other speaker to talk, if soon."""
    if not unit.speaker:
        return ""
    for later in units[i + 1 : i + 4]:
        if later.speaker and later.speaker != unit.speaker:
            return later.speaker
    return ""


def _confirms(items: Sequence[ActionItem], unit: Unit, owner: str) -> bool:
    """Saying "Sure, I'll have the page ready by Friday" right after being asked to
    update the page is the same item, not another."""
    if not items or not owner or items[-1].owner != owner or unit.index - items[-1].unit.index > 3:
        return False
    said = set(unit.terms)
    shared = said & set(items[-1].unit.terms)
    return len(said) <= 2 or len(shared) * 2 >= len(said)


def decisions(units: Sequence[Unit]) -> list[Unit]:
    out = []
    for unit in units:
        text = unit.text
        if text.rstrip().endswith("?") or not DECISION.search(text):
            continue
        if _UNDECIDED.search(text) or len(unit.terms) < 2:
            continue
        out.append(unit)
    return out


def open_questions(units: Sequence[Unit], limit: int = 8) -> list[Unit]:
    """Questions nobody answered in the next few sentences, and things said to be open."""
    found: list[Unit] = []
    for i, unit in enumerate(units):
        text = _LEAD.sub("", unit.text)
        if _OPEN.search(text) and len(unit.terms) >= 2 and not text.endswith(QUESTION_ENDS):
            # "I don't know yet" right after a question already listed adds nothing.
            if not (found and unit.index - found[-1].index <= 2):
                found.append(unit)
            continue
        if not text.endswith(QUESTION_ENDS) or len(unit.terms) < 2 or unit.words < 4:
            continue
        if _ASKING.search(text):
            continue  # a request, listed with the action items
        if not _answered(unit, units[i + 1 : i + 5]):
            found.append(unit)
    if len(found) > limit:
        keep = sorted(found, key=lambda u: (-len(set(u.terms)), u.index))[:limit]
        found = sorted(keep, key=lambda u: u.index)
    return found


def _answered(question: Unit, after: Sequence[Unit]) -> bool:
    asked = set(question.terms)
    for reply in after:
        if question.speaker and reply.speaker == question.speaker:
            continue
        text = _LEAD.sub("", reply.text) or reply.text
        if _NON_ANSWER.search(text):
            return False
        if text.endswith(QUESTION_ENDS):
            continue
        if asked & set(reply.terms) or _ANSWER_CUE.match(text):
            return True
    return False
