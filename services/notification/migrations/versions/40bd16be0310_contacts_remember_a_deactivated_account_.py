"""contacts remember a deactivated account (active), so nothing is sent to it

Revision ID: 40bd16be0310
Revises: c3468f9d4ab9
Create Date: 2026-12-04 21:12:00.960795
"""
from alembic import op
import sqlalchemy as sa


revision = '40bd16be0310'
down_revision = 'c3468f9d4ab9'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('active', sa.Boolean(), server_default=sa.true(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('active')
