"""The training loop: the run from its first step to its last, with logging, grids and checkpoints.

Nothing in a step reads a value back to the host: losses and diagnostics stay on the device and are
summed there, and read every ``--log-every`` steps (a non-finite check every ``CHECK_EVERY``).
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Callable, Iterator
from typing import Protocol

import attrs
import torch
from torch import Tensor

from gancore.errors import ConfigError, Diverged, Interrupted, InterruptedTwice, PeerLost
from gancore.io.atomic import copy_atomic
from gancore.io.images import save_samples_picture
from gancore.io.rundir import RunDir
from gancore.records import Data, GANModel, MonitorContext, RunProgress
from gancore.train import callbacks, distributed, schedule
from gancore.train.graphs import GraphedIteration
from gancore.train.objective import critic_objective
from gancore.train.pipeline import Pipeline
from gancore.train.state import TrainState
from gancore.train.stats import Stats
from gancore.train.steps import critic_step, generator_step

CHECK_EVERY = 10  # steps between the (single-sync) checks for a non-finite loss or gradient norm
GRID_SIZE = {"image": 64, "points": 1000}  # samples drawn from the fixed latent batch


class Reporter(Protocol):
    """What the loop tells its caller (the CLI draws a progress bar from it)."""

    def start(self, total: int, done: int, steps_per_epoch: int) -> None: ...
    def advance(self, done: int) -> None: ...
    def log(self, row: dict[str, float]) -> None: ...


#: scores samples drawn by the run's sampler: metric name -> value (FID, modes covered, ...)
Evaluator = Callable[[Tensor], dict[str, float]]


class SilentReporter:
    def start(self, total: int, done: int, steps_per_epoch: int) -> None:
        pass

    def advance(self, done: int) -> None:
        pass

    def log(self, row: dict[str, float]) -> None:
        pass


@attrs.define
class StopFlag:
    requested: bool = False


#: the signals that ask a run to stop and save: Ctrl-C, and what ``timeout``, ``docker stop`` and
#: Slurm send before they kill
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def ctrl_c_requests_stop() -> Iterator[StopFlag]:
    """The first Ctrl-C or SIGTERM asks the loop to stop at the end of the step (and save); a second
    one stops at once, without saving."""
    flag = StopFlag()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def handler(signum: int, frame: object) -> None:
        if flag.requested:
            raise InterruptedTwice
        flag.requested = True

    previous = [signal.signal(sig, handler) for sig in STOP_SIGNALS]
    try:
        yield flag
    finally:
        for sig, old in zip(STOP_SIGNALS, previous, strict=True):
            signal.signal(sig, old)


def steps_per_epoch(n_examples: int, batch_size: int, n_critic: int) -> int:
    """Generator steps per pass over the data (each step takes ``n_critic`` real batches)."""
    if batch_size > n_examples:
        raise ConfigError(f"--batch-size {batch_size} is larger than the dataset ({n_examples} examples)")
    per_step = batch_size * n_critic
    if per_step > n_examples:
        raise ConfigError(
            f"--batch-size {batch_size} x --n-critic {n_critic} needs {per_step} examples per step,"
            f" but the dataset has {n_examples}; lower --batch-size"
        )
    return n_examples // per_step


def set_learning_rates(opt: torch.optim.Optimizer, lr: float) -> None:
    """The epoch's learning rate (a Python float set between steps: no sync, no recompilation)."""
    for group in opt.param_groups:
        group["lr"] = lr


def grid_labels(model: GANModel, n: int) -> Tensor | None:
    """The grids' fixed labels for a conditional model: the classes in turn (0, 1, 2, ..., 0, 1, ...)."""
    if not model.conditional:
        return None
    return torch.arange(n, device=model.device) % model.spec.num_classes


def epoch_permutation(n: int, seed: int, epoch: int, device: torch.device) -> Tensor:
    """The order of the data in ``epoch``: a function of (seed, epoch) alone, so resume needs no state."""
    g = torch.Generator(device=device).manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(n, generator=g, device=device)


