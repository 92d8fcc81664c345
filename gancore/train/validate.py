"""One validation of a run's settings, before any folder, process or job exists.

New runs, resumes, `gan sweep` (every experiment, before its folder) and `gan run --nproc` (in the
launching process, before the processes start) all call ``validate``, so a setting refused in one
of them is refused in all, with the same line. What needs the data or the built networks (batches
that fit the data, a conditional network without labels, a component's ``check(model)``) is checked
when the run is assembled, which is still before its folder is created.
"""

from __future__ import annotations

import json
from typing import Any

import attrs

from gancore.config import (
    LIST_KEYS,
    REPEATED_FLAGS,
    SELECTIONS,
    RunConfig,
    make_config,
    resolve_device,
    selected,
)
from gancore.errors import ConfigError, PluginError
from gancore.plugins import Registry
from gancore.train import schedule, threads
from gancore.train.pipeline import instantiate

#: settings that may change when a run is resumed (its length, where and how fast it runs, its
#: bookkeeping); everything else is the run's identity, fixed by its config.toml and its checkpoints
RESUMABLE = (
    "steps", "epochs", "device", "compile", "cuda_graphs",
    "log_every", "ckpt_every", "data_dir", "eval_every", "eval_samples", "threads",
)  # fmt: skip


#: kinds whose options are read once, when the run is assembled: no schedule can change them
UNSCHEDULED = ("dataset", "generator", "critic", "augmentation")


def changed(config: RunConfig, **changes: Any) -> RunConfig:
    """``config`` with ``changes``, every value validated as ``make_config`` does (one line each)."""
    return make_config(**{**attrs.asdict(config, recurse=False), **changes})


def validate(
    config: RunConfig,
    registry: Registry,
    processes: int = 1,
    *,
    resumed: bool = False,
    recorded: bool = False,
) -> None:
    """Refuse, in one line, settings that cannot train: see the module. What `gan sweep`, `gan tune`
    and the torchrun launcher check before any run starts. ``processes``: how many processes will
    train it; ``resumed``: a run continued; ``recorded``: its thread count is the one the run recorded
    (lowered to this machine's cores, not refused)."""
    check_settings(config, registry, processes, resumed=resumed)
    if not recorded:  # a recorded count is lowered to the cores here when the run resumes
        threads.choose(config.threads)
    resolve_device(config.device)
    built = [(kind, instantiate(registry, kind, name, config.options)) for kind, name in selected(config)]
    scheduled = [component for kind, component in built if kind not in UNSCHEDULED]
    schedule.check([schedule.parse(s) for s in config.schedules], scheduled, config.options)


def check_settings(
    config: RunConfig, registry: Registry, processes: int = 1, *, resumed: bool = False
) -> None:
    """What ``validate`` checks that assembling a run does not: its length, its processes and the
    companions its components require. ``runs.start`` and ``runs.resume`` check these, then assemble
    the run (``assembly.py``), which resolves the device and the threads and builds every component
    (checking its options and the schedules) once."""
    if config.steps == 0 and config.epochs == 0:
        raise ConfigError("--epochs 0 trains nothing; give --epochs N or --steps N (N >= 1)")
    if config.processes not in (0, processes):
        raise ConfigError(
            f"the run was trained by {config.processes} process(es) and this is {processes}: resume it"
            f" with as many (gan run --nproc {config.processes} --resume RUN; 1: without --nproc)"
            if resumed
            else f"processes = {config.processes} in the settings, but this run has {processes}"
            f" process(es): start it with --nproc {config.processes}, or remove the key (the run records it)"
        )
    check_companions(config, registry)


def check_companions(config: RunConfig, registry: Registry) -> None:
    """Every component the selected ones ``require`` is selected too; else one line saying which
    flag adds it."""
    kinds = dict(SELECTIONS)
    entries = [registry.get(kind, name) for kind, name in selected(config)]
    for entry in entries:
        kind, name = entry.kind, entry.name
        for key, names in entry.cls.requires.items():
            if key not in kinds:
                raise PluginError(
                    f"{kind} {name!r} (plugin {entry.plugin!r}) requires {key!r}, which is not a setting"
                    f" that selects components ({', '.join(kinds)})"
                )
            for needed in names:
                want = registry.get(kinds[key], needed)  # not installed: one line saying so
                if want not in entries:
                    flag = "--" + REPEATED_FLAGS.get(key, key).replace("_", "-")
                    raise ConfigError(
                        f"{kind.replace('_', ' ')} {name!r} works only with {kinds[key].replace('_', ' ')}"
                        f" {needed!r}; {'add' if key in LIST_KEYS else 'use'} {flag} {needed}"
                    )


def identity(config: RunConfig) -> str:
    """The settings that make a run what it is (all but ``RESUMABLE``), as canonical JSON: written
    into every checkpoint and compared with config.toml when the run is resumed."""
    fixed = {k: v for k, v in attrs.asdict(config, recurse=False).items() if k not in RESUMABLE}
    return json.dumps(fixed, sort_keys=True, default=list)


def check_identity(recorded: str | None, config: RunConfig, where: str) -> None:
    """Refuse a config.toml that differs from what its checkpoint was trained with (a hand edit)."""
    if recorded is None:  # a checkpoint from before 2026-12-03 carries none
        return
    before, now = _flat(json.loads(recorded)), _flat(json.loads(identity(config)))
    for key in sorted(set(before) | set(now)):
        if before.get(key) != now.get(key):
            raise ConfigError(
                f"{where} says {key} = {_show(now.get(key))}, but its checkpoint was trained with"
                f" {key} = {_show(before.get(key))}; put the value back, or start a new run with"
                " --config that file"
            )


def _flat(settings: dict[str, Any]) -> dict[str, Any]:
    options = settings.pop("options", {})
    return {**settings, **{f"options.{k}": v for k, v in options.items()}}


def _show(value: Any) -> str:
    return "(none)" if value is None else json.dumps(value)
