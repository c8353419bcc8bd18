"""Initial schema: users, audit log, rights register, reporting, runs and publications.

On PostgreSQL the PostGIS extension is created if missing (needs a role allowed to create
extensions) and parcels get a GiST index on their geometry.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import ecovalue.db.types

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    if postgres:
        has_postgis = bind.execute(
            sa.text("SELECT 1 FROM pg_extension WHERE extname = 'postgis'")
        ).scalar()
        if not has_postgis:
            op.execute("CREATE EXTENSION postgis")
    op.create_table(
        "accounting_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dataset_path", sa.Text(), nullable=False),
        sa.Column("dataset_name", sa.String(length=120), nullable=True),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("profile_id", sa.String(length=80), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("input_hash", sa.String(length=128), nullable=False),
        sa.Column("profile_hash", sa.String(length=128), nullable=False),
        sa.Column("code_hash", sa.String(length=128), nullable=False),
        sa.Column("provenance", sa.Text(), nullable=False),
        sa.Column("row_count", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounting_runs")),
    )
    with op.batch_alter_table("accounting_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_accounting_runs_year"), ["year"], unique=False)

    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
    )
    op.create_table(
        "audit_log",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("at", sa.String(length=40), nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("entity", sa.String(length=80), nullable=False),
        sa.Column("entity_id", sa.String(length=120), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_log")),
        sa.UniqueConstraint("hash", name=op.f("uq_audit_log_hash")),
    )
    op.create_table(
        "owners",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("representative_body", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_owners")),
    )
    op.create_table(
        "registers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("srid", sa.Integer(), nullable=False),
        sa.Column("red_line_uses", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registers")),
        sa.UniqueConstraint("code", name=op.f("uq_registers_code")),
    )
    op.create_table(
        "report_submissions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("department", sa.String(length=80), nullable=False),
        sa.Column("district_code", sa.String(length=32), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("submitted_by", sa.String(length=80), nullable=False),
        sa.Column(
            "submitted_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_submissions")),
        sa.UniqueConstraint(
            "department",
            "district_code",
            "year",
            "version",
            name=op.f("uq_report_submissions_department_district_code_year_version"),
        ),
    )
    with op.batch_alter_table("report_submissions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_report_submissions_district_code"), ["district_code"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_report_submissions_year"), ["year"], unique=False)

    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=80), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("district_code", sa.String(length=32), nullable=True),
        sa.Column("department", sa.String(length=80), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_table(
        "parcels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("register_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=60), nullable=False),
        sa.Column("resource_type", sa.String(length=32), nullable=False),
        sa.Column("admin_code", sa.String(length=32), nullable=False),
        sa.Column("red_line", sa.Boolean(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("area_m2", ecovalue.db.types.ExactDecimal(18, 2), nullable=False),
        sa.Column("geometry", ecovalue.db.types.Geometry("Geometry", srid=None), nullable=False),
        sa.Column("minx", sa.Float(), nullable=False),
        sa.Column("miny", sa.Float(), nullable=False),
        sa.Column("maxx", sa.Float(), nullable=False),
        sa.Column("maxy", sa.Float(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["owners.id"], name=op.f("fk_parcels_owner_id_owners")
        ),
        sa.ForeignKeyConstraint(
            ["register_id"], ["registers.id"], name=op.f("fk_parcels_register_id_registers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_parcels")),
        sa.UniqueConstraint("register_id", "code", name=op.f("uq_parcels_register_id_code")),
    )
    with op.batch_alter_table("parcels", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_parcels_admin_code"), ["admin_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_parcels_minx"), ["minx"], unique=False)
        batch_op.create_index(batch_op.f("ix_parcels_register_id"), ["register_id"], unique=False)

    op.create_table(
        "publications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("supersedes_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("published_by", sa.String(length=80), nullable=False),
        sa.Column(
            "published_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["accounting_runs.id"], name=op.f("fk_publications_run_id_accounting_runs")
        ),
        sa.ForeignKeyConstraint(
            ["supersedes_id"],
            ["publications.id"],
            name=op.f("fk_publications_supersedes_id_publications"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_publications")),
        sa.UniqueConstraint("year", "version", name=op.f("uq_publications_year_version")),
    )
    with op.batch_alter_table("publications", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_publications_year"), ["year"], unique=False)

    op.create_table(
        "report_reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("reviewed_by", sa.String(length=80), nullable=False),
        sa.Column(
            "reviewed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["report_submissions.id"],
            name=op.f("fk_report_reviews_submission_id_report_submissions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_reviews")),
        sa.UniqueConstraint("submission_id", name=op.f("uq_report_reviews_submission_id")),
    )
    op.create_table(
        "report_rows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("table", sa.String(length=16), nullable=False),
        sa.Column("region_code", sa.String(length=32), nullable=False),
        sa.Column("item", sa.String(length=80), nullable=False),
        sa.Column("indicator", sa.String(length=40), nullable=True),
        sa.Column("ecosystem_type", sa.String(length=20), nullable=True),
        sa.Column("quantity", ecovalue.db.types.ExactDecimal(28, 6), nullable=False),
        sa.Column("unit", sa.String(length=40), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=True),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["report_submissions.id"],
            name=op.f("fk_report_rows_submission_id_report_submissions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_rows")),
    )
    with op.batch_alter_table("report_rows", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_report_rows_submission_id"), ["submission_id"], unique=False
        )

    op.create_table(
        "run_results",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("region_code", sa.String(length=32), nullable=False),
        sa.Column("region_name_zh", sa.String(length=120), nullable=False),
        sa.Column("indicator", sa.String(length=40), nullable=False),
        sa.Column("category", sa.String(length=20), nullable=False),
        sa.Column("ecosystem_type", sa.String(length=20), nullable=False),
        sa.Column("physical_quantity", ecovalue.db.types.ExactDecimal(30, 6), nullable=True),
        sa.Column("physical_unit", sa.String(length=40), nullable=False),
        sa.Column("value_current", ecovalue.db.types.ExactDecimal(20, 2), nullable=False),
        sa.Column("value_constant", ecovalue.db.types.ExactDecimal(20, 2), nullable=False),
        sa.Column("method", sa.String(length=120), nullable=False),
        sa.Column("source", sa.String(length=120), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["accounting_runs.id"], name=op.f("fk_run_results_run_id_accounting_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_run_results")),
    )
    with op.batch_alter_table("run_results", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_run_results_run_id"), ["run_id"], unique=False)

    op.create_table(
        "rights",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("parcel_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("holder", sa.String(length=200), nullable=False),
        sa.Column("share", ecovalue.db.types.ExactDecimal(9, 6), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("use", sa.String(length=60), nullable=True),
        sa.Column("certificate_no", sa.String(length=80), nullable=True),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("derived", sa.Boolean(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["parcel_id"], ["parcels.id"], name=op.f("fk_rights_parcel_id_parcels")
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["rights.id"], name=op.f("fk_rights_parent_id_rights")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rights")),
    )
    with op.batch_alter_table("rights", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rights_parcel_id"), ["parcel_id"], unique=False)

    op.create_table(
        "right_transactions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("right_id", sa.Integer(), nullable=False),
        sa.Column("new_right_id", sa.Integer(), nullable=True),
        sa.Column("mortgage_id", sa.Integer(), nullable=True),
        sa.Column("counterparty", sa.String(length=200), nullable=False),
        sa.Column("effective_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("consent_of", sa.Text(), nullable=True),
        sa.Column("amount", ecovalue.db.types.ExactDecimal(20, 2), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("recorded_by", sa.String(length=80), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["mortgage_id"],
            ["right_transactions.id"],
            name=op.f("fk_right_transactions_mortgage_id_right_transactions"),
        ),
        sa.ForeignKeyConstraint(
            ["new_right_id"], ["rights.id"], name=op.f("fk_right_transactions_new_right_id_rights")
        ),
        sa.ForeignKeyConstraint(
            ["right_id"], ["rights.id"], name=op.f("fk_right_transactions_right_id_rights")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_right_transactions")),
    )
    with op.batch_alter_table("right_transactions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_right_transactions_right_id"), ["right_id"], unique=False
        )

    if postgres:
        op.create_index(
            "ix_parcels_geometry_gist", "parcels", ["geometry"], postgresql_using="gist"
        )
    audit_head = sa.table(
        "audit_head",
        sa.column("id", sa.Integer),
        sa.column("last_seq", sa.Integer),
        sa.column("last_hash", sa.String),
    )
    op.bulk_insert(audit_head, [{"id": 1, "last_seq": 0, "last_hash": "0" * 64}])


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_parcels_geometry_gist", table_name="parcels")
    with op.batch_alter_table("right_transactions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_right_transactions_right_id"))

    op.drop_table("right_transactions")
    with op.batch_alter_table("rights", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rights_parcel_id"))

    op.drop_table("rights")
    with op.batch_alter_table("run_results", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_run_results_run_id"))

    op.drop_table("run_results")
    with op.batch_alter_table("report_rows", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_report_rows_submission_id"))

    op.drop_table("report_rows")
    op.drop_table("report_reviews")
    with op.batch_alter_table("publications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_publications_year"))

    op.drop_table("publications")
    with op.batch_alter_table("parcels", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_parcels_register_id"))
        batch_op.drop_index(batch_op.f("ix_parcels_minx"))
        batch_op.drop_index(batch_op.f("ix_parcels_admin_code"))

    op.drop_table("parcels")
    op.drop_table("users")
    with op.batch_alter_table("report_submissions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_report_submissions_year"))
        batch_op.drop_index(batch_op.f("ix_report_submissions_district_code"))

    op.drop_table("report_submissions")
    op.drop_table("registers")
    op.drop_table("owners")
    op.drop_table("audit_log")
    op.drop_table("audit_head")
    with op.batch_alter_table("accounting_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_accounting_runs_year"))

    op.drop_table("accounting_runs")
