"""Time-bank (时间银行) domain: pure ledger rules live in :mod:`volunteer_hub.timebank.ledger`."""
