"""`python -m gancore` is the `gan` command; `torchrun --nproc-per-node N -m gancore run ...` trains
one run on N processes (docs/usage.md)."""

import os
import sys

from gancore.cli import main

if int(os.environ.get("WORLD_SIZE", "1")) > 1:
    # A process of a torchrun run leaves without the interpreter's teardown once the command is
    # done (its files are closed, the process group destroyed): gloo's threads can abort that
    # teardown ("terminate called without an active exception", seen here about 1 run in 6 under
    # load), which the launcher would report as a failed run.
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if isinstance(exc.code, str):
            print(exc.code, file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
else:
    main()
