"""Fail-closed tenant scoping in the ORM, and the PostgreSQL row-level-security settings.

Modelled on SQLAlchemy's examples/extending_query/filter_public.py, but refusing instead of
returning everything when the context is missing.
"""

from __future__ import annotations

import functools

from sqlalchemy import Table, event, text
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria
from sqlalchemy.sql import visitors

from app.db import Base, WorkspaceScoped
from app.tenants.context import TenancyError, current_workspace_id, unscoped_reason

RLS_WORKSPACE_SETTING = "verbatim.workspace_id"
RLS_UNSCOPED_SETTING = "verbatim.unscoped"


@functools.cache
def _scoped_tables() -> frozenset[Table]:
    return frozenset(
        m.local_table for m in Base.registry.mappers if issubclass(m.class_, WorkspaceScoped)
    )


def _touches_scoped(state: ORMExecuteState) -> bool:
    # Walk the whole statement, subqueries included: a SELECT made only of scalar
    # subqueries has no entity of its own, so state.all_mappers would miss them.
    if any(issubclass(m.class_, WorkspaceScoped) for m in state.all_mappers):
        return True
    scoped = _scoped_tables()
    return any(isinstance(e, Table) and e in scoped for e in visitors.iterate(state.statement))


@event.listens_for(Session, "do_orm_execute")
def _scope_orm_statements(state: ORMExecuteState) -> None:
    _sync_rls(state.session)
    if not (state.is_select or state.is_update or state.is_delete):
        return
    if unscoped_reason() is not None or not _touches_scoped(state):
        return
    workspace_id = current_workspace_id()
    if workspace_id is None:
        raise TenancyError("workspace-owned rows queried without a workspace context")
    state.statement = state.statement.options(
        with_loader_criteria(
            WorkspaceScoped,
            lambda cls: cls.workspace_id == workspace_id,
            include_aliases=True,
            track_closure_variables=False,
        )
    )


@event.listens_for(Session, "before_flush")
def _check_writes(session: Session, _ctx: object, _instances: object) -> None:
    _sync_rls(session)
    if unscoped_reason() is not None:
        return
    workspace_id = current_workspace_id()
    for obj in list(session.new) + list(session.dirty) + list(session.deleted):
        if not isinstance(obj, WorkspaceScoped):
            continue
        if workspace_id is None:
            raise TenancyError(f"{type(obj).__name__} written without a workspace context")
        if obj.workspace_id is None and obj in session.new:
            obj.workspace_id = workspace_id
        if obj.workspace_id != workspace_id:
            raise TenancyError(f"{type(obj).__name__} belongs to another workspace")


def _rls_values() -> dict[str, str]:
    workspace_id = current_workspace_id()
    return {
        "w": str(workspace_id) if workspace_id else "",
        "u": "on" if unscoped_reason() is not None else "off",
    }


_SET_RLS = text(
    f"SELECT set_config('{RLS_WORKSPACE_SETTING}', :w, true),"
    f" set_config('{RLS_UNSCOPED_SETTING}', :u, true)"
)
_APPLIED = "verbatim_rls_applied"
_NO_CONTEXT = {"w": "", "u": "off"}


@event.listens_for(Session, "after_begin")
def _set_rls_on_begin(session: Session, _txn: object, connection) -> None:  # type: ignore[no-untyped-def]
    if connection.dialect.name == "postgresql":
        # is_local=true: the values die with the transaction, so a pooled connection
        # never carries one request's tenant into the next. For the same reason a new
        # transaction starts with none set, which is what the empty context means.
        values = _rls_values()
        if values != _NO_CONTEXT:
            connection.execute(_SET_RLS, values)
        session.info[_APPLIED] = values


def _sync_rls(session: Session) -> None:
    """Bring the transaction's settings up to date with the context, only when they differ.

    Called right before SQL runs (statements and flushes), so changing the context costs
    nothing until something is actually read or written.
    """
    if not session.in_transaction():
        return  # after_begin will set them
    values = _rls_values()
    if session.info.get(_APPLIED) == values:
        return
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(_SET_RLS, values)
        session.info[_APPLIED] = values


@event.listens_for(Session, "after_transaction_end")
def _forget_rls(session: Session, transaction) -> None:  # type: ignore[no-untyped-def]
    if transaction.parent is None:
        session.info.pop(_APPLIED, None)
