"""Operators' data-rights requests page: every export and deletion request with its
status and 30-day deadline; and filing a deletion request received another way."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from app.errors import ServiceError
from app.forms import field
from app.privacy import deletion
from app.privacy.operators import operator_required

bp = Blueprint("operator", __name__)


@bp.get("/operator/requests")
@operator_required
def requests() -> Any:
    return render_template("operator/requests.html", rows=deletion.requests_page())


@bp.post("/operator/requests")
@operator_required
def file_deletion() -> Any:
    try:
        deletion.file_for_email(field("email"))
    except ServiceError as e:
        return render_template(
            "operator/requests.html", rows=deletion.requests_page(), error=e, form=request.form
        ), e.status
    flash(_("Deletion request filed: the scheduled job carries it out."), "success")
    return redirect(url_for("operator.requests"))
