"""Where commands look for files the user did not name."""

from __future__ import annotations

from pathlib import Path

SAMPLE_POOL = Path("deploy/pools/gba-sample.toml")


def default_pool_path() -> Path:
    """The sample pool in the current directory, else the one in the checkout this package runs
    from (an editable install), so `gbasched pool show` works from anywhere in development."""
    if SAMPLE_POOL.exists():
        return SAMPLE_POOL
    return Path(__file__).resolve().parents[2] / SAMPLE_POOL
