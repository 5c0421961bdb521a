"""Location precision ("building", "postcode", "sector"), a linked site's main service, and the
date a source stopped listing a service (GIAS children's centres, issue 9).

Existing locations are "building": the maintained nursery schools have GIAS's own
grid references, and every other importer so far placed services by coordinates.

Revision ID: 0003
Revises: 0002
"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: Union[str, Sequence[str], None] = "0002"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table("location", schema=None) as batch_op:
        batch_op.add_column(sa.Column("precision", sa.String(length=10), nullable=False,
                                      server_default="building"))
    with op.batch_alter_table("service", schema=None) as batch_op:
        batch_op.add_column(sa.Column("part_of_id", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("part_of_name", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("closed_on", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("service", schema=None) as batch_op:
        batch_op.drop_column("closed_on")
        batch_op.drop_column("part_of_name")
        batch_op.drop_column("part_of_id")
    with op.batch_alter_table("location", schema=None) as batch_op:
        batch_op.drop_column("precision")
