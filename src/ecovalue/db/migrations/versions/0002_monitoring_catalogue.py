"""Monitoring (stations, observations, quality flags, alerts) and the eco-product catalogue.

On PostgreSQL monitoring stations get a GiST index on their location.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import ecovalue.db.types

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "monitoring_stations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("district_code", sa.String(length=32), nullable=False),
        sa.Column("location", ecovalue.db.types.Geometry("Point", srid=4490), nullable=False),
        sa.Column("river", sa.String(length=80), nullable=True),
        sa.Column("water_body", sa.String(length=8), nullable=True),
        sa.Column("upstream_district", sa.String(length=32), nullable=True),
        sa.Column("downstream_district", sa.String(length=32), nullable=True),
        sa.Column("target_class", sa.Integer(), nullable=True),
        sa.Column("expected_interval_s", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitoring_stations")),
        sa.UniqueConstraint("code", name=op.f("uq_monitoring_stations_code")),
    )
    with op.batch_alter_table("monitoring_stations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_monitoring_stations_district_code"), ["district_code"], unique=False
        )

    op.create_table(
        "catalogue_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("supersedes_id", sa.Integer(), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["accounting_runs.id"],
            name=op.f("fk_catalogue_versions_run_id_accounting_runs"),
        ),
        sa.ForeignKeyConstraint(
            ["supersedes_id"],
            ["catalogue_versions.id"],
            name=op.f("fk_catalogue_versions_supersedes_id_catalogue_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalogue_versions")),
        sa.UniqueConstraint("year", "version", name=op.f("uq_catalogue_versions_year_version")),
    )
    with op.batch_alter_table("catalogue_versions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_catalogue_versions_year"), ["year"], unique=False)

    op.create_table(
        "monitoring_alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.Column("threshold", sa.Integer(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("acknowledged_by", sa.String(length=80), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["station_id"],
            ["monitoring_stations.id"],
            name=op.f("fk_monitoring_alerts_station_id_monitoring_stations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitoring_alerts")),
        sa.UniqueConstraint(
            "station_id",
            "kind",
            "observed_at",
            name=op.f("uq_monitoring_alerts_station_id_kind_observed_at"),
        ),
    )
    with op.batch_alter_table("monitoring_alerts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_monitoring_alerts_station_id"), ["station_id"], unique=False
        )

    op.create_table(
        "monitoring_observations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("parameter", sa.String(length=20), nullable=False),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("value", ecovalue.db.types.ExactDecimal(24, 6), nullable=False),
        sa.Column("unit", sa.String(length=20), nullable=False),
        sa.Column("raw_value", sa.String(length=40), nullable=False),
        sa.Column("raw_unit", sa.String(length=20), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("recorded_by", sa.String(length=80), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["station_id"],
            ["monitoring_stations.id"],
            name=op.f("fk_monitoring_observations_station_id_monitoring_stations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitoring_observations")),
        sa.UniqueConstraint(
            "station_id",
            "parameter",
            "observed_at",
            name=op.f("uq_monitoring_observations_station_id_parameter_observed_at"),
        ),
    )
    with op.batch_alter_table("monitoring_observations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_monitoring_observations_station_id"), ["station_id"], unique=False
        )

    op.create_table(
        "catalogue_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("product_class", sa.String(length=16), nullable=False),
        sa.Column("sub_item", sa.String(length=60), nullable=False),
        sa.Column("sub_item_zh", sa.String(length=120), nullable=False),
        sa.Column("region_code", sa.String(length=32), nullable=False),
        sa.Column("region_name", sa.String(length=120), nullable=True),
        sa.Column("quantity", ecovalue.db.types.ExactDecimal(30, 6), nullable=True),
        sa.Column("unit", sa.String(length=40), nullable=False),
        sa.Column("quality_grade", sa.String(length=40), nullable=True),
        sa.Column("location", sa.String(length=200), nullable=True),
        sa.Column("department", sa.String(length=80), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=80), nullable=False),
        sa.Column("value_current", ecovalue.db.types.ExactDecimal(20, 2), nullable=True),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["catalogue_versions.id"],
            name=op.f("fk_catalogue_entries_version_id_catalogue_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalogue_entries")),
    )
    with op.batch_alter_table("catalogue_entries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_catalogue_entries_version_id"), ["version_id"], unique=False
        )

    op.create_table(
        "monitoring_flags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("observation_id", sa.Integer(), nullable=False),
        sa.Column("flag", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["observation_id"],
            ["monitoring_observations.id"],
            name=op.f("fk_monitoring_flags_observation_id_monitoring_observations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitoring_flags")),
        sa.UniqueConstraint(
            "observation_id", "flag", name=op.f("uq_monitoring_flags_observation_id_flag")
        ),
    )
    with op.batch_alter_table("monitoring_flags", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_monitoring_flags_observation_id"), ["observation_id"], unique=False
        )

    op.create_table(
        "catalogue_entry_parcels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("parcel_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["catalogue_entries.id"],
            name=op.f("fk_catalogue_entry_parcels_entry_id_catalogue_entries"),
        ),
        sa.ForeignKeyConstraint(
            ["parcel_id"], ["parcels.id"], name=op.f("fk_catalogue_entry_parcels_parcel_id_parcels")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalogue_entry_parcels")),
        sa.UniqueConstraint(
            "entry_id", "parcel_id", name=op.f("uq_catalogue_entry_parcels_entry_id_parcel_id")
        ),
    )
    with op.batch_alter_table("catalogue_entry_parcels", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_catalogue_entry_parcels_entry_id"), ["entry_id"], unique=False
        )

    if op.get_bind().dialect.name == "postgresql":
        op.create_index(
            "ix_monitoring_stations_location_gist",
            "monitoring_stations",
            ["location"],
            postgresql_using="gist",
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_monitoring_stations_location_gist", table_name="monitoring_stations")
    with op.batch_alter_table("catalogue_entry_parcels", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_catalogue_entry_parcels_entry_id"))

    op.drop_table("catalogue_entry_parcels")
    with op.batch_alter_table("monitoring_flags", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_monitoring_flags_observation_id"))

    op.drop_table("monitoring_flags")
    with op.batch_alter_table("catalogue_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_catalogue_entries_version_id"))

    op.drop_table("catalogue_entries")
    with op.batch_alter_table("monitoring_observations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_monitoring_observations_station_id"))

    op.drop_table("monitoring_observations")
    with op.batch_alter_table("monitoring_alerts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_monitoring_alerts_station_id"))

    op.drop_table("monitoring_alerts")
    with op.batch_alter_table("catalogue_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_catalogue_versions_year"))

    op.drop_table("catalogue_versions")
    with op.batch_alter_table("monitoring_stations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_monitoring_stations_district_code"))

    op.drop_table("monitoring_stations")
