"""gba-scheduler: the scheduler of the Greater Bay Area shared AI-compute pool."""

__version__ = "0.1.0"
