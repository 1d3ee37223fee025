"""index predictions by owner, label and confidence: the history charts read only the index

Replaces the (owner, label) index, which this one also serves.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("prediction", schema=None) as batch_op:
        batch_op.create_index("ix_prediction_owner_label_confidence", ["owner", "label", "confidence"], unique=False)
        batch_op.drop_index("ix_prediction_owner_label")


def downgrade() -> None:
    with op.batch_alter_table("prediction", schema=None) as batch_op:
        batch_op.create_index("ix_prediction_owner_label", ["owner", "label"], unique=False)
        batch_op.drop_index("ix_prediction_owner_label_confidence")
