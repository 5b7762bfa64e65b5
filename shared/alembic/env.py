"""The one alembic environment: the connection and the metadata come from the caller."""
from alembic import context

from shared.outbox import MessagingBase

config = context.config
connection = config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=[config.attributes["target_metadata"], MessagingBase.metadata],
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
