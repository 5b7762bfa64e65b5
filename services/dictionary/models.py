from shared.sql import Base, new_metadata


class DictionaryBase(Base):
    __abstract__ = True
    metadata = new_metadata()
