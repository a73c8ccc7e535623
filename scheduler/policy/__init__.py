"""Scheduling policies: queue ordering, fair share, placement strategies, victim choice, registry."""
