"""Subsidy programs and the double-entry compute ledger (built in the ledger issue)."""
