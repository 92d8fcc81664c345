"""The training loop: the run from its first step to its last. It iterates, steps and tells its
callbacks how each step ended: the engine's duties (``duties.py``: the divergence guard, logging,
grids, evaluation, checkpoints, the stop) and the run's own, on the same events.

Nothing in a step reads a value back to the host: losses and diagnostics stay on the device and are
summed there, and read every ``--log-every`` steps (a non-finite check every ``CHECK_EVERY``).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Protocol

import attrs
import torch
from torch import Tensor

from gancore.components import Callback
from gancore.errors import ConfigError, Diverged, Interrupted, InterruptedTwice, PeerLost
from gancore.io.rundir import RunDir
from gancore.records import Data, RunProgress, StepEnd
from gancore.train import callbacks, schedule
from gancore.train.assembly import Assembly, Evaluator
from gancore.train.duties import CHECK_EVERY, listeners
from gancore.train.graphs import GraphedIteration
from gancore.train.objective import critic_objective
from gancore.train.pipeline import Pipeline
from gancore.train.state import TrainState
from gancore.train.stats import Stats
from gancore.train.steps import critic_step, generator_step


class Reporter(Protocol):
    """What the loop tells its caller (the CLI draws a progress bar from it)."""

    def start(self, total: int, done: int, steps_per_epoch: int) -> None: ...
    def advance(self, done: int) -> None: ...
    def log(self, row: dict[str, float]) -> None: ...


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


def set_learning_rates(opt: torch.optim.Optimizer, lr: float) -> None:
    """The epoch's learning rate (a Python float set between steps: no sync, no recompilation)."""
    for group in opt.param_groups:
        group["lr"] = lr


def epoch_permutation(n: int, seed: int, epoch: int, device: torch.device) -> Tensor:
    """The order of the data in ``epoch``: a function of (seed, epoch) alone, so resume needs no state."""
    g = torch.Generator(device=device).manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(n, generator=g, device=device)


@attrs.define(eq=False)
class Trainer:
    """An assembled run (``assembly.py``) trained into the run folder it writes."""

    assembly: Assembly
    run: RunDir
    reporter: Reporter = attrs.field(factory=SilentReporter)
    #: the step of the last checkpoint written (``duties.Checkpointing``), None before the first
    last_saved: int | None = None
    #: the unlogged sums a resumed run continues from (``Stats.state()``); None: start from zero
    resumed_stats: tuple[dict[str, Tensor], dict[str, int]] | None = None
    graphed: GraphedIteration | None = attrs.field(init=False)
    #: what the checkpoints hold, and how it is restored
    state: TrainState = attrs.field(init=False)
    #: the metrics row's running sums, which the steps add to
    stats: Stats = attrs.field(init=False, factory=Stats)
    #: told of the run's start and each step's end, in order: the duties and the run's callbacks
    listeners: list[Callback] = attrs.field(init=False, factory=list)

    @property
    def pipe(self) -> Pipeline:
        return self.assembly.pipe

    @property
    def data(self) -> Data:
        return self.assembly.data

    @property
    def opt_g(self) -> torch.optim.Optimizer:
        return self.assembly.opt_g

    @property
    def opt_d(self) -> torch.optim.Optimizer:
        return self.assembly.opt_d

    @property
    def evaluator(self) -> Evaluator | None:
        """What ``--eval-every`` measures; the caller provides it (training never imports evaluation)."""
        return self.assembly.evaluator

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
        self.listeners = listeners(self)

    def kept(self) -> str:
        """What a run that stops early leaves behind: its last good checkpoint, if any."""
        if self.last_saved is None:
            return "no checkpoint had been written yet"
        return f"the last good checkpoint, {self.run.last} (step {self.last_saved}), is kept"

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

    def steps_per_epoch(self) -> int:
        return self.assembly.steps_per_epoch

    def total_steps(self) -> int:
        return self.assembly.total_steps

    def progress(self, done: int, finished: bool = True) -> RunProgress:
        """Where the run stands after ``done`` steps, for the callbacks."""
        per_epoch = self.steps_per_epoch()
        return RunProgress(
            self.pipe.model, done, done // per_epoch, self.total_steps(), per_epoch, self.run.path, finished,
            writer=self.pipe.world.is_main,
        )  # fmt: skip

    def train(self, start: int, stop: StopFlag) -> int:
        """Train from step ``start`` to the configured length; returns the final step.

        The callbacks' ``on_run_end`` runs after the last checkpoint, also when the run stops early
        with a checkpoint kept (Ctrl-C, divergence), so a logger can close its files.
        """
        begun = self.progress(start)
        for listener in self.listeners:
            listener.on_start(begun)
        try:
            done = self._train(start, stop)
        except (PeerLost, Interrupted, Diverged) as exc:
            self.end(self.last_saved or start, finished=False)
            if isinstance(exc, PeerLost):  # torchrun: another rank died; say what this folder still holds
                raise PeerLost(f"{exc}. {self.kept()}") from None
            raise
        self.end(done, finished=True)
        return done

    def end(self, step: int, finished: bool) -> None:
        """The callbacks' ``on_run_end``: the run stopped at ``step`` (its last checkpoint's)."""
        if self.pipe.callbacks:
            callbacks.notify(self.pipe, "on_run_end", self.progress(step, finished))

    def _train(self, start: int, stop: StopFlag) -> int:
        """The loop: each step, then the listeners told how it ended (``duties.py`` does the rest)."""
        p, cfg = self.pipe, self.pipe.config
        per_epoch, total = self.steps_per_epoch(), self.total_steps()
        schedules = [schedule.parse(text) for text in cfg.schedules]
        if self.resumed_stats is not None:
            self.stats.load(*self.resumed_stats, p.model.device)
        self.last_saved = start if start > 0 else None
        self.reporter.start(total, start, per_epoch)
        perm = None
        for step in range(start, total):
            epoch, pos = divmod(step, per_epoch)
            if perm is None or pos == 0:
                perm = epoch_permutation(len(self.data), cfg.seed, epoch, p.model.device)
                factor = p.lr_schedule.factor(epoch, -(-total // per_epoch))
                lr_g, lr_d = cfg.lr_g * factor, cfg.lr_d * factor
                set_learning_rates(self.opt_g, lr_g)
                set_learning_rates(self.opt_d, lr_d)
                scheduled = schedule.apply(schedules, p.components(), cfg.options, epoch)
            d_health, g_health, real, fake = self.iteration(perm, pos, step, epoch, self.stats)
            done = step + 1
            # under torchrun a Ctrl-C seen by one rank stops all of them, agreed at a check step
            stopping = stop.requested
            if p.world.distributed:
                stopping = done % CHECK_EVERY == 0 and p.world.any(stop.requested)
            end = StepEnd(
                done, epoch, total, per_epoch,
                end_of_epoch=done % per_epoch == 0,
                numbered=cfg.ckpt_every > 0 and done % cfg.ckpt_every == 0,
                stopping=stopping,
                logging=done % cfg.log_every == 0 or done == total,
                d_health=d_health, g_health=g_health, real=real, fake=fake,
                lr_g=lr_g, lr_d=lr_d, scheduled=scheduled,
            )  # fmt: skip
            run = self.progress(done)
            for listener in self.listeners:
                listener.on_step_end(run, end)
        return total
