"""The run's critic objective as a function of a critic: what samplers that train the critic further use.

DRS (Azadi et al. 2019) keeps training the critic before sampling. Trained with the bare loss, a
critic of a gradient-penalty or weight-clipping run would leave the objective it was trained for;
here it takes the very step training takes (the bare ``step.critic_step``: loss, regularizers,
weightings, ``--clip-grad``, the critic step's ``after_step``), on a copy of the pipeline whose critic is the
sampler's, so nothing drifts apart between training and sampling.
"""

from __future__ import annotations

import itertools

import attrs
import torch
from torch import Tensor, nn

from gancore.records import CriticObjective, GANModel
from gancore.train.distributed import World
from gancore.train.pipeline import Pipeline
from gancore.train.step import critic_step


def critic_objective(pipe: Pipeline) -> CriticObjective:
    """``objective(model, critic, opt, real, labels)``: one optimizer step of ``critic`` with ``pipe``'s
    critic step, against the fakes of ``model`` (the model being sampled: its generator, maybe an average).

    No callback runs (they belong to training), nothing is compiled (a sampler's few hundred steps do
    not repay it), and the statistics are dropped. ``ctx.step`` counts this objective's steps from 0;
    ``ctx.epoch`` is 0.
    """
    config = attrs.evolve(pipe.config, compile=False, cuda_graphs=False)
    counter = itertools.count()

    def objective(
        model: GANModel, critic: nn.Module, opt: torch.optim.Optimizer, real: Tensor, labels: Tensor | None
    ) -> Tensor:
        own = attrs.evolve(
            pipe,
            config=config,
            model=attrs.evolve(model, critic=critic, sampled_generator=None),
            callbacks=[],
            world=World(),  # under torchrun only rank 0 samples: its steps are its own, no all-reduce
        )
        return critic_step(own, opt, real, next(counter), 0, labels).losses.total.detach()

    return objective
