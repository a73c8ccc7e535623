"""Subsidy programs and the double-entry compute ledger.

programs, split: the voucher programs and how one cost is split between them and the tenant.
book: accounts, postings and the append-only in-memory `Ledger` (rebuilt by replaying postings).
flows: the postings of each money flow (fund, top up, reserve, settle, release).
available: what the ledger leaves available, as the engine's `Funds` / `Budgets`.
reports, evidence: per program / tenant / owner reports and the auditor's usage evidence.
"""
