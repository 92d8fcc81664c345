"""`python -m gancore.cli` (how `gan sweep` starts its jobs)."""

from gancore.cli import main

main()
