"""people read model from shared.people: users.timezone

Revision ID: dd1685d6ce69
Revises: 3389785962a2
Create Date: 2026-12-04 18:10:44.309310
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy import Text  # noqa: F401  (rendered JSONB columns name it)


revision = 'dd1685d6ce69'
down_revision = '3389785962a2'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('timezone', sa.String(length=64), nullable=True))
    # each known user's current zone, from the zone history
    op.execute("UPDATE users SET timezone = (SELECT z.timezone FROM user_timezones z WHERE z.user_id = users.id "
               "ORDER BY z.effective_from DESC LIMIT 1)")


def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('timezone')

