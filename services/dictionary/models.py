"""The dictionary service's tables, on its own metadata: no other service reads them. After a
change, `repitbot makemigrations dictionary -m "what changed"` writes the migration."""
from shared.sql import Base, new_metadata


class DictionaryBase(Base):
    __abstract__ = True
    metadata = new_metadata()
