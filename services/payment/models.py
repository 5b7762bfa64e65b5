"""The payment service's tables, on its own metadata: no other service reads them. After a
change, `repitbot makemigrations payment -m "what changed"` writes the migration."""
from shared.sql import Base, new_metadata


class PaymentBase(Base):
    __abstract__ = True
    metadata = new_metadata()
