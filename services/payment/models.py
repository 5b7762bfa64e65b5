from shared.sql import Base, new_metadata


class PaymentBase(Base):
    __abstract__ = True
    metadata = new_metadata()
