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

Every component may implement ``check(model)``, which raises ``ConfigError`` when it cannot work
with this model (the data's shape, the loss). It runs once when a run is assembled, for ``gan run``
before the run folder is created and on ``--resume`` before the checkpoint is loaded: it sees the
freshly built model, never trained weights or saved state.

Code that runs inside the training step (losses, weightings, regularizers, augmentations, priors,
``after_step``, a callback's ``after_critic_step`` and ``after_generator_step``) must not read
tensors back to the host and must not branch on the step number: with ``--cuda-graphs`` it runs
once per epoch, when the step is recorded, and the GPU replays the kernels it launched. Draw random
numbers with torch on the device; change state in place.

A component is selected by its ``name`` or, always unambiguously, by ``plugin:name`` (the plugin's
entry-point name, or ``builtin``); names may not contain ``:`` or ``,``. A bare name that two plugins
claim fails only when it is selected. A hook that raises, or returns something that is not a valid
component (not a subclass of its base, an empty name, an option that is not an annotated ``bool``,
``int``, ``float`` or ``str``), fails its whole plugin: `gan plugins` shows it as failed with the
reason, and gancore goes on without it.

Inside a step the engine checks what a loss or regularizer returns (a floating scalar tensor, or a
loss's per-sample values of shape (n,) with ``per_sample = True``) and stops with one line naming
the plugin when it is not.

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

    A loss may return one value per sample, shape (n,), instead of a scalar (say so with
    ``per_sample = True``): the engine reduces them to their mean, or to the weighted mean that the
    selected weightings (``gancore_sample_weightings``) ask for. The logged ``d_loss``/``g_loss``
    are always the plain mean.

    A loss whose generator side compares the fakes with the real batch (the relativistic losses) sets
    ``needs_real_out = True``: the generator step then scores the real batch with the frozen critic
    too and calls ``generator_loss(fake_out, real_out)``, ``real_out`` detached. Others pay nothing.
    """


@hookspec
def gancore_sample_weightings() -> list[type]:
    """Per-sample weights on a step's losses, :class:`~gancore.components.SampleWeighting`.

    ``generator_weights(ctx)`` and ``critic_weights(ctx)`` see the step's context, whose ``losses``
    holds the loss's per-sample values (computed once, carrying the graph) and ``fake_out`` the
    critic's scores, and return weights of shape (n,) or None. The engine optimises
    ``sum(w * losses) / sum(w)`` with ``w`` detached (a 0/1 mask: the mean over the chosen samples)
    and logs it as ``g_loss_weighted``/``d_loss_weighted``. Top-k training (Sinha et al. 2020) keeps
    the k fakes the critic scores highest. Needs a loss with ``per_sample = True`` (checked when the
    run is assembled). Runs inside the step. Selected with ``--weighting NAME`` (repeatable; weights
    multiply).
    """


@hookspec
def gancore_regularizers() -> list[type]:
    """Terms added to the critic's and/or the generator's loss, :class:`~gancore.components.Regularizer`.

    A regularizer sees the whole step (:class:`gancore.records.CriticStepContext` or
    :class:`gancore.records.GeneratorStepContext`): the networks, the real batch, the latent codes,
    the generated batch and the critic's outputs, and for a conditional model the real batch's labels
    and the fakes' (``real_labels``, ``fake_labels``), so it can run extra forward passes (a gradient
    penalty on interpolates, a consistency term on augmented copies; a conditional critic is scored
    as ``ctx.model.score(x, labels)``). It must compose with any loss and any other regularizer.
    Samplers that train the critic further run it too (``GANModel.train_critic``), on their copy of
    the critic, which ``ctx.model.critic`` then is. ``critic_term``/``generator_term`` return a scalar
    tensor, or None to add nothing. Selected with ``--reg NAME`` (repeatable).
    """


@hookspec
def gancore_critic_steps() -> list[type]:
    """Ways to step the critic, :class:`~gancore.components.CriticStep`.

    ``prepare(critic)`` may transform the critic once before training (e.g. wrap its layers in
    spectral normalization); ``after_step(critic)`` runs after every optimizer step of the critic
    (e.g. clip its weights), also of a sampler's further-trained copy (``GANModel.train_critic``).
    Selected with ``--critic-step NAME``; the built-in ``plain`` does nothing.
    """


@hookspec
def gancore_callbacks() -> list[type]:
    """Code called at fixed points of a training run, :class:`~gancore.components.Callback`.

    In run order:

    1. ``check(model)``: when the run is assembled, before its folder exists and before any
       checkpoint is loaded (like every component).
    2. ``setup(model)``: once per process, after the networks are built (and warm-started), before a
       checkpoint is loaded. Create state tensors here, on ``model.device``.
       ``sampled_generator()`` is asked right after: a module with the generator's architecture
       (an average of its weights) that samplers, grids, ``--eval-every``, ``gan sample`` and
       ``gan eval`` then draw from instead of the live generator; at most one callback may give one.
    3. On ``--resume``: ``load_state_dict(state)`` with the tensors ``state_dict()`` returned when
       the checkpoint was written (saved as ``callback.<name>.<key>``); the sampled generator's
       weights are saved and restored by the engine (``sampled_generator.<key>``), so a callback
       need not save them again.
    4. ``on_start(run)``: before the first step, after any checkpoint is loaded; called on every
       start, resumes included, so it must not draw from the global RNG (a resumed run would then
       differ from an uninterrupted one) nor change what training does.
    5. ``after_critic_step(model)`` after every optimizer step of the critic (after the critic
       step's ``after_step``), ``after_generator_step(model)`` after every optimizer step of the
       generator. Both run inside the step, under ``torch.no_grad()``: no host reads, no Python
       branching on values or on the step number, state changed in place (``lerp_``, ``copy_``),
       so that ``--cuda-graphs`` can record them. A method that names a ``result`` parameter is
       given the step's :class:`~gancore.records.CriticStepResult` or
       :class:`~gancore.records.GeneratorStepResult` (losses, the critic's outputs, the gradient
       norm: device tensors); either may return metrics (name -> scalar tensor), averaged over each
       metrics row's steps and logged as ``<callback>/<name>``.
    6. ``on_step_end(run, end)``: after every generator step and its metrics row, outside the
       step: :class:`~gancore.records.StepEnd` says which of the run's points the step is (an
       epoch's end, a logging, saving or stopping step) and carries its health, last batches and
       learning rates. The engine's own duties (metrics row, grid, evaluation, checkpoint, stop:
       ``gancore/train/duties.py``) are callbacks on this same event, the reference for using it.
    7. ``on_epoch_end(run)``: after the epoch's last step and metrics row, before its sample grid,
       evaluation and checkpoint, so what it changes is saved and shows in the grid.
    8. ``on_run_end(run)``: after the last checkpoint is written, also when the run stops early
       (Ctrl-C, divergence: ``run.finished`` is False); state changed here is not saved.

    Two events report what the run wrote, for loggers (TensorBoard, a tracker): ``on_metrics(run,
    row)`` after every row appended to metrics.jsonl (each ``--log-every`` steps, and the
    evaluation's row at an ``--eval-every`` epoch's end), with the row's Python numbers, and
    ``on_grid(run, picture)`` after every sample grid saved, with the PNG's uint8 (C, H, W) CPU
    tensor. Both come outside the step, with values the engine already read from the device, so a
    logger adds no host read. On ``--resume`` the rows after the checkpoint's step are dropped from
    metrics.jsonl and written again; a logger should drop what it recorded after ``run.step`` too
    (``on_start`` tells it where the run resumes).

    ``state_dict()`` returns live tensors (they are cloned when saved); restoring copies into them
    in place by default, so a resumed run continues bit for bit. Selected with ``--callback NAME``
    (repeatable).
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
    ``gan eval`` and the per-epoch evaluation. Selected with ``--sampler NAME``; its options are
    flags of ``gan run``, ``gan sample`` and ``gan eval`` (the latter two override the run's).

    - Training the critic further: ``model.train_critic(copy, opt, real, labels)`` is one optimizer
      step of your copy with the run's whole critic objective (its loss, regularizers, weightings,
      ``--clip-grad``, the critic step's ``after_step``), never the bare loss.
    - State: ``state_dict()`` returns what ``prepare`` learned as tensors; ``gan sample``/``gan eval``
      save it in the run folder (``samplers/<name>.safetensors``) keyed by the sampler's name and
      options, the checkpoint's content and the generator sampled, and while the key holds they call
      ``load_state_dict(state, model)`` instead of ``prepare``. ``prepare`` runs on an RNG stream of
      its own, so its result does not depend on ``--seed``. The default state is empty: nothing is
      kept and ``prepare`` runs every time.
    - Conditional models: draw labels with ``model.labels(n)`` (None when unconditional), generate
      with ``model.generate(z, labels)`` and score with ``model.score_clean(x, labels)``.
    """


@hookspec
def gancore_lr_schedules() -> list[type]:
    """How the learning rates change over a run, :class:`~gancore.components.LRSchedule`.

    ``factor(epoch, epochs)`` multiplies both optimizers' configured rates (``--lr-g``, ``--lr-d``)
    during ``epoch`` (0-based) of a run ``epochs`` long. It must be a function of those two alone:
    the engine sets the rates at each epoch's start, between steps, so a resumed run follows the
    schedule exactly and no state needs saving; the rates used are logged in every metrics row
    (``lr_g``, ``lr_d``). Selected with ``--lr-schedule NAME``; the built-in ``constant`` keeps them
    fixed and ``cosine`` decays them over the run.
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
    samples of ``spec.shape`` in [-1, 1]. A conditional one (``conditional = True``) is called as
    ``module(z, labels)``, labels int64 (n,) below ``spec.num_classes``; only data with classes can
    train it. Selected with ``--generator NAME``.
    """


@hookspec
def gancore_critics() -> list[type]:
    """Critic (discriminator) architectures, :class:`~gancore.components.Network`.

    ``build(spec, latent_dim)`` returns an ``nn.Module`` mapping samples of ``spec.shape`` to one
    raw score per sample, shape (n,) or (n, 1). A conditional one (``conditional = True``) is called
    as ``module(x, labels)`` and scores x as a sample of those classes (a projection critic).
    Selected with ``--critic NAME``.
    """


@hookspec
def gancore_datasets() -> list[type]:
    """Training data, :class:`~gancore.components.Dataset`.

    ``load(root, device)`` returns a :class:`gancore.records.Data`: the whole training split as one
    tensor on the device (uint8 for images), decoded to floats batch by batch, and its int64 labels
    with ``spec.num_classes`` when it has classes (what conditional networks train on). ``evaluation()``
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
