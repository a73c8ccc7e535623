"""Record the golden replays' figures: `python -m tests.golden.regenerate` (see cases.py)."""

from __future__ import annotations

import json

from tests.golden.cases import CASES


def main() -> None:
    for case in CASES:
        case.path.write_text(json.dumps(case.run(), indent=2, sort_keys=True) + "\n")
        print(f"wrote {case.path.name}")


if __name__ == "__main__":
    main()
