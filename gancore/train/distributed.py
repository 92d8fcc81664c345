"""Data-parallel training: one run over the processes ``torchrun`` starts (torch.distributed).

Every process (a rank) holds the same networks and optimizers and trains on its own share of each
global batch: ``--batch-size`` is the global batch, split evenly over the ranks, so a config means
the same training whatever the number of processes. After each backward the gradients are averaged
over the ranks with one all-reduce (what DistributedDataParallel does), and every rank then takes
the same optimizer step, so the replicas stay equal. Rank 0 alone writes the run folder.

Why an explicit all-reduce and not the DistributedDataParallel wrapper: the engine calls the critic
several times per step (real, fake, a gradient penalty's interpolates with a double backward, the
generator step through a frozen critic), and DDP's reducer hooks neither support a double backward
nor a module whose parameters are frozen for one of its passes. Averaging the gradients after the
whole step's backward gives the same update and leaves every regularizer and spectral norm as they
are: spectral norm's power-iteration vectors depend on the weights alone, which are equal on all
ranks, so they stay equal too.

Random numbers: the latent codes and fake labels of a step are drawn for the whole global batch from
one stream shared by all ranks (``batches``), each rank keeping its slice, so a run on N processes
draws what a run on one process draws. What components draw (dropout, a penalty's interpolation,
augmentations) comes from each rank's own stream, seeded from (seed, rank). Both are saved in the
checkpoint, so resuming is exact.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from datetime import timedelta

import attrs
import torch
import torch.distributed as dist
from torch import Tensor, nn

from gancore.errors import ConfigError, PeerLost
from gancore.records import GANModel

#: what a collective raises when a peer is gone (gloo: a RuntimeError "Connection closed by peer")
LOST = (dist.DistError, RuntimeError)
#: checkpoint key prefix of the ranks' random streams
RNG_PREFIX = "distributed_rng"
#: how long a rank waits for the others in a collective before giving up (a hung peer)
TIMEOUT = timedelta(minutes=10)


def launched() -> bool:
    """True in a process started by torchrun with more than one process in the run."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def rank_from_env() -> int:
    """This process's rank (0 outside torchrun): the CLI shows progress on rank 0 only."""
    return int(os.environ.get("RANK", "0"))


def world_size() -> int:
    """How many processes train this run: torchrun's WORLD_SIZE, else 1."""
    return int(os.environ.get("WORLD_SIZE", "1")) if launched() else 1


def rank_seed(seed: int, rank: int) -> int:
    """The seed of rank ``rank``'s own random stream (distinct per rank, fixed by the run's seed)."""
    return seed * 1_000_003 + 7_919 * (rank + 1)


