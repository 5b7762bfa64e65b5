"""The payment service: balances as a ledger, top-ups through payment providers, lesson charges,
refunds, transaction history."""
