"""The built-in plugin: the vanilla GAN of the reports and the pieces every run needs.

It registers through the same hooks as any installed plugin.
"""

from __future__ import annotations

from gancore import hookimpl
from gancore.builtin.critic_steps import PlainStep
from gancore.builtin.datasets import MNIST, FashionMNIST, Grid25, Ring8
from gancore.builtin.losses import Vanilla
from gancore.builtin.networks import (
    ConvCritic,
    MLPCritic,
    MLPGenerator,
    ReportConvCritic,
    ToyCritic,
    ToyGenerator,
)
from gancore.builtin.priors import Normal
from gancore.builtin.samplers import Plain
from gancore.builtin.schedules import Constant, Cosine


@hookimpl
def gancore_losses():
    return [Vanilla]


@hookimpl
def gancore_generators():
    return [MLPGenerator, ToyGenerator]


@hookimpl
def gancore_critics():
    return [MLPCritic, ConvCritic, ReportConvCritic, ToyCritic]


@hookimpl
def gancore_priors():
    return [Normal]


@hookimpl
def gancore_samplers():
    return [Plain]


@hookimpl
def gancore_lr_schedules():
    return [Constant, Cosine]


@hookimpl
def gancore_critic_steps():
    return [PlainStep]


@hookimpl
def gancore_datasets():
    return [MNIST, FashionMNIST, Ring8, Grid25]
