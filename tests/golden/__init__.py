"""Golden replays: recorded figures of small trace slices (see cases.py)."""
