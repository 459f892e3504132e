"""Marshmallow schemas of the AI API (app/api/ai.py); the OpenAPI description comes from
them. Lengths and values are checked by the services, which answer 400 naming the field;
these schemas check shapes and types (422)."""

from __future__ import annotations

from marshmallow import EXCLUDE, INCLUDE, Schema, fields

from app.ai import service, template_admin
from app.ai.models import RunStatus

STATUSES = [s.value for s in RunStatus]
LINKS = (
    "Citations in `html` are links to the transcript's page at the cited moment "
    '(`<a class="cite" href="https://…/w/<workspace>/transcripts/<id>#t=<seconds>" '
    'data-seek="<seconds>">[mm:ss]</a>`); citations that name no real segment stay text, '
    'in `<span class="cite cite-invalid">`.'
)


class _In(Schema):
    class Meta:
        unknown = EXCLUDE


# --- the provider and usage ------------------------------------------------------------------


class ProviderOut(Schema):
    name = fields.String(metadata={"description": "e.g. extractive, openai"})
    title = fields.String()
    uses_language_model = fields.Boolean(
        metadata={"description": "false: results are the transcript's own sentences (no model)"}
    )
    model = fields.String(metadata={"description": "Empty when no language model is used"})
    label = fields.String(metadata={"description": "How results name what made them"})
    overridden = fields.Boolean(
        metadata={"description": "The workspace chose its own provider, model or server"}
    )


class UsageRowOut(Schema):
    feature = fields.String(metadata={"enum": ["summary", "chat", "ask"]})
    provider = fields.String()
    model = fields.String()
    runs = fields.Integer()
    calls = fields.Integer(metadata={"description": "Requests to the provider"})
    prompt_tokens = fields.Integer()
    completion_tokens = fields.Integer()


class UsageOut(Schema):
    since = fields.DateTime(metadata={"description": "The start of this calendar month (UTC)"})
    tokens_used = fields.Integer(metadata={"description": "Prompt and reply tokens this month"})
    allowance = fields.Integer(
        allow_none=True, metadata={"description": "Tokens a month on the plan; null: unlimited"}
    )
    remaining = fields.Integer(allow_none=True, metadata={"description": "null: unlimited"})
    by_feature = fields.List(fields.Nested(UsageRowOut))


class AiOut(Schema):
    provider = fields.Nested(ProviderOut)
    usage = fields.Nested(UsageOut)


# --- templates -------------------------------------------------------------------------------


class TemplateOut(Schema):
    key = fields.String(
        metadata={
            "description": "What POST …/summaries takes as `template`: a built-in name "
            "(overview, key_points, action_items, chapters, minutes) or custom:<id>"
        }
    )
    id = fields.UUID(allow_none=True, metadata={"description": "null for a built-in template"})
    title = fields.String()
    instructions = fields.String(metadata={"description": "The prompt the summary follows"})
    builtin = fields.Boolean()
    created_at = fields.DateTime(allow_none=True)
    updated_at = fields.DateTime(allow_none=True)


class TemplateIn(_In):
    name = fields.String(
        required=True,
        metadata={"description": f"1 to {template_admin.MAX_NAME} characters, unique"},
    )
    instructions = fields.String(
        required=True,
        metadata={"description": f"1 to {template_admin.MAX_INSTRUCTIONS} characters"},
    )


class TemplatePatchIn(_In):
    name = fields.String(metadata={"description": "Leave out to keep it"})
    instructions = fields.String(metadata={"description": "Leave out to keep it"})


# --- stored results --------------------------------------------------------------------------


class CitationOut(Schema):
    label = fields.String(metadata={"description": "As written, e.g. [12:34] or [T2 12:34]"})
    valid = fields.Boolean(metadata={"description": "It names a real segment"})
    source = fields.String(metadata={"description": "T1, T2… across the workspace, else empty"})
    transcript_id = fields.String(metadata={"description": "Empty when not valid"})
    start = fields.Float(metadata={"description": "The cited segment's start, in seconds"})
    position = fields.Integer(metadata={"description": "The cited segment's place, from 0"})


class _RunOut(Schema):
    id = fields.UUID()
    status = fields.String(metadata={"enum": STATUSES})
    content = fields.String(metadata={"description": "Markdown, as the provider wrote it"})
    html = fields.String(metadata={"description": "`content` as sanitised HTML. " + LINKS})
    citations = fields.List(fields.Nested(CitationOut))
    provider = fields.String()
    model = fields.String()
    calls = fields.Integer()
    prompt_tokens = fields.Integer()
    completion_tokens = fields.Integer()
    error = fields.String(metadata={"description": "Why it failed (status failed)"})
    created_at = fields.DateTime()
    finished_at = fields.DateTime(allow_none=True)


class SummaryOut(_RunOut):
    transcript_id = fields.UUID()
    template_key = fields.String()
    template_title = fields.String()
    prompt = fields.String(metadata={"description": "The template's instructions, as used"})
    revision = fields.Integer(metadata={"description": "The transcript revision it read"})
    stale = fields.Boolean(
        metadata={"description": "The transcript was edited since: regenerate for a fresh one"}
    )


class SummaryIn(_In):
    template = fields.String(
        load_default="",
        metadata={"description": "A template's `key` (GET /ai/templates), e.g. overview"},
    )


class MessageOut(_RunOut):
    role = fields.String(metadata={"enum": ["user", "assistant"]})
    transcript_id = fields.UUID(
        allow_none=True, metadata={"description": "null: a question across the workspace"}
    )
    revision = fields.Integer(
        allow_none=True, metadata={"description": "The transcript revision a chat answer read"}
    )
    filters = fields.Dict(
        keys=fields.String(), values=fields.String(), metadata={"description": "As applied"}
    )
    url = fields.String(metadata={"description": "This message in the API (poll it)"})
    stream_url = fields.String(
        allow_none=True,
        metadata={"description": "An answer's server-sent events; null for a question"},
    )


class AskedOut(Schema):
    question = fields.Nested(MessageOut)
    answer = fields.Nested(MessageOut, metadata={"description": "Queued; poll or stream it"})
    stream_url = fields.String(metadata={"description": "The answer's server-sent events"})


class QuestionIn(_In):
    question = fields.String(
        load_default="",
        metadata={"description": f"1 to {service.MAX_QUESTION_CHARS} characters"},
    )


class AskFiltersIn(Schema):
    class Meta:
        unknown = INCLUDE  # named in a 400 by the route, not dropped unseen

    date_from = fields.String(
        metadata={"format": "date", "description": "Transcripts created on or after (UTC)"}
    )
    date_to = fields.String(
        metadata={"format": "date", "description": "Transcripts created on or before (UTC)"}
    )
    speaker = fields.String(metadata={"description": "A speaker's name, exactly"})
    language = fields.String(metadata={"description": "A language code, e.g. en"})
    tag = fields.String()
    folder = fields.String(metadata={"format": "uuid", "description": "A folder's id"})


class AskIn(QuestionIn):
    filters = fields.Nested(
        AskFiltersIn,
        load_default=dict,
        metadata={
            "description": "Narrow what is searched, as on the search page. Relative dates in "
            "the question (last month, this week) are used when no dates are given."
        },
    )
