"""Where commands look for files the user did not name."""

from __future__ import annotations

from pathlib import Path

SAMPLE_POOL = Path("deploy/pools/gba-sample.toml")
SAMPLE_PROGRAMS = Path("deploy/programs/gba-sample.toml")
DEMO_TOKENS = Path("deploy/auth/demo-tokens.toml")


def default_pool_path() -> Path:
    """The sample pool in the current directory, else the one in the checkout this package runs
    from (an editable install), so `gbasched pool show` works from anywhere in development."""
    return _sample(SAMPLE_POOL)


def default_programs_path() -> Path:
    """The sample programs, found as the sample pool is."""
    return _sample(SAMPLE_PROGRAMS)


def default_tokens_path() -> Path:
    """The public demo tokens (for the sample pool, on a developer's machine only), found as
    the sample pool is."""
    return _sample(DEMO_TOKENS)


def is_demo_tokens(path: Path) -> bool:
    """Whether `path` is the shipped demo tokens file (whose tokens everyone knows)."""
    try:
        return path.resolve() == default_tokens_path().resolve()
    except OSError:
        return False


def _sample(path: Path) -> Path:
    if path.exists():
        return path
    return Path(__file__).resolve().parents[2] / path
