"""single-use invites, class codes and their uses, deactivated accounts

Revision ID: 9b3e61c0d2a7
Revises: 4162ed196199
Create Date: 2026-12-04 18:45:00
"""
from alembic import op
import sqlalchemy as sa

revision = '9b3e61c0d2a7'
down_revision = '4162ed196199'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('deactivated_at', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('invites', schema=None) as batch_op:
        batch_op.add_column(sa.Column('multi_use', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('used_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True))
    op.create_table('invite_uses',
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('acceptor_id', sa.Uuid(), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['code'], ['invites.code'], name=op.f('fk_invite_uses_code_invites'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['acceptor_id'], ['users.id'], name=op.f('fk_invite_uses_acceptor_id_users'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('code', 'acceptor_id', name=op.f('pk_invite_uses'))
    )


def downgrade() -> None:
    op.drop_table('invite_uses')
    with op.batch_alter_table('invites', schema=None) as batch_op:
        batch_op.drop_column('revoked_at')
        batch_op.drop_column('used_at')
        batch_op.drop_column('multi_use')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('deactivated_at')
