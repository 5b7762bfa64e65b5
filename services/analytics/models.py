from shared.sql import Base, new_metadata


class AnalyticsBase(Base):
    __abstract__ = True
    metadata = new_metadata()
