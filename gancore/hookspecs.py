"""Every hook a gancore plugin can implement. These docstrings are the plugin documentation.

A plugin is a module (or any object) with functions decorated by ``gancore.hookimpl`` whose names
match the specs below. Each ``gancore_<kind>`` hook returns a list of component *classes*; gancore
looks them up by their ``name`` and builds the ones a run asks for. A component is an attrs class
(subclass of the bases in ``gancore.components``) whose attrs fields are its options: a field
``dropout: float = option(0.0, help=...)`` becomes the flag ``--dropout`` of ``gan run`` and the key
``dropout`` of the run's ``[options]`` table.

Every component may also carry ``recommends``, a dict of engine settings it works best with (for
example ``{"n_critic": 5, "lr_d": 1e-4}``); they are applied unless the user set that value
explicitly, and the resolved values are written to the run's config.toml.

Code that runs inside the training step (losses, regularizers, augmentations, priors,
``after_step``) must not read tensors back to the host and must not branch on the step number:
with ``--cuda-graphs`` it runs once per epoch, when the step is recorded, and the GPU replays the
kernels it launched. Draw random numbers with torch on the device; change state in place.

Register a third-party plugin through the entry-point group ``gancore``::

    [project.entry-points.gancore]
    my_plugin = "my_package.plugin"
"""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("gancore")


@hookspec
def gancore_losses() -> list[type]:
    """Adversarial losses, subclasses of :class:`gancore.components.Loss`.

    A loss turns the critic's raw outputs on real and generated batches into the critic's loss and
    the generator's loss (``critic_loss`` and ``generator_loss``); it says which critic output
    separates "real" from "fake" (``threshold``, used for the critic's accuracy), may return extra
    diagnostics (a divergence or Wasserstein estimate), and may say how to read the critic output as
    a real-vs-fake logit (``logit``) for samplers that need one. Selected with ``--loss NAME``.
    """


@hookspec
def gancore_regularizers() -> list[type]:
    """Terms added to the critic's and/or the generator's loss, :class:`~gancore.components.Regularizer`.

    A regularizer sees the whole step (:class:`gancore.records.CriticStepContext` or
    :class:`gancore.records.GeneratorStepContext`): the networks, the real batch, the latent codes,
    the generated batch and the critic's outputs, so it can run extra forward passes (a gradient
    penalty on interpolates, a consistency term on augmented copies). It must compose with any loss
    and any other regularizer. Selected with ``--reg NAME`` (repeatable).
    """


@hookspec
def gancore_critic_steps() -> list[type]:
    """Ways to step the critic, :class:`~gancore.components.CriticStep`.

    ``prepare(critic)`` may transform the critic once before training (e.g. wrap its layers in
    spectral normalization); ``after_step(critic)`` runs after every optimizer step of the critic
    (e.g. clip its weights). Selected with ``--critic-step NAME``; the built-in ``plain`` does
    nothing.
    """


@hookspec
def gancore_lipschitz_monitors() -> list[type]:
    """Diagnostics of the critic's Lipschitz constant, :class:`~gancore.components.LipschitzMonitor`.

    ``measure(context)`` is called every ``--log-every`` steps (never inside the hot step) and returns
    named scalar tensors that go to metrics.jsonl. Selected with ``--monitor NAME`` (repeatable).
    """


@hookspec
def gancore_samplers() -> list[type]:
    """Ways to draw samples from a trained model, :class:`~gancore.components.Sampler`.

    ``prepare(model, data)`` runs once before sampling (a burn-in, extra critic training);
    ``sample(model, n)`` returns ``n`` samples in the data's float range. Used by ``gan sample``,
    ``gan eval`` and the per-epoch evaluation. Selected with ``--sampler NAME``.
    """


@hookspec
def gancore_lr_schedules() -> list[type]:
    """How the learning rates change over a run, :class:`~gancore.components.LRSchedule`.

    ``factor(epoch)`` multiplies both optimizers' configured rates (``--lr-g``, ``--lr-d``) during
    that epoch (0-based). It must be a function of the epoch alone: the engine sets the rates at
    each epoch's start, between steps, so a resumed run follows the schedule exactly and no state
    needs saving. Selected with ``--lr-schedule NAME``; the built-in ``constant`` keeps them fixed.
    """


@hookspec
def gancore_priors() -> list[type]:
    """Latent distributions, :class:`~gancore.components.Prior`; ``sample(n)`` returns (n, latent_dim).

    Selected with ``--prior NAME``.
    """


@hookspec
def gancore_generators() -> list[type]:
    """Generator architectures, :class:`~gancore.components.Network`.

    ``build(spec, latent_dim)`` returns an ``nn.Module`` mapping (n, latent_dim) latent codes to
    samples of ``spec.shape`` in [-1, 1]. Selected with ``--generator NAME``.
    """


@hookspec
def gancore_critics() -> list[type]:
    """Critic (discriminator) architectures, :class:`~gancore.components.Network`.

    ``build(spec, latent_dim)`` returns an ``nn.Module`` mapping samples of ``spec.shape`` to one
    raw score per sample, shape (n,) or (n, 1). Selected with ``--critic NAME``.
    """


@hookspec
def gancore_datasets() -> list[type]:
    """Training data, :class:`~gancore.components.Dataset`.

    ``load(root, device)`` returns a :class:`gancore.records.Data`: the whole training split as one
    tensor on the device (uint8 for images), decoded to floats batch by batch. ``evaluation()``
    returns how its samples are scored (:class:`gancore.evaluation.Evaluation`; gancore ships
    ``ImageEvaluation`` and ``ModeEvaluation``), or None when they cannot be. Selected with
    ``--dataset NAME``.
    """


@hookspec
def gancore_augmentations() -> list[type]:
    """Differentiable augmentations applied to every critic input, :class:`~gancore.components.Augmentation`.

    ``__call__(x)`` returns an augmented batch and must let gradients flow to ``x`` (the generator
    step back-propagates through it). Selected with ``--augment a,b`` (applied in that order).
    """
