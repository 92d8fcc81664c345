"""The engine's own duties, as callbacks on the events a plugin's callbacks get (``gancore.Callback``'s
``on_start(run)`` and ``on_step_end(run, end)``): the divergence guard, the metrics row, the
callbacks' epoch end, the sample grid, the periodic evaluation, the checkpoint, the progress bar and
the stop. A plugin author can read them as the reference for those events.

The loop (``loop.py``) only iterates, steps and says, in a :class:`~gancore.records.StepEnd`, what
the step it just took is (the last of an epoch, a logging step, a saving step ...); each callback
decides from that what to do. ``listeners`` puts the run's own callbacks among the duties: after the
metrics row, before the epoch's end, the grid, the evaluation and the checkpoint, so that what a
callback changes at a step's or an epoch's end is saved and shows in the grid. A duty differs from a
plugin's callback in one thing only: it holds the trainer, whose run folder and statistics it writes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

import torch
from torch import Tensor

from gancore.components import Callback
from gancore.errors import Diverged, Interrupted
from gancore.io.atomic import copy_atomic
from gancore.io.images import save_samples_picture
from gancore.io.rundir import RunDir
from gancore.records import Data, MonitorContext, RunProgress, StepEnd
from gancore.train import callbacks, distributed
from gancore.train.pipeline import Pipeline
from gancore.train.state import TrainState
from gancore.train.stats import Stats

CHECK_EVERY = 10  # steps between the (single-sync) checks for a non-finite loss or gradient norm
GRID_SIZE = {"image": 64, "points": 1000}  # samples drawn from the fixed latent batch


class Trainer(Protocol):
    """What the duties read and write of the loop's trainer (``loop.Trainer``)."""

    pipe: Pipeline
    data: Data
    run: RunDir
    reporter: Any
    evaluator: Callable[[Tensor], dict[str, float]] | None
    state: TrainState
    stats: Stats
    last_saved: int | None

    def progress(self, done: int, finished: bool = True) -> RunProgress: ...
    def kept(self) -> str: ...


class Duty(Callback):
    """One of the engine's duties: a callback that holds the trainer."""

    def __init__(self, trainer: Trainer) -> None:
        self.trainer = trainer


class DivergenceGuard(Duty):
    """Stops the run when a loss or a gradient norm became non-finite: checked every ``CHECK_EVERY``
    steps and before anything is logged or saved, one read for all the steps since the last check,
    and under torchrun on every rank together."""

    def on_start(self, run: RunProgress) -> None:
        self.window: list[tuple[int, Tensor, Tensor]] = []

    def on_step_end(self, run: RunProgress, end: StepEnd) -> None:
        self.window.append((end.done - 1, end.d_health, end.g_health))
        if not (end.saving or end.logging or end.done % CHECK_EVERY == 0):
            return
        finite = torch.stack([torch.stack([d, g]) for _, d, g in self.window]).isfinite().all()
        if not self.trainer.pipe.world.all(finite):  # every rank stops together when one's loss is bad
            raise self.diverged()
        self.window.clear()

    def diverged(self) -> Diverged:
        # (steps, side, what): which side's loss or gradient norm went bad first
        health = torch.stack([torch.stack([d, g]) for _, d, g in self.window]).isfinite()
        row = int((~health.flatten(1).all(1)).nonzero()[0, 0])
        side, what = (int(i) for i in (~health[row]).nonzero()[0])
        name = f"{('critic', 'generator')[side]} {('loss', 'gradient norm')[what]}"
        step = self.window[row][0] + 1
        return Diverged(
            f"the {name} became non-finite at step {step}; stopped. {self.trainer.kept()}."
            " Try a lower learning rate, --clip-grad, or a warm start"
        )


class MetricsRow(Duty):
    """Every ``--log-every`` steps and at the last: the means since the last row (of the whole global
    batch), the schedules, the learning rates and the Lipschitz monitors, written to metrics.jsonl,
    shown to the callbacks (``on_metrics``) and to the progress bar."""

    def on_start(self, run: RunProgress) -> None:
        self.clock, self.clock_step, self.began = time.perf_counter(), run.step, time.perf_counter()

    def on_step_end(self, run: RunProgress, end: StepEnd) -> None:
        if not end.logging:
            return
        t = self.trainer
        p, done = t.pipe, end.done
        row = {"step": done, "epoch": round(done / end.steps_per_epoch, 4)}
        row["time"] = round(time.perf_counter() - self.began, 3)
        row["it_s"] = (done - self.clock_step) / max(time.perf_counter() - self.clock, 1e-9)
        row |= p.world.mean(t.stats.read())  # the whole global batch's means
        row |= {f"schedule/{name}": value for name, value in end.scheduled.items()}
        row |= {"lr_g": end.lr_g, "lr_d": end.lr_d}  # host floats: no read
        if p.world.is_main:
            monitor_ctx = MonitorContext(p.model, end.real, end.fake, done)
            for name, monitor in p.monitors:
                row |= {f"{name}/{k}": float(v) for k, v in monitor.measure(monitor_ctx).items()}
            t.run.append_metrics(row)
            if p.callbacks:  # the row is on the host already: a logger adds no read
                callbacks.notify(p, "on_metrics", run, row)
            t.reporter.log(row)
        self.clock, self.clock_step = time.perf_counter(), done


class EpochEnd(Duty):
    """The callbacks' ``on_epoch_end``, before the grid and the checkpoint: what they change is saved."""

    def on_step_end(self, run: RunProgress, end: StepEnd) -> None:
        if end.end_of_epoch and self.trainer.pipe.callbacks:
            callbacks.notify(self.trainer.pipe, "on_epoch_end", run)


