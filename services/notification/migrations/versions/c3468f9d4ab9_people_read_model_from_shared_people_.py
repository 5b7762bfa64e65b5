"""people read model from shared.people: contacts become users, links become teacher_links and parent_links

Revision ID: c3468f9d4ab9
Revises: 08a05b2ff25b
Create Date: 2026-12-04 18:11:48.935714
"""
from alembic import op
import sqlalchemy as sa


revision = 'c3468f9d4ab9'
down_revision = '08a05b2ff25b'
branch_labels = None
depends_on = None


def upgrade() -> None:
    _link_table("teacher_links", "teacher_id")
    _link_table("parent_links", "parent_id")
    op.create_table(
        "users",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=True),
        sa.Column("full_name", sa.String(length=200), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=True),
        sa.Column("locale", sa.String(length=10), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("telegram_chat_id", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
    )
    op.execute("INSERT INTO users (id, role, full_name, timezone, locale, updated_at, email, telegram_chat_id) "
               "SELECT user_id, role, NULLIF(full_name, ''), timezone, locale, CURRENT_TIMESTAMP, email, "
               "telegram_chat_id FROM contacts")
    op.execute("INSERT INTO teacher_links (teacher_id, student_id, linked_at) "
               "SELECT related_id, student_id, CURRENT_TIMESTAMP FROM links WHERE relation = 'teacher'")
    op.execute("INSERT INTO parent_links (parent_id, student_id, linked_at) "
               "SELECT related_id, student_id, CURRENT_TIMESTAMP FROM links WHERE relation = 'parent'")
    op.drop_table("contacts")
    with op.batch_alter_table("links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_links_related"))
    op.drop_table("links")


def _link_table(name: str, other: str) -> None:
    op.create_table(
        name,
        sa.Column(other, sa.Uuid(), nullable=False),
        sa.Column("student_id", sa.Uuid(), nullable=False),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(other, "student_id", name=op.f(f"pk_{name}")),
    )
    with op.batch_alter_table(name, schema=None) as batch_op:
        batch_op.create_index(batch_op.f(f"ix_{name}_student_id"), ["student_id"], unique=False)


def downgrade() -> None:
    op.create_table(
        "links",
        sa.Column("student_id", sa.Uuid(), nullable=False),
        sa.Column("related_id", sa.Uuid(), nullable=False),
        sa.Column("relation", sa.String(length=10), nullable=False),
        sa.PrimaryKeyConstraint("student_id", "related_id", "relation", name=op.f("pk_links")),
    )
    with op.batch_alter_table("links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_links_related"), ["related_id", "relation"], unique=False)
    op.create_table(
        "contacts",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=True),
        sa.Column("full_name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("locale", sa.String(length=10), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("telegram_chat_id", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_contacts")),
    )
    op.execute("INSERT INTO contacts (user_id, role, full_name, email, locale, timezone, telegram_chat_id) "
               "SELECT id, role, COALESCE(full_name, ''), email, COALESCE(locale, 'ru'), "
               "COALESCE(timezone, 'Europe/Moscow'), telegram_chat_id FROM users")
    op.execute("INSERT INTO links (student_id, related_id, relation) "
               "SELECT student_id, teacher_id, 'teacher' FROM teacher_links")
    op.execute("INSERT INTO links (student_id, related_id, relation) "
               "SELECT student_id, parent_id, 'parent' FROM parent_links")
    op.drop_table("users")
    for name in ("teacher_links", "parent_links"):
        with op.batch_alter_table(name, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(f"ix_{name}_student_id"))
        op.drop_table(name)