@attrs.define(eq=False)
class Trainer:
    """A pipeline, its data and optimizers, and the run folder it writes."""

    pipe: Pipeline
    data: Data
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    run: RunDir
    reporter: Reporter = attrs.field(factory=SilentReporter)
    #: what ``--eval-every`` measures; the caller provides it (training never imports evaluation)
    evaluator: Evaluator | None = None
    last_saved: int | None = None
    #: the unlogged sums a resumed run continues from (``Stats.state()``); None: start from zero
    resumed_stats: tuple[dict[str, Tensor], dict[str, int]] | None = None
    graphed: GraphedIteration | None = attrs.field(init=False)
    #: what the checkpoints hold, and how it is restored
    state: TrainState = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        model = self.pipe.model
        if model.conditional and self.data.labels is None:
            raise ConfigError(
                "the networks are conditional (they take class labels), but the dataset loaded no labels"
            )
        # a sampler that trains the critic further (--eval-every) does so with the run's objective
        model.critic_objective = critic_objective(self.pipe)
        self.graphed = GraphedIteration(self.step_body) if self.pipe.config.cuda_graphs else None
        self.state = TrainState(self.pipe, self.opt_g, self.opt_d)

    def save(self, step: int, also_numbered: bool = False, stats: Stats | None = None) -> None:
        """The checkpoint of ``step``: the numbered one first (when asked), then ``last`` as a copy of
        it, so a kill at any point loses neither (``last`` is then one checkpoint older, and a resume
        from it rewrites the numbered one identically). ``stats``: the sums not yet logged, so that a
        run resumed between two log rows logs what an uninterrupted one does. Under torchrun every
        rank calls this (it gathers their random streams) and rank 0 writes it."""
        p, world = self.pipe, self.pipe.world
        world.broadcast_buffers(p.generator)  # batch-norm statistics: rank 0's, as DDP keeps them
        world.broadcast_buffers(p.critic)
        world.check_replicas(p.generator, "generator", step)
        world.check_replicas(p.critic, "critic", step)
        streams = distributed.rng_state(world, p.model.device)  # empty on one process
        if not world.is_main:
            self.last_saved = step
            return
        first = self.run.step_checkpoint(step) if also_numbered else self.run.last
        self.state.save(first, step, streams, stats)
        if also_numbered:
            copy_atomic(first, self.run.last)
        self.last_saved = step

    @torch.no_grad()
    def save_grid(self, fixed_z: Tensor, epoch: int, done: int, fixed_labels: Tensor | None = None) -> None:
        """The epoch's grid from the fixed latent batch, saved and shown to the callbacks (``on_grid``)."""
        model = self.pipe.model.for_sampling()  # the generator that is sampled: the live one or an average
        model.generator.eval()
        samples = model.generate(fixed_z, fixed_labels)
        model.generator.train()
        reference = self.data.x[:2000] if model.spec.kind == "points" else None
        picture = save_samples_picture(samples, model.spec, self.run.grid(epoch), reference)
        if self.pipe.callbacks:
            callbacks.notify(self.pipe, "on_grid", self.progress(done), picture)

    def kept(self) -> str:
        """What a run that stops early leaves behind: its last good checkpoint, if any."""
        if self.last_saved is None:
            return "no checkpoint had been written yet"
        return f"the last good checkpoint, {self.run.last} (step {self.last_saved}), is kept"

    def diverged(self, window: list[tuple[int, Tensor, Tensor]]) -> Diverged:
        health = torch.stack([torch.stack([d, g]) for _, d, g in window]).isfinite()  # (steps, side, what)
        row = int((~health.flatten(1).all(1)).nonzero()[0, 0])
        side, what = (int(i) for i in (~health[row]).nonzero()[0])
        name = f"{('critic', 'generator')[side]} {('loss', 'gradient norm')[what]}"
        step = window[row][0] + 1
        return Diverged(
            f"the {name} became non-finite at step {step}; stopped. {self.kept()}."
            " Try a lower learning rate, --clip-grad, or a warm start"
        )

    def evaluate(self, epoch: int, step: int) -> dict[str, float]:
        """The evaluator's metrics of the sampler's output, as one metrics row.

        Runs on forked RNG streams seeded by (seed, epoch), so evaluating never changes training.
        """
        if self.evaluator is None:
            raise ConfigError("--eval-every needs an evaluator; this caller gave none")
        p, cfg = self.pipe, self.pipe.config
        model = p.model.for_sampling()
        devices = [model.device] if model.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(cfg.seed * 1_000_003 + epoch)
            model.generator.eval()
            model.critic.eval()
            try:
                p.sampler.prepare(model, self.data)
                samples = p.sampler.sample(model, cfg.eval_samples)
            finally:
                model.generator.train()
                model.critic.train()
        row = {"step": step, "epoch": epoch} | {f"eval/{k}": v for k, v in self.evaluator(samples).items()}
        row |= {f"sampler/{k}": v for k, v in p.sampler.stats().items()}
        self.run.append_metrics(row)
        if p.callbacks:
            callbacks.notify(p, "on_metrics", self.progress(step), row)
        return row

    def iteration(
        self, perm: Tensor, pos: int, step: int, epoch: int, stats: Stats
    ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Generator step ``step``: ``n_critic`` critic steps on the next real batches of ``perm``,
        then ``n_gen`` generator steps. Returns (critic loss, generator loss, last real, last fake)."""
        per_step = self.pipe.config.n_critic * self.pipe.config.batch_size
        # under torchrun: this rank's slice of each of the step's global batches
        rows = self.pipe.world.rows(perm[pos * per_step : (pos + 1) * per_step], self.pipe.config.n_critic)
        stored = self.data.x[rows]  # this step's real batches
        labels = self.data.labels[rows] if self.pipe.model.conditional else None  # unconditional: none
        return (self.graphed or self.step_body)(stored, labels, step, epoch, stats)

    def step_body(
        self, stored: Tensor, labels: Tensor | None, step: int, epoch: int, stats: Stats
    ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """The iteration on its real batches as stored (``n_critic`` of them, one after the other)
        and, for a conditional model, their labels: everything from decoding them to the last
        optimizer step, and nothing that reads the host.

        Returns the critic's and the generator's (last total loss, sum of the gradient norms): the
        divergence check looks at both, since an update with an infinite gradient ruins the weights
        while its loss, computed before it, is still finite.
        """
        p, cfg = self.pipe, self.pipe.config
        batch = p.world.share(cfg.batch_size)  # this process's share of the global batch
        real_labels = None
        d_norms, g_norms = [], []
        for k in range(cfg.n_critic):
            real = self.data.decode(stored[k * batch : (k + 1) * batch])
            real_labels = None if labels is None else labels[k * batch : (k + 1) * batch]
            d = critic_step(p, self.opt_d, real, step, epoch, stats, real_labels)
            d_norms.append(d.grad_norm)
        for _ in range(cfg.n_gen):
            g = generator_step(p, self.opt_g, real, step, epoch, stats, real_labels)
            g_norms.append(g.grad_norm)
        d_health = torch.stack([d.losses.total.detach().float(), torch.stack(d_norms).float().sum()])
        g_health = torch.stack([g.losses.total.detach().float(), torch.stack(g_norms).float().sum()])
        return d_health, g_health, real, d.fake

    def total_steps(self) -> int:
        cfg = self.pipe.config
        return cfg.steps or cfg.epochs * steps_per_epoch(len(self.data), cfg.batch_size, cfg.n_critic)

    def progress(self, done: int, finished: bool = True) -> RunProgress:
        """Where the run stands after ``done`` steps, for the callbacks."""
        cfg = self.pipe.config
        per_epoch = steps_per_epoch(len(self.data), cfg.batch_size, cfg.n_critic)
        return RunProgress(
            self.pipe.model, done, done // per_epoch, self.total_steps(), per_epoch, self.run.path, finished,
            writer=self.pipe.world.is_main,
        )  # fmt: skip

    def train(self, start: int, stop: StopFlag) -> int:
        """Train from step ``start`` to the configured length; returns the final step.

        The callbacks' ``on_run_end`` runs after the last checkpoint, also when the run stops early
        with a checkpoint kept (Ctrl-C, divergence), so a logger can close its files.
        """
        if self.pipe.callbacks:
            callbacks.notify(self.pipe, "on_start", self.progress(start))
        try:
            done = self._train(start, stop)
        except PeerLost as exc:  # torchrun: another rank died; say what this run folder still holds
            if self.pipe.callbacks:
                callbacks.notify(self.pipe, "on_run_end", self.progress(self.last_saved or start, False))
            raise PeerLost(f"{exc}. {self.kept()}") from None
        except (Interrupted, Diverged):
            if self.pipe.callbacks:
                callbacks.notify(self.pipe, "on_run_end", self.progress(self.last_saved or start, False))
            raise
        if self.pipe.callbacks:
            callbacks.notify(self.pipe, "on_run_end", self.progress(done))
        return done

    def _train(self, start: int, stop: StopFlag) -> int:
        p, cfg, data = self.pipe, self.pipe.config, self.data
        world, device = p.world, p.model.device
        per_epoch = steps_per_epoch(len(data), cfg.batch_size, cfg.n_critic)
        total = self.total_steps()
        fixed_z = p.model.latent(
            GRID_SIZE[p.model.spec.kind], torch.Generator(device=device).manual_seed(cfg.seed)
        )
        fixed_labels = grid_labels(p.model, fixed_z.shape[0])
        schedules = [schedule.parse(text) for text in cfg.schedules]
        scheduled: dict[str, float] = {}
        stats, window = Stats(), []
        if self.resumed_stats is not None:
            stats.load(*self.resumed_stats, device)
        self.last_saved = start if start > 0 else None
        self.reporter.start(total, start, per_epoch)
        clock, clock_step, began = time.perf_counter(), start, time.perf_counter()
        perm = None
        for step in range(start, total):
            epoch, pos = divmod(step, per_epoch)
            if perm is None or pos == 0:
                perm = epoch_permutation(len(data), cfg.seed, epoch, device)
                factor = p.lr_schedule.factor(epoch, -(-total // per_epoch))
                set_learning_rates(self.opt_g, cfg.lr_g * factor)
                set_learning_rates(self.opt_d, cfg.lr_d * factor)
                scheduled = schedule.apply(schedules, p.components(), cfg.options, epoch)
            d_health, g_health, real, fake = self.iteration(perm, pos, step, epoch, stats)
            window.append((step, d_health, g_health))

            done = step + 1
            end_of_epoch = done % per_epoch == 0
            numbered = cfg.ckpt_every > 0 and done % cfg.ckpt_every == 0
            # under torchrun a Ctrl-C seen by one rank stops all of them, agreed at a check step
            stopping = stop.requested
            if world.distributed:
                stopping = done % CHECK_EVERY == 0 and world.any(stop.requested)
            saving = end_of_epoch or numbered or done == total or stopping
            logging = done % cfg.log_every == 0 or done == total
            if saving or logging or done % CHECK_EVERY == 0:
                finite = torch.stack([torch.stack([d, g]) for _, d, g in window]).isfinite().all()
                if not world.all(finite):  # every rank stops together when one rank's loss is bad
                    raise self.diverged(window)
                window.clear()
            if logging:
                row = {"step": done, "epoch": round(done / per_epoch, 4)}
                row["time"] = round(time.perf_counter() - began, 3)
                row["it_s"] = (done - clock_step) / max(time.perf_counter() - clock, 1e-9)
                row |= world.mean(stats.read())  # the whole global batch's means
                row |= {f"schedule/{name}": value for name, value in scheduled.items()}
                row |= {"lr_g": cfg.lr_g * factor, "lr_d": cfg.lr_d * factor}  # host floats: no read
                if world.is_main:
                    monitor_ctx = MonitorContext(p.model, real, fake, done)
                    for name, monitor in p.monitors:
                        row |= {f"{name}/{k}": float(v) for k, v in monitor.measure(monitor_ctx).items()}
                    self.run.append_metrics(row)
                    if p.callbacks:  # the row is on the host already: a logger adds no read
                        callbacks.notify(p, "on_metrics", self.progress(done), row)
                    self.reporter.log(row)
                clock, clock_step = time.perf_counter(), done
            if end_of_epoch and p.callbacks:  # before the grid and the checkpoint: what it changes is saved
                callbacks.notify(p, "on_epoch_end", self.progress(done))
            if world.is_main and (end_of_epoch or done == total):
                self.save_grid(fixed_z, epoch + 1, done, fixed_labels)
            if world.is_main and end_of_epoch and cfg.eval_every and (epoch + 1) % cfg.eval_every == 0:
                self.reporter.log(self.evaluate(epoch + 1, done))
            if saving:
                self.save(done, also_numbered=numbered, stats=stats)
            self.reporter.advance(done)
            if stopping and done < total:  # at the last step the run is simply complete
                nproc = f"--nproc {world.size} " if world.distributed else ""
                raise Interrupted(
                    f"interrupted at step {done}; checkpoint saved to {self.run.last}."
                    f" Continue with: gan run {nproc}--resume {self.run.path}"
                )
        return total
