"""`flask` commands: the demo account and user management."""

from __future__ import annotations

import click
from flask import Flask
from sqlalchemy import select

from app.extensions import db

DEMO_EMAIL = "demo@verbatim.local"
DEMO_PASSWORD = "listen-carefully-2026"  # noqa: S105 (the quick start's published demo sign-in)


def ensure_demo_user() -> tuple[str, str]:
    from app.auth.models import User
    from app.auth.services import sign_up
    from app.db import utcnow

    user = db.session.scalar(select(User).where(User.email == DEMO_EMAIL))
    if user is None:
        user = sign_up(DEMO_EMAIL, DEMO_PASSWORD, "Demo User")
    user.email_verified_at = user.email_verified_at or utcnow()
    db.session.commit()
    return DEMO_EMAIL, DEMO_PASSWORD


def register_cli(app: Flask) -> None:
    @app.cli.command("create-demo")
    def create_demo() -> None:
        """Create (or keep) the demo sign-in."""
        email, password = ensure_demo_user()
        click.echo(f"demo sign-in: {email} / {password}")

    from app.search.cli import search_cli

    app.cli.add_command(search_cli)
