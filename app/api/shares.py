"""API: public share links of a transcript."""

from __future__ import annotations

from app.api.blueprint import api_blueprint

bp = api_blueprint("api_shares", __name__, "Public share links of a transcript")
