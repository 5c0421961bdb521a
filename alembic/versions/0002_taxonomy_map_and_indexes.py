"""The steward-editable taxonomy mapping table (with common term names), and indexes
for the audit trail and for duplicate checks by postcode.

Revision ID: 0002
Revises: 0001
"""

from datetime import datetime, timezone
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: Union[str, Sequence[str], None] = "0001"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

#: Names councils' directories commonly give these kinds of service, mapped for any
#: vocabulary ("*"). A frozen copy: stewards edit the table, not this list.
DEFAULT_MAPPINGS = {
    "childrens_centre": ["Children's centre", "Children's centres", "Family hub", "Family hubs",
                         "Family centre", "Family centres", "Start for Life"],
    "stay_and_play": ["Stay and play", "Stay & play", "Play and stay", "Baby and toddler group",
                      "Baby and toddler groups", "Parent and toddler group", "Parent and toddler groups",
                      "Toddler groups", "Play sessions"],
    "baby_massage": ["Baby massage"],
    "parenting_programme": ["Parenting programme", "Parenting programmes", "Parenting course", "Parenting courses",
                            "Parenting support"],
    "antenatal": ["Antenatal", "Antenatal classes", "Antenatal groups", "Antenatal education"],
    "infant_feeding": ["Infant feeding", "Breastfeeding", "Breastfeeding support", "Breast feeding support",
                       "Feeding support"],
    "sleep_support": ["Sleep", "Sleep support", "Sleep clinic"],
    "health_visiting": ["Health visiting", "Health visitor", "Health visitors", "Baby clinic", "Baby clinics",
                        "Child health clinic", "Child health clinics"],
    "perinatal_peer_support": ["Perinatal peer support", "Peer support for parents"],
    "perinatal_mental_health": ["Perinatal mental health", "Perinatal mental health service",
                                "Maternal mental health"],
    "parent_infant_relationship": ["Parent-infant relationship", "Parent infant relationship service"],
    "early_education": ["Early education", "Nursery school", "Nursery schools", "Early years education"],
}


def upgrade() -> None:
    taxonomy_map = op.create_table(
        "taxonomy_map",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("vocabulary", sa.String(length=200), nullable=False),
        sa.Column("term", sa.String(length=300), nullable=False),
        sa.Column("code", sa.String(length=100), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("updated_by", sa.String(length=200), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("vocabulary", "term", name="uq_taxonomy_map_term"),
    )
    with op.batch_alter_table("audit", schema=None) as batch_op:
        batch_op.create_index("ix_audit_service_id", ["service_id"], unique=False)
    with op.batch_alter_table("location", schema=None) as batch_op:
        batch_op.create_index("ix_location_postal_code", ["postal_code"], unique=False)
    now = datetime.now(timezone.utc)
    op.bulk_insert(taxonomy_map, [
        {"vocabulary": "*", "term": term, "code": code, "note": "default", "updated_by": "migration 0002",
         "updated_at": now}
        for code, terms in DEFAULT_MAPPINGS.items() for term in terms
    ])


def downgrade() -> None:
    with op.batch_alter_table("location", schema=None) as batch_op:
        batch_op.drop_index("ix_location_postal_code")
    with op.batch_alter_table("audit", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_service_id")
    op.drop_table("taxonomy_map")
