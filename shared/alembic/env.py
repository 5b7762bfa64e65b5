"""The one alembic environment: the connection and the metadata come from the caller."""
from alembic import context

from shared.inbox import InboxEntry
from shared.outbox import OutboxMessage
from shared.sql import MessagingBase, UtcDateTime

# the two messaging tables of every service's database, on MessagingBase.metadata
MESSAGING_TABLES = (InboxEntry.__table__, OutboxMessage.__table__)


def render_item(kind, obj, autogen_context):
    """Shared column types are written as the plain SQLAlchemy type they store."""
    if kind == "type" and isinstance(obj, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    return False


config = context.config
connection = config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=[config.attributes["target_metadata"], MessagingBase.metadata],
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    render_item=render_item,
)
with context.begin_transaction():
    context.run_migrations()
