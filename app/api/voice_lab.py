"""(being built: issue 9)"""

from __future__ import annotations

from app.api.blueprint import api_blueprint

bp = api_blueprint("api_voice_lab", __name__, "(being built)")