@attrs.define(eq=False)
class World:
    """The processes of one run; ``World()`` is a run on one process (every method a no-op)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    #: the stream of latent codes and fake labels, shared by every rank (None on one process)
    batches: torch.Generator | None = None
    #: where collectives exchange tensors (the CPU with gloo, this rank's GPU with nccl)
    comm_device: torch.device = attrs.field(factory=lambda: torch.device("cpu"))

    @property
    def distributed(self) -> bool:
        return self.size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the one process that writes the run folder and evaluates."""
        return self.rank == 0

    def device(self, wanted: torch.device) -> torch.device:
        """The device this rank trains on: its own GPU (LOCAL_RANK) when the run uses CUDA."""
        if self.distributed and wanted.type == "cuda":
            return torch.device("cuda", self.local_rank)
        return wanted

    def share(self, batch_size: int) -> int:
        """This rank's share of a global batch of ``batch_size``."""
        return batch_size // self.size

    def rows(self, rows: Tensor, n_batches: int) -> Tensor:
        """This rank's slice of each of ``n_batches`` consecutive global batches in ``rows``."""
        if not self.distributed:
            return rows
        return rows.view(n_batches, self.size, -1)[:, self.rank].reshape(-1)

    def draw(self, model: GANModel, n: int) -> tuple[Tensor, Tensor | None]:
        """A step's latent codes and fake labels for this rank's ``n`` samples (no host read).

        On several ranks the whole global batch is drawn from the shared stream and this rank keeps
        its slice: N times the (small) draw, and the same numbers as a run on one process.
        """
        if not self.distributed:
            return model.latent(n), model.labels(n)
        part = slice(self.rank * n, (self.rank + 1) * n)
        z = model.latent(n * self.size, generator=self.batches)[part]
        labels = model.labels(n * self.size, generator=self.batches)
        return z, None if labels is None else labels[part]

    def average_gradients(self, params: list[nn.Parameter]) -> None:
        """Replace each gradient by its mean over the ranks: one all-reduce of one flat buffer."""
        if not self.distributed:
            return
        grads = [p.grad for p in params if p.grad is not None]
        if not grads:
            return
        flat = torch.cat([g.reshape(-1) for g in grads])
        self._all_reduce(flat)
        flat.div_(self.size)
        offset = 0
        for g in grads:
            g.copy_(flat[offset : offset + g.numel()].view_as(g))
            offset += g.numel()

    def mean(self, values: dict[str, float]) -> dict[str, float]:
        """Logged means averaged over the ranks (every rank logs at the same steps, same keys)."""
        if not self.distributed or not values:
            return values
        t = torch.tensor(list(values.values()), dtype=torch.float64, device=self.comm_device)
        self._all_reduce(t)
        return {k: v / self.size for k, v in zip(values, t.tolist(), strict=True)}

    def all(self, flag: Tensor) -> bool:
        """True when ``flag`` (a bool tensor) is true on every rank: the one host read of a check."""
        if not self.distributed:
            return bool(flag.item())
        t = flag.to(self.comm_device, torch.int32).reshape(1)
        self._all_reduce(t, dist.ReduceOp.MIN)
        return bool(t.item())

    def any(self, flag: bool) -> bool:
        """True when ``flag`` is true on some rank (a Ctrl-C seen by one process stops them all)."""
        if not self.distributed:
            return flag
        t = torch.tensor([int(flag)], device=self.comm_device)
        self._all_reduce(t, dist.ReduceOp.MAX)
        return bool(t.item())

    def gather(self, tensor: Tensor) -> list[Tensor]:
        """Every rank's ``tensor`` (same shape on all), on the CPU, in rank order."""
        if not self.distributed:
            return [tensor.cpu()]
        local = tensor.to(self.comm_device)
        out = [torch.empty_like(local) for _ in range(self.size)]
        try:
            dist.all_gather(out, local)
        except LOST as exc:
            raise PeerLost(lost_message(self.rank, exc)) from None
        return [t.cpu() for t in out]

    def broadcast_buffers(self, module: nn.Module) -> None:
        """Rank 0's buffers (batch-norm running statistics) on every rank, before a checkpoint."""
        if not self.distributed:
            return
        for buffer in module.buffers():
            local = buffer.to(self.comm_device)
            try:
                dist.broadcast(local, src=0)
            except LOST as exc:
                raise PeerLost(lost_message(self.rank, exc)) from None
            buffer.copy_(local)

    def check_replicas(self, module: nn.Module, what: str, step: int) -> None:
        """The parameters are bit-identical on every rank (the averaged update keeps them so)."""
        if not self.distributed:
            return
        with torch.no_grad():
            flat = torch.cat([p.detach().reshape(-1).double() for p in module.parameters()])
            ramp = torch.arange(len(flat), dtype=flat.dtype, device=flat.device)
            checksum = torch.stack([flat.sum(), (flat * ramp).sum()])  # order-sensitive too
        sums = self.gather(checksum)
        if any(not s.equal(sums[0]) for s in sums[1:]):
            raise ConfigError(
                f"the {what}'s weights differ between the processes at step {step}: a component does"
                " something different on each rank; train it on one process and report it"
            )

    def _all_reduce(self, t: Tensor, op: dist.ReduceOp.RedOpType = dist.ReduceOp.SUM) -> None:
        try:
            dist.all_reduce(t, op=op)
        except LOST as exc:
            raise PeerLost(lost_message(self.rank, exc)) from None

    def close(self, finished: bool = True) -> None:
        """Leave the process group; after a finished run, only once every rank is done with it
        (a rank tearing gloo down while another still talks to it aborts that one)."""
        if not (self.distributed and dist.is_initialized()):
            return
        if finished:
            with contextlib.suppress(*LOST):  # a peer already gone: nothing left to wait for
                dist.barrier()
        dist.destroy_process_group()