class SampleGrid(Duty):
    """At each epoch's end and the run's: samples of a fixed latent batch (seeded by ``--seed``),
    saved as ``samples/epoch-NNNN.png`` and shown to the callbacks (``on_grid``)."""

    def on_start(self, run: RunProgress) -> None:
        p = self.trainer.pipe
        model, device = p.model, p.model.device
        generator = torch.Generator(device=device).manual_seed(p.config.seed)
        self.z = model.latent(GRID_SIZE[model.spec.kind], generator)
        self.labels = None
        if model.conditional:  # the grid shows the classes in turn (0, 1, 2, ..., 0, 1, ...)
            self.labels = torch.arange(self.z.shape[0], device=device) % model.spec.num_classes

    def on_step_end(self, run: RunProgress, end: StepEnd) -> None:
        if self.trainer.pipe.world.is_main and (end.end_of_epoch or end.last):
            self.save(end.epoch + 1, run)

    @torch.no_grad()
    def save(self, epoch: int, run: RunProgress) -> None:
        t = self.trainer
        model = t.pipe.model.for_sampling()  # the generator that is sampled: the live one or an average
        model.generator.eval()
        samples = model.generate(self.z, self.labels)
        model.generator.train()
        reference = t.data.x[:2000] if model.spec.kind == "points" else None
        picture = save_samples_picture(samples, model.spec, t.run.grid(epoch), reference)
        if t.pipe.callbacks:
            callbacks.notify(t.pipe, "on_grid", run, picture)


class Evaluation(Duty):
    """Every ``--eval-every`` epochs: the evaluator's metrics of the sampler's output, as one row.

    Runs on forked RNG streams seeded by (seed, epoch), so evaluating never changes training."""

    def on_step_end(self, run: RunProgress, end: StepEnd) -> None:
        t, every = self.trainer, self.trainer.pipe.config.eval_every
        if t.pipe.world.is_main and end.end_of_epoch and every and (end.epoch + 1) % every == 0:
            t.reporter.log(self.evaluate(end.epoch + 1, run))

    def evaluate(self, epoch: int, run: RunProgress) -> dict[str, float]:
        t = self.trainer
        p, cfg = t.pipe, t.pipe.config
        model = p.model.for_sampling()
        devices = [model.device] if model.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(cfg.seed * 1_000_003 + epoch)
            model.generator.eval()
            model.critic.eval()
            try:
                p.sampler.prepare(model, t.data)
                samples = p.sampler.sample(model, cfg.eval_samples)
            finally:
                model.generator.train()
                model.critic.train()
        row = {"step": run.step, "epoch": epoch} | {f"eval/{k}": v for k, v in t.evaluator(samples).items()}
        row |= {f"sampler/{k}": v for k, v in p.sampler.stats().items()}
        t.run.append_metrics(row)
        if p.callbacks:
            callbacks.notify(p, "on_metrics", run, row)
        return row


class Checkpointing(Duty):
    """At each epoch's end, every ``--ckpt-every`` steps, at the last step and at a stop: the
    checkpoint (``TrainState``), with the sums not logged yet."""

    def on_step_end(self, run: RunProgress, end: StepEnd) -> None:
        if end.saving:
            self.save(end.done, also_numbered=end.numbered)

    def save(self, step: int, also_numbered: bool = False) -> None:
        """The numbered checkpoint first (when asked), then ``last`` as a copy of it, so a kill at any
        point loses neither (``last`` is then one checkpoint older, and a resume from it rewrites the
        numbered one identically). Under torchrun every rank calls this (it gathers their random
        streams) and rank 0 writes it."""
        t = self.trainer
        p, world = t.pipe, t.pipe.world
        world.broadcast_buffers(p.generator)  # batch-norm statistics: rank 0's, as DDP keeps them
        world.broadcast_buffers(p.critic)
        world.check_replicas(p.generator, "generator", step)
        world.check_replicas(p.critic, "critic", step)
        streams = distributed.rng_state(world, p.model.device)  # empty on one process
        if world.is_main:
            first = t.run.step_checkpoint(step) if also_numbered else t.run.last
            t.state.save(first, step, streams, t.stats)
            if also_numbered:
                copy_atomic(first, t.run.last)
        t.last_saved = step


class Progress(Duty):
    """The progress bar's count."""

    def on_step_end(self, run: RunProgress, end: StepEnd) -> None:
        self.trainer.reporter.advance(end.done)


class Stop(Duty):
    """A stop asked for before the run's end, once its checkpoint is saved: one line saying how to go on."""

    def on_step_end(self, run: RunProgress, end: StepEnd) -> None:
        if end.stopping and not end.last:  # at the last step the run is simply complete
            t = self.trainer
            world = t.pipe.world
            nproc = f"--nproc {world.size} " if world.distributed else ""
            raise Interrupted(
                f"interrupted at step {end.done}; checkpoint saved to {t.run.last}."
                f" Continue with: gan run {nproc}--resume {t.run.path}"
            )


def listeners(trainer: Trainer) -> list[Callback]:
    """Who is told of a run's start and of each step's end, in order: the duties, with the run's own
    callbacks (``--callback``, in selection order) after the metrics row and before the epoch's end."""
    t, own = trainer, [callback for _, callback in trainer.pipe.callbacks]
    return [
        DivergenceGuard(t), MetricsRow(t), *own,
        EpochEnd(t), SampleGrid(t), Evaluation(t), Checkpointing(t), Progress(t), Stop(t),
    ]  # fmt: skip
