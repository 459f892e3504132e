"""search: the outbox, each SQL backend's index tables, and two transcript columns

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21 10:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# One row per chunk of consecutive segments of one speaker (app/search/documents.py).
# The GIN index leads with the workspace (btree_gin), so a query reads only the posting
# lists of its own workspace however large the others grow.
#
# No row-level security on this table, unlike every workspace table: under RLS, PostgreSQL
# may not use a non-leakproof operator such as tsvector @@ tsquery as an index condition,
# so every search read all of a workspace's chunks (3x over the 50 ms target at 1M
# segments). Like a Meilisearch index it is derived data, guarded by the workspace filter
# the backend always builds from the authorised request and by the scoped reload of every
# hit (app/search/service.py).
POSTGRES = [
    "CREATE EXTENSION IF NOT EXISTS btree_gin",
    """
    CREATE TABLE search_chunks (
      workspace_id uuid NOT NULL
        CONSTRAINT fk_search_chunks_workspace_id_workspaces
        REFERENCES workspaces (id) ON DELETE CASCADE,
      transcript_id uuid NOT NULL
        CONSTRAINT fk_search_chunks_transcript_id_transcripts
        REFERENCES transcripts (id) ON DELETE CASCADE,
      chunk integer NOT NULL,
      version integer NOT NULL,
      revision integer NOT NULL,
      title text NOT NULL,
      text text NOT NULL,
      -- Accent-folded copies, only where they differ (app/search/query.py: fold): matched
      -- and highlighted folded, shown as written.
      title_folded text,
      text_folded text,
      speaker text NOT NULL,
      start double precision NOT NULL,
      "end" double precision NOT NULL,
      marks jsonb NOT NULL,
      language text NOT NULL,
      config regconfig NOT NULL,
      tags text[] NOT NULL,
      folder_id uuid,
      uploader_id uuid,
      created_at timestamptz NOT NULL,
      tsv tsvector NOT NULL,
      CONSTRAINT pk_search_chunks PRIMARY KEY (workspace_id, transcript_id, chunk)
    )
    """,
    "CREATE INDEX ix_search_chunks_tsv ON search_chunks USING gin (workspace_id, tsv)",
    "CREATE INDEX ix_search_chunks_transcript_id ON search_chunks (transcript_id)",
    "CREATE INDEX ix_search_chunks_created ON search_chunks (workspace_id, created_at)",
]

# SQLite: metadata in a plain table, words in FTS5 under the same rowid. The `scope`
# column holds the workspace as a token, so MATCH intersects the query with the
# workspace's posting list instead of scanning every workspace's matches.
SQLITE = [
    """
    CREATE TABLE search_docs (
      id INTEGER PRIMARY KEY,
      workspace_id CHAR(32) NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
      transcript_id CHAR(32) NOT NULL REFERENCES transcripts (id) ON DELETE CASCADE,
      chunk INTEGER NOT NULL,
      version INTEGER NOT NULL,
      revision INTEGER NOT NULL,
      speaker TEXT NOT NULL,
      start REAL NOT NULL,
      "end" REAL NOT NULL,
      marks TEXT NOT NULL,
      language TEXT NOT NULL,
      tags TEXT NOT NULL,
      folder_id CHAR(32),
      uploader_id CHAR(32),
      created_ts REAL NOT NULL,
      UNIQUE (workspace_id, transcript_id, chunk)
    )
    """,
    "CREATE INDEX ix_search_docs_transcript_id ON search_docs (transcript_id)",
    """
    CREATE VIRTUAL TABLE search_fts USING fts5(
      scope, title, text,
      tokenize = 'porter unicode61 remove_diacritics 2',
      prefix = '2 3'
    )
    """,
    # Foreign-key cascades delete search_docs rows; their words must go with them.
    """
    CREATE TRIGGER search_docs_words_go_too AFTER DELETE ON search_docs BEGIN
      DELETE FROM search_fts WHERE rowid = old.id;
    END
    """,
]


def upgrade() -> None:
    op.add_column(
        "transcripts",
        sa.Column("encrypted", sa.Boolean(), server_default="false", nullable=False),
    )
    op.add_column(
        "transcripts",
        sa.Column("search_version", sa.Integer(), server_default="0", nullable=False),
    )
    op.create_table(
        "search_outbox",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("transcript_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_search_outbox")),
    )
    op.create_index(
        "ix_search_outbox_target", "search_outbox", ["workspace_id", "transcript_id"], unique=False
    )
    dialect = op.get_bind().dialect.name
    for statement in POSTGRES if dialect == "postgresql" else SQLITE if dialect == "sqlite" else []:
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("DROP TABLE search_chunks")
    elif dialect == "sqlite":
        op.execute("DROP TABLE search_fts")
        op.execute("DROP TABLE search_docs")
    op.drop_index("ix_search_outbox_target", table_name="search_outbox")
    op.drop_table("search_outbox")
    with op.batch_alter_table("transcripts") as batch:
        batch.drop_column("search_version")
        batch.drop_column("encrypted")
