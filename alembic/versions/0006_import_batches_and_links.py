"""Import batches (so that one step undoes a whole import), the batch of each audit row,
and stewards' decisions on duplicate pairs across sources. Indexes on the foreign keys
to service and location: removing or replacing services (undo, updates) no longer scans
the child tables once per row (SQLite checks every foreign key on delete).

Revision ID: 0006
Revises: 0004
"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: Union[str, Sequence[str], None] = "0004"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


INDEXED = [("service_at_location", "service_id"), ("service_at_location", "location_id"),
           ("contact", "service_id"), ("schedule", "service_id"), ("language", "service_id"),
           ("cost_option", "service_id")]


def upgrade() -> None:
    op.create_table(
        "import_batch",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=True),
        sa.Column("file_name", sa.String(length=300), nullable=True),
        sa.Column("new", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("closed", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.Integer(), nullable=False),
        sa.Column("undone_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("undone_by", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("audit", schema=None) as batch_op:
        batch_op.add_column(sa.Column("batch_id", sa.Integer(), nullable=True))
        batch_op.create_index("ix_audit_batch_id", ["batch_id"], unique=False)
        batch_op.create_foreign_key("fk_audit_batch_id", "import_batch", ["batch_id"], ["id"])
    op.create_table(
        "service_link",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("service_a", sa.String(length=36), nullable=False),
        sa.Column("service_b", sa.String(length=36), nullable=False),
        sa.Column("decision", sa.String(length=20), nullable=False),
        sa.Column("decided_by", sa.String(length=200), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["service_a"], ["service.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["service_b"], ["service.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("service_a", "service_b", name="uq_service_link_pair"),
    )
    op.create_index("ix_service_link_service_b", "service_link", ["service_b"], unique=False)
    for table, column in INDEXED:
        op.create_index(f"ix_{table}_{column}", table, [column], unique=False)


def downgrade() -> None:
    for table, column in INDEXED:
        op.drop_index(f"ix_{table}_{column}", table_name=table)
    op.drop_table("service_link")
    with op.batch_alter_table("audit", schema=None) as batch_op:
        batch_op.drop_constraint("fk_audit_batch_id", type_="foreignkey")
        batch_op.drop_index("ix_audit_batch_id")
        batch_op.drop_column("batch_id")
    op.drop_table("import_batch")
