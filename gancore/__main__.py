"""`python -m gancore` is the `gan` command; `torchrun --nproc-per-node N -m gancore run ...` trains
one run on N processes (docs/usage.md)."""

from gancore.cli import main

main()
