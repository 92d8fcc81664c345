"""What a training checkpoint holds, written and read in one place: the layout of its keys.

``io/checkpoint.py`` stores what every checkpoint has (the networks ``generator.``/``critic.``, the
optimizers ``opt_g.``/``opt_d.``, this process's ``rng.``, the step); ``TrainState`` names the rest
a run carries, and restores it:

- ``callback.<name>.<key>``: each callback's ``state_dict()``; ``sampled_generator.<key>`` the
  generator it samples (an average), with the metadata key ``sampled_generator`` naming the callback;
- ``monitor.<name>.<key>``: each Lipschitz monitor's ``state_dict()``;
- ``shared.<key>.<field>``: the states components share (``model.shared``, ``records.SharedState``);
- ``rng.rank<N>.*``: the other processes' random streams under torchrun (``distributed.rng_state``);
- ``stats.<key>``: the metrics row's sums not logged yet, with their counts in the metadata key
  ``stats``, so a run resumed between two rows logs what an uninterrupted one does;
- metadata ``spec`` (the data's shape) and ``identity`` (the run's settings, compared on resume).

Adding state to a run is one change here: a prefix in ``tensors`` and its loader in ``load``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import attrs
import torch
from torch import Tensor

from gancore.io import checkpoint
from gancore.io.checkpoint import SAMPLED
from gancore.train import distributed
from gancore.train.pipeline import Pipeline
from gancore.train.stats import Stats
from gancore.train.validate import identity

CALLBACKS = "callback"  # key prefix of the callbacks' state
MONITORS = "monitor"  # key prefix of the Lipschitz monitors' state
SHARED = "shared"  # key prefix of the states components share
STATS = "stats"  # key prefix of the sums not logged yet, and metadata key of their counts

#: a state's loader: given the checkpoint's tensors under its prefix (the prefix removed)
Loader = Callable[[dict[str, Tensor]], None]


@attrs.define(eq=False)
class TrainState:
    """A run's trainable state: the pipeline's networks and components, and both optimizers."""

    pipe: Pipeline
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer

    def tensors(
        self, streams: dict[str, Tensor], stats: Stats | None
    ) -> tuple[dict[str, Tensor], dict[str, str]]:
        """The tensors and metadata a checkpoint holds beside the networks and optimizers.

        ``streams``: the processes' random streams (empty on one process); ``stats``: the metrics
        row's running sums (None, or none pending: nothing to keep)."""
        p = self.pipe
        tensors: dict[str, Tensor] = {}
        meta: dict[str, str] = {}
        if p.model.sampled_generator is not None:
            tensors |= {f"{SAMPLED}.{k}": v for k, v in p.model.sampled_generator.state_dict().items()}
            meta[SAMPLED] = p.sampled_by
        for name, callback in p.callbacks:
            tensors |= {f"{CALLBACKS}.{name}.{k}": v for k, v in callback.state_dict().items()}
        for name, monitor in p.monitors:
            tensors |= {f"{MONITORS}.{name}.{k}": v for k, v in monitor.state_dict().items()}
        for key, shared in p.model.shared_states.items():
            tensors |= {f"{SHARED}.{key}.{k}": v for k, v in shared.state_dict().items()}
        tensors |= {f"{distributed.RNG_PREFIX}.{k}": v for k, v in streams.items()}
        if stats is not None and any(stats.counts.values()):
            sums, counts = stats.state()
            tensors |= {f"{STATS}.{k}": v for k, v in sums.items()}
            meta[STATS] = json.dumps(counts)
        meta = {
            "spec": json.dumps(attrs.asdict(p.model.spec)),
            checkpoint.IDENTITY: identity(p.config),
            **meta,
        }
        return tensors, meta

    def save(self, path: Path, step: int, streams: dict[str, Tensor], stats: Stats | None) -> None:
        """Write the checkpoint of ``step`` to ``path`` (atomically: see ``io/checkpoint.py``)."""
        tensors, meta = self.tensors(streams, stats)
        p = self.pipe
        checkpoint.save(path, p.generator, p.critic, self.opt_g, self.opt_d, step, meta, tensors)

    def load(
        self, source: Path, world: distributed.World, cuda_graphs: bool
    ) -> tuple[int, tuple[dict[str, Tensor], dict[str, int]] | None]:
        """Restore everything ``save`` wrote; returns (its step, the unlogged sums and counts for
        ``Stats.load``, or None when none were pending)."""
        p = self.pipe
        unlogged: dict[str, Tensor] = {}
        streams: dict[str, Tensor] = {}
        loaders: dict[str, Loader] = {f"{CALLBACKS}.{name}": cb.load_state_dict for name, cb in p.callbacks}
        loaders |= {f"{MONITORS}.{name}": monitor.load_state_dict for name, monitor in p.monitors}
        loaders |= {f"{SHARED}.{key}": state.load_state_dict for key, state in p.model.shared_states.items()}
        loaders |= {STATS: unlogged.update, distributed.RNG_PREFIX: streams.update}
        meta = checkpoint.load_all(
            source, p.generator, p.critic, self.opt_g, self.opt_d,
            sampled=p.model.sampled_generator, states=loaders,
        )  # fmt: skip
        distributed.restore_rng(world, p.model.device, streams)  # after load_all set rank 0's stream
        for opt in (self.opt_g, self.opt_d):
            for group in opt.param_groups:  # the checkpoint's groups came with the last run's speed settings
                if "capturable" in group:
                    group["capturable"] = cuda_graphs
        pending = None
        if STATS in meta:  # none: nothing was pending (a log row was just written), or an older checkpoint
            counts = json.loads(meta[STATS])
            pending = ({k: unlogged[k] for k in counts}, counts)
        return int(meta["step"]), pending
