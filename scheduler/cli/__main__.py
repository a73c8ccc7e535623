"""`python -m scheduler.cli …` is `gbasched …`, for where the console script is not on PATH."""

from scheduler.cli.main import main

raise SystemExit(main())
