"""The keyed audit record and account control.

Audit entries get the id of the HMAC key that signed them (NULL for entries written before:
plain SHA-256) and an index by row; the head remembers the chain's key. Accounts get the
organization they act for and a token version (raising it revokes issued tokens).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("key_id", sa.String(length=40), nullable=True))
        batch.create_index("ix_audit_log_entity_entity_id", ["entity", "entity_id"])
    with op.batch_alter_table("audit_head") as batch:
        batch.add_column(sa.Column("last_key_id", sa.String(length=40), nullable=True))
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("organization", sa.String(length=200), nullable=True))
        batch.add_column(
            sa.Column("token_version", sa.Integer(), server_default="0", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("token_version")
        batch.drop_column("organization")
    with op.batch_alter_table("audit_head") as batch:
        batch.drop_column("last_key_id")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_index("ix_audit_log_entity_entity_id")
        batch.drop_column("key_id")
