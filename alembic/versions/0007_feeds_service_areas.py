"""Services without a building keep their service areas (an upper-tier authority or England);
stewards' Open Referral UK feeds, with each feed's last pull (its health).

Revision ID: 0007_feeds_service_areas
Revises: 0005 (the real head: 0006 comes before 0005 in the chain)
"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0007_feeds_service_areas"
down_revision: Union[str, Sequence[str], None] = "0005"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "service_area",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("service_id", sa.String(length=36), nullable=False),
        sa.Column("code", sa.String(length=9), nullable=False),
        sa.ForeignKeyConstraint(["service_id"], ["service.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_service_area_service_id", "service_area", ["service_id"], unique=False)
    op.create_table(
        "feed",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("base_url", sa.String(length=500), nullable=False),
        sa.Column("area", sa.String(length=9), nullable=True),
        sa.Column("modified_after", sa.Boolean(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=320), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_pull_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_status", sa.String(length=20), nullable=True),
        sa.Column("last_message", sa.Text(), nullable=True),
        sa.Column("last_counts", sa.Text(), nullable=True),
        sa.Column("shape", sa.String(length=20), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_ok_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("committed_from", sa.DateTime(timezone=True), nullable=True),
        sa.Column("full_from", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("feed")
    op.drop_index("ix_service_area_service_id", table_name="service_area")
    op.drop_table("service_area")
