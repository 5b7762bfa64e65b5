from shared.settings import Settings


class PaymentSettings(Settings):
    """Settings of the payment service."""
