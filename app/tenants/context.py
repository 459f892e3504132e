"""The workspace context every query of workspace-owned rows runs in.

Two walls keep workspaces apart: the ORM (app.tenants.scoping) refuses workspace-owned rows
without a context and filters them by it, and on PostgreSQL row-level security does the same
with the values set here, transaction-locally, on the connection.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass


class TenancyError(RuntimeError):
    """Raised when workspace-owned rows are touched without a workspace context."""


@dataclass(frozen=True)
class _Scope:
    workspace_id: uuid.UUID | None = None
    unscoped_reason: str | None = None


_scope: ContextVar[_Scope] = ContextVar("verbatim_tenant_scope", default=_Scope())  # noqa: B039


def current_workspace_id() -> uuid.UUID | None:
    return _scope.get().workspace_id


def unscoped_reason() -> str | None:
    return _scope.get().unscoped_reason


@contextmanager
def workspace_scope(workspace_id: uuid.UUID) -> Iterator[None]:
    """Run the block as workspace `workspace_id` (requests, jobs, CLI)."""
    token = _scope.set(_Scope(workspace_id=workspace_id))
    try:
        yield
    finally:
        _scope.reset(token)


@contextmanager
def unscoped(reason: str) -> Iterator[None]:
    """The one way to read across workspaces; the reason says why, and is greppable."""
    if not reason.strip():
        raise ValueError("unscoped() needs a reason")
    token = _scope.set(_Scope(workspace_id=_scope.get().workspace_id, unscoped_reason=reason))
    try:
        yield
    finally:
        _scope.reset(token)


def enter_workspace(workspace_id: uuid.UUID) -> None:
    """Set the context for the rest of a request; reset_context() ends it."""
    _scope.set(_Scope(workspace_id=workspace_id))


def reset_context() -> None:
    _scope.set(_Scope())
