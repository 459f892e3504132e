"""Row-level security for workspace-owned tables (PostgreSQL only).

A row is visible and writable when its workspace_id is the transaction's
`verbatim.workspace_id`, or when the transaction declared itself unscoped (the app's
`unscoped(reason)`). Missing settings mean no rows: fail closed. FORCE applies the policy
to the table owner too.
"""

from alembic import op

POLICY = """
CREATE POLICY workspace_isolation ON {table}
  USING (
    current_setting('verbatim.unscoped', true) = 'on'
    OR workspace_id = NULLIF(current_setting('verbatim.workspace_id', true), '')::uuid
  )
  WITH CHECK (
    current_setting('verbatim.unscoped', true) = 'on'
    OR workspace_id = NULLIF(current_setting('verbatim.workspace_id', true), '')::uuid
  )
"""


def enable(table: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    op.execute(POLICY.format(table=table))


def disable(table: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"DROP POLICY IF EXISTS workspace_isolation ON {table}")
    op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
