from shared.sql import Base, new_metadata


class MaterialBase(Base):
    __abstract__ = True
    metadata = new_metadata()
