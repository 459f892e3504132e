"""(being built: issue 9)"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("operator", __name__)