#: set once this process stops because a peer is gone: the launcher's SIGTERM that follows must
#: not raise a second PeerLost into the handling of the first (its line would lose what is kept)
_stopping = threading.Event()


def lost_message(rank: int, exc: BaseException) -> str:
    """One line for a collective that failed: a peer died (the backend's own text: GANCORE_DEBUG)."""
    _stopping.set()
    if os.environ.get("GANCORE_DEBUG"):
        print(f"rank {rank}: {exc}", file=sys.stderr)
    return f"rank {rank}: another process of this run stopped or was killed; stopping too"


def join(device: torch.device) -> World:
    """This process's place in the run: the process group (gloo on the CPU, nccl on CUDA) under
    torchrun with several processes, else a world of one."""
    if not launched():
        return World()
    if device.type not in ("cpu", "cuda"):
        raise ConfigError(f"torchrun runs on the CPU (gloo) or CUDA (nccl), not on {device.type}")
    rank, size = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    backend = "nccl" if device.type == "cuda" else "gloo"
    comm = torch.device("cuda", local_rank) if backend == "nccl" else torch.device("cpu")
    if backend == "nccl":
        torch.cuda.set_device(comm)
    if not dist.is_initialized():
        dist.init_process_group(backend, timeout=TIMEOUT, device_id=comm if backend == "nccl" else None)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _stopped_by_launcher(rank))
    return World(rank, size, local_rank, comm_device=comm)


def _stopped_by_launcher(rank: int):
    """SIGTERM: the launcher stops the survivors when one process fails (or the job is cancelled);
    say so in one line instead of dying silently (checkpoints are atomic: the last one is whole)."""

    def handler(signum: int, frame: object) -> None:
        if _stopping.is_set():  # already stopping (a peer was lost): the line being made says why
            return
        _stopping.set()
        raise PeerLost(
            f"rank {rank}: stopped by SIGTERM (the launcher stops every process when one fails,"
            " or the job was cancelled)"
        )

    return handler


def split_streams(world: World, device: torch.device, seed: int) -> None:
    """After the networks are built (from the same seed on every rank): the shared stream of
    latents continues from the state the seed gave, and this rank's own stream is reseeded."""
    if not world.distributed:
        return
    world.batches = torch.Generator(device=device)
    state = torch.cuda.get_rng_state(device) if device.type == "cuda" else torch.get_rng_state()
    world.batches.set_state(state)
    torch.manual_seed(rank_seed(seed, world.rank))


def check_batch(world: World, batch_size: int) -> None:
    if world.distributed and batch_size % world.size:
        raise ConfigError(
            f"--batch-size {batch_size} is the global batch and must split evenly over the"
            f" {world.size} processes; use a multiple of {world.size}"
        )


def rng_state(world: World, device: torch.device) -> dict[str, Tensor]:
    """Every rank's random streams, for the checkpoint rank 0 writes (a collective: all ranks call)."""
    if not world.distributed:
        return {}
    own = torch.get_rng_state()
    states = {f"rank{r}.cpu": s for r, s in enumerate(world.gather(own))}
    if device.type == "cuda":
        cuda = world.gather(torch.cuda.get_rng_state(device))
        states |= {f"rank{r}.cuda": s for r, s in enumerate(cuda)}
    assert world.batches is not None
    states["batches"] = world.batches.get_state()
    return states


def restore_rng(world: World, device: torch.device, states: dict[str, Tensor]) -> None:
    """This rank's streams from a checkpoint's ``rng_state``."""
    if not world.distributed:
        return
    mine = f"rank{world.rank}.cpu"
    if mine not in states or "batches" not in states:
        raise ConfigError(
            f"the checkpoint holds no random state for rank {world.rank}: resume with as many processes"
            " as the run was trained with"
        )
    torch.set_rng_state(states[mine])
    if device.type == "cuda" and f"rank{world.rank}.cuda" in states:
        torch.cuda.set_rng_state(states[f"rank{world.rank}.cuda"], device)
    assert world.batches is not None
    world.batches.set_state(states["batches"])
