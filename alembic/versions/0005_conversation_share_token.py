"""conversation.share_token: a conversation its owner shares read-only at /s/{token}

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("conversation") as batch_op:
        batch_op.add_column(sa.Column("share_token", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.create_index("ix_conversation_share_token", ["share_token"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("conversation") as batch_op:
        batch_op.drop_index("ix_conversation_share_token")
        batch_op.drop_column("share_token")
