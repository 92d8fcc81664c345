"""Lazy regularization (Karras et al., *Analyzing and Improving the Image Quality of StyleGAN*, CVPR
2020): a penalty applied on one iteration in k with its weight multiplied by k, which keeps its average
strength and, in StyleGAN2, saves the cost of k - 1 of every k penalties.

The step may not branch on the step number: under ``--cuda-graphs`` its Python runs once per epoch
and the GPU replays what it launched. So the schedule is a counter tensor on the device, advanced in
place inside the step, and the penalty is multiplied by a gate computed from it (k on scheduled
iterations, 0 on the others). The price: the penalty's gradient is computed on every step, so this
keeps lazy R1's training dynamics but not its saving in compute (skipping the work would need the
engine to run a separate, less frequent step).

The counter counts iterations (generator steps), starting from the step of the first call in this
process (a fresh run's 0 or a resumed run's checkpoint step, read once), so a resumed run follows the
same schedule as an uninterrupted one with nothing saved. It advances on the first critic step after a
generator step: the critic steps call ``gate``, the generator steps ``end_iteration``, which leaves a
pending increment. With one critic step per generator step (StyleGAN2's and Mescheder et al.'s
setting) it is exactly "every k critic steps"; with n critic steps it penalises all n critic steps of
one iteration in k, the same share of critic steps at the same weight.
"""

from __future__ import annotations

import attrs
import torch
from torch import Tensor


@attrs.define
class LazySchedule:
    """A device-side "every k iterations" gate: ``gate`` in each critic step, ``end_iteration`` after."""

    _iteration: Tensor | None = attrs.field(default=None, init=False)
    _pending: Tensor | None = attrs.field(default=None, init=False)

    def tick(self, step: int, device: torch.device) -> Tensor:
        """Called in every critic step: the iteration's index, a device tensor advanced in place.

        The state is created by the first call of the process, at the run's current step. It is kept
        up to date even while the penalty is not lazy, so that an ``r1_every`` raised by ``--schedule``
        in a later epoch finds it (under ``--cuda-graphs`` the first calls run eagerly, before any
        recording, so the creation is never part of a recorded step).
        """
        if self._iteration is None:
            self._iteration = torch.full((), step, dtype=torch.long, device=device)
            self._pending = torch.zeros((), dtype=torch.long, device=device)
        self._iteration.add_(self._pending)
        self._pending.zero_()
        return self._iteration

    def gate(self, every: int, step: int, device: torch.device) -> Tensor:
        """``every`` on one iteration in ``every``, else 0 (float, shape ()); no host read."""
        return (self.tick(step, device) % every == 0).float() * every

    def end_iteration(self) -> None:
        """A generator step happened: the next critic step belongs to the next iteration."""
        if self._pending is not None:
            self._pending.fill_(1)
