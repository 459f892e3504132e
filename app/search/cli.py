"""`flask search ...`: look at and repair the index."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from app.search import indexer
from app.search.backend import backend


@click.group("search", help="Search index: status, drain, reconcile, reindex.")
def search_cli() -> None:
    pass


@search_cli.command("status")
@with_appcontext
def status() -> None:
    """Which backend, and how far behind the index is."""
    count, age = indexer.backlog()
    behind = f", oldest {age:.0f} s old" if age is not None else ""
    click.echo(f"backend: {backend().name}; outbox: {count} change(s) waiting{behind}")


@search_cli.command("drain")
@with_appcontext
def drain() -> None:
    """Index every change waiting in the outbox now."""
    backend().ensure_ready()
    click.echo(str(indexer.drain()))


@search_cli.command("reconcile")
@with_appcontext
def reconcile() -> None:
    """Compare the index with the database and repair what differs."""
    backend().ensure_ready()
    click.echo(str(indexer.reconcile()))


@search_cli.command("reindex")
@with_appcontext
def reindex() -> None:
    """Rebuild the whole index; searches keep working meanwhile."""
    written, report = indexer.reindex()
    click.echo(f"rebuilt {written} transcript(s); then {report}")
