"""`gan sweep --cluster`: each sweep job submitted as one job of a cluster engine, through submitit.

submitit (Meta's, what most PyTorch/GAN research code on Slurm uses) submits a Python function as a
Slurm job and waits for it; its ``local`` executor runs the same job in a process of this machine
and ``debug`` in this process, so a cluster sweep is tried here before it goes to the cluster. It
is an optional dependency, imported only when ``--cluster`` asks for it.

The resources come from the ``[cluster]`` table of a TOML file (``--cluster-config``)::

    [cluster]
    partition = "gpu"        # Slurm partition (default: the cluster's default)
    gpus_per_job = 1         # default 1 on slurm, 0 on local and debug
    cpus_per_job = 4         # default 2
    mem_gb = 16              # default: the partition's
    time_min = 240           # time limit of one job (train + evaluate), minutes
    max_parallel = 0         # jobs queued or running at once; 0: all of them
    account = "my-lab"       # also qos, constraint; setup: shell lines run before the job
    setup = ["source .venv/bin/activate"]
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

from gancore.errors import ConfigError

ENGINES = ("local", "debug", "slurm")

#: the [cluster] table's keys and their types
KEYS: dict[str, type] = {
    "partition": str,
    "account": str,
    "qos": str,
    "constraint": str,
    "gpus_per_job": int,
    "cpus_per_job": int,
    "mem_gb": float,
    "time_min": int,
    "max_parallel": int,
    "setup": list,
}
SLURM_ONLY = ("partition", "account", "qos", "constraint", "setup")


@attrs.frozen(kw_only=True)
class ClusterConfig:
    """Where and with what resources each job of a cluster sweep runs."""

    engine: str
    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    constraint: str | None = None
    gpus_per_job: int | None = None  # None: 1 on slurm, 0 elsewhere
    cpus_per_job: int = 2
    mem_gb: float | None = None
    time_min: int = 240
    max_parallel: int = 0
    setup: tuple[str, ...] = ()

    @property
    def gpus(self) -> int:
        if self.gpus_per_job is not None:
            return self.gpus_per_job
        return 1 if self.engine == "slurm" else 0

    def describe(self) -> str:
        """One line of what each job asks for, printed when the sweep starts."""
        where = f"partition {self.partition}" if self.partition else "the default partition"
        head = f"{self.engine} ({where})" if self.engine == "slurm" else f"submitit's {self.engine} executor"
        mem = f", {self.mem_gb:g} GB" if self.mem_gb is not None else ""
        return f"{head}: {self.gpus} GPU, {self.cpus_per_job} CPUs{mem}, {self.time_min} min a job"


def read_cluster_config(engine: str, path: Path | None) -> ClusterConfig:
    """The engine's settings from ``path``'s ``[cluster]`` table; no file: the defaults."""
    if engine not in ENGINES:
        raise ConfigError(
            f"--cluster {engine!r} is not an engine gan sweep knows; use one of {', '.join(ENGINES)}"
        )
    if path is None:
        return ClusterConfig(engine=engine)
    import tomllib

    try:
        document = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"cluster config {path} does not exist") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cluster config {path} is not valid TOML: {exc}") from None
    table = document.get("cluster")
    if not isinstance(table, dict):
        raise ConfigError(f"cluster config {path} has no [cluster] table; see docs/usage.md")
    values: dict[str, Any] = {}
    for key, value in table.items():
        kind = KEYS.get(key)
        if kind is None:
            raise ConfigError(f"unknown key {key!r} in [cluster] of {path}; known keys: {', '.join(KEYS)}")
        if not _is(value, kind):
            raise ConfigError(f"{key} in [cluster] of {path} must be {_what(kind)}, got {value!r}")
        values[key] = tuple(value) if kind is list else value
    for key in ("gpus_per_job", "max_parallel"):
        if values.get(key, 0) < 0:
            raise ConfigError(f"{key} in [cluster] of {path} must be >= 0, got {values[key]}")
    for key in ("cpus_per_job", "time_min"):
        if values.get(key, 1) < 1:
            raise ConfigError(f"{key} in [cluster] of {path} must be >= 1, got {values[key]}")
    mem = values.get("mem_gb")
    if mem is not None and not (math.isfinite(mem) and mem > 0):
        raise ConfigError(f"mem_gb in [cluster] of {path} must be a positive number of GB, got {mem!r}")
    cpus, limit = values.get("cpus_per_job", 1), _cpu_limit(engine)
    if cpus > limit:
        where = "a node of a cluster" if engine == "slurm" else "this machine (the jobs run here)"
        raise ConfigError(
            f"cpus_per_job = {cpus} in [cluster] of {path}: {where} has at most {limit}; ask for fewer"
        )
    return ClusterConfig(engine=engine, **values)


#: more CPUs than any cluster node of today has: such a job would wait in the queue forever
NODE_CPU_LIMIT = 1024


def _cpu_limit(engine: str) -> int:
    if engine == "slurm":
        return NODE_CPU_LIMIT
    from gancore.train.threads import available

    return available()


def _is(value: object, kind: type) -> bool:
    if kind is list:
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    if kind is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, kind) and not isinstance(value, bool)


def _what(kind: type) -> str:
    return {str: "a string", int: "an integer", float: "a number", list: "a list of strings"}[kind]


def _submitit() -> Any:
    try:
        import submitit
    except ImportError:
        raise ConfigError("--cluster needs submitit, which is not installed: pip install submitit") from None
    return submitit


def check_available(config: ClusterConfig) -> None:
    """One line before any job starts: submitit missing, or no Slurm on this machine."""
    _submitit()
    if config.engine == "slurm":
        import shutil

        if shutil.which("sbatch") is None:
            raise ConfigError(
                "--cluster slurm needs Slurm's sbatch, which is not on this machine's PATH;"
                " run the sweep from a login node, or try it here with --cluster local"
            )


def make_executor(config: ClusterConfig, folder: Path, name: str) -> Any:
    """submitit's executor for one job named ``name``, with the config's resources."""
    submitit = _submitit()
    executor = submitit.AutoExecutor(folder=folder, cluster=config.engine)
    parameters: dict[str, Any] = {
        "name": name,
        "timeout_min": config.time_min,
        "gpus_per_node": config.gpus,
        "cpus_per_task": config.cpus_per_job,
        "mem_gb": config.mem_gb,  # None: not asked for
    }
    if config.engine == "slurm":
        given = {key: getattr(config, key) for key in SLURM_ONLY if getattr(config, key)}
        parameters |= {f"slurm_{key}": list(v) if key == "setup" else v for key, v in given.items()}
    executor.update_parameters(**parameters)
    return executor


def submit(
    config: ClusterConfig, folder: Path, name: str, function: Callable[..., Any], *args: Any, **kwargs: Any
) -> Any:
    """Submit ``function(*args, **kwargs)`` as one job; returns submitit's job (``job_id``, ``result()``).

    submitit moves the function and its result between processes as pickles, in ``folder``: files
    this sweep wrote itself, never a user's."""
    return make_executor(config, folder, name).submit(function, *args, **kwargs)
