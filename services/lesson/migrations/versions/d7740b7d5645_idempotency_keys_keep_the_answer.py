"""idempotency keys keep the answer, scoped per caller and route (shared.idempotency)

The old rows held the ids of the lessons a key made, not an answer to give again; keys live for a
day only, so the table is made anew rather than converted.

Revision ID: d7740b7d5645
Revises: 5d876da290ea
Create Date: 2026-12-04 18:22:16.462187
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy import Text  # noqa: F401  (rendered JSONB columns name it)
from sqlalchemy.dialects import postgresql

revision = 'd7740b7d5645'
down_revision = '5d876da290ea'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_table('idempotency_keys')
    op.create_table('idempotency_keys',
    sa.Column('caller_id', sa.Uuid(), nullable=False),
    sa.Column('route', sa.String(length=200), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('headers', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=True),
    sa.Column('body', sa.LargeBinary(), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('caller_id', 'route', 'key', name=op.f('pk_idempotency_keys'))
    )
    op.create_index(op.f('ix_idempotency_keys_expires_at'), 'idempotency_keys', ['expires_at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_idempotency_keys_expires_at'), table_name='idempotency_keys')
    op.drop_table('idempotency_keys')
    op.create_table('idempotency_keys',
    sa.Column('actor_id', sa.Uuid(), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('lesson_ids', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('actor_id', 'key', name=op.f('pk_idempotency_keys'))
    )
