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
# tables a service makes in its migrations by hand (SQLite FTS5, say) and that autogenerate leaves
# alone: `metadata.info["unmanaged"] = ("name", ...)`, which covers `name_*` as well
UNMANAGED = tuple(config.attributes["target_metadata"].info.get("unmanaged", ()))


def include_name(name, type_, parent_names):
    if type_ == "table" and name:
        return not any(name == prefix or name.startswith(prefix + "_") for prefix in UNMANAGED)
    return True


context.configure(
    connection=connection,
    target_metadata=[config.attributes["target_metadata"], MessagingBase.metadata],
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    render_item=render_item,
    include_name=include_name,
)
with context.begin_transaction():
    context.run_migrations()
