"""Fixtures shared across the test directories."""

from tests.ray_session import ray_session

__all__ = ["ray_session"]
