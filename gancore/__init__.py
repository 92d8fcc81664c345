"""gancore's public API: everything a plugin needs, importable from ``gancore`` alone.

    from gancore import Loss, hookimpl, option

Plugins (the built-in one included) import from here and nowhere else in gancore, so the modules
behind these names can move without breaking anyone. Names load on first use, so that importing
gancore (and `gan --help`) does not pay for torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

#: public name -> the module that defines it
_EXPORTS: dict[str, str] = {
    # the plugin manager's marker
    "hookimpl": "gancore.plugins",
    # component bases and their options
    "option": "gancore.components",
    "Component": "gancore.components",
    "Loss": "gancore.components",
    "Regularizer": "gancore.components",
    "CriticStep": "gancore.components",
    "LipschitzMonitor": "gancore.components",
    "Sampler": "gancore.components",
    "Prior": "gancore.components",
    "LRSchedule": "gancore.components",
    "SampleWeighting": "gancore.components",
    "Callback": "gancore.components",
    "Network": "gancore.components",
    "Dataset": "gancore.components",
    "Augmentation": "gancore.components",
    # what a dataset's evaluation() returns: the contract, and the implementations gancore ships
    "Evaluation": "gancore.evaluation",
    "EvalSettings": "gancore.evaluation",
    "Metric": "gancore.evaluation",
    "ImageEvaluation": "gancore.eval.images",
    "FeatureNetSpec": "gancore.eval.features",
    "ModeEvaluation": "gancore.eval.modes",
    # the records hooks receive
    "DataSpec": "gancore.records",
    "Data": "gancore.records",
    "GANModel": "gancore.records",
    "CriticStepContext": "gancore.records",
    "GeneratorStepContext": "gancore.records",
    "MonitorContext": "gancore.records",
    "RunProgress": "gancore.records",
    # errors a plugin may raise (each is one line to the user)
    "GancoreError": "gancore.errors",
    "ConfigError": "gancore.errors",
    "PluginError": "gancore.errors",
    "CheckpointError": "gancore.errors",
    "DataError": "gancore.errors",
    "warn": "gancore.errors",  # one warning line on stderr
    # tensor functions shared by techniques (a gradient penalty, a chain of augmentations)
    "compose": "gancore.functional",
    "interpolates": "gancore.functional",
    "input_gradient_norms": "gancore.functional",
    "gradient_penalty": "gancore.functional",
    # helpers for dataset plugins
    "load_torchvision_images": "gancore.io.data",
    "gaussian_mixture": "gancore.io.data",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'gancore' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


if TYPE_CHECKING:  # what type checkers and IDEs see
    from gancore.components import (
        Augmentation,
        Callback,
        Component,
        CriticStep,
        Dataset,
        LipschitzMonitor,
        Loss,
        LRSchedule,
        Network,
        Prior,
        Regularizer,
        Sampler,
        SampleWeighting,
        option,
    )
    from gancore.errors import CheckpointError, ConfigError, DataError, GancoreError, PluginError, warn
    from gancore.eval.features import FeatureNetSpec
    from gancore.eval.images import ImageEvaluation
    from gancore.eval.modes import ModeEvaluation
    from gancore.evaluation import EvalSettings, Evaluation, Metric
    from gancore.functional import compose, gradient_penalty, input_gradient_norms, interpolates
    from gancore.io.data import gaussian_mixture, load_torchvision_images
    from gancore.plugins import hookimpl
    from gancore.records import (
        CriticStepContext,
        Data,
        DataSpec,
        GANModel,
        GeneratorStepContext,
        MonitorContext,
        RunProgress,
    )
