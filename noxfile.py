"""nox sessions: tests, lint, bench.

The sessions run in the environment that `pip install -r requirements.txt` made (venv_backend
"none"): a fresh virtualenv per session would download and unpack a multi-GB torch each time.
"""

import nox

nox.options.sessions = ["lint", "tests"]


@nox.session(venv_backend="none")
def tests(session: nox.Session) -> None:
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session(venv_backend="none")
def lint(session: nox.Session) -> None:
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("lint-imports", "--no-cache")  # the layers of docs/architecture.md


@nox.session(venv_backend="none")
def bench(session: nox.Session) -> None:
    """Throughput benchmarks; saves JSON under .benchmarks/ and compares with the last saved run."""
    args = ["python", "-m", "pytest", "benchmarks", "--benchmark-only", "--benchmark-autosave"]
    import pathlib

    if any(pathlib.Path(".benchmarks").glob("*/*.json")):
        args.append("--benchmark-compare")
    session.run(*args, *session.posargs)
