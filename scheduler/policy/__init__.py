"""Scheduling policies: queue order, fair share, placement strategies, victim choice, registry."""
