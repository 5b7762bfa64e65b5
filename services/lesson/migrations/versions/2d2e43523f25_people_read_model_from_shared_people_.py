"""people read model from shared.people: users.locale, index on teacher_links.student_id

Revision ID: 2d2e43523f25
Revises: d7740b7d5645
Create Date: 2026-12-04 18:09:41.904406
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy import Text  # noqa: F401  (rendered JSONB columns name it)


revision = '2d2e43523f25'
down_revision = 'd7740b7d5645'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('teacher_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_teacher_links_student_id'), ['student_id'], unique=False)

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('locale', sa.String(length=10), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('locale')

    with op.batch_alter_table('teacher_links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_teacher_links_student_id'))

