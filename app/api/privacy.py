"""(being built: issue 9)"""

from __future__ import annotations

from app.api.blueprint import api_blueprint

bp = api_blueprint("api_privacy", __name__, "(being built)")
