"""Fail-closed tenant scoping in the ORM, and the PostgreSQL row-level-security settings.

Modelled on SQLAlchemy's examples/extending_query/filter_public.py, but refusing instead of
returning everything when the context is missing.
"""

from __future__ import annotations

from sqlalchemy import event, text
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria

from app.db import WorkspaceScoped
from app.tenants.context import TenancyError, current_workspace_id, unscoped_reason

RLS_WORKSPACE_SETTING = "verbatim.workspace_id"
RLS_UNSCOPED_SETTING = "verbatim.unscoped"


def _touches_scoped(state: ORMExecuteState) -> bool:
    return any(issubclass(m.class_, WorkspaceScoped) for m in state.all_mappers)


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


@event.listens_for(Session, "after_begin")
def _set_rls_on_begin(session: Session, _txn: object, connection) -> None:  # type: ignore[no-untyped-def]
    if connection.dialect.name == "postgresql":
        # is_local=true: the values die with the transaction, so a pooled connection
        # never carries one request's tenant into the next.
        values = _rls_values()
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
