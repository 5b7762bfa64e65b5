from shared.sql import Base, new_metadata


class HomeworkBase(Base):
    __abstract__ = True
    metadata = new_metadata()
