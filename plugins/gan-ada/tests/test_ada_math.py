"""ADA's two halves by hand: p moves by batch * interval / (kimg * 1000) toward the target, only
every interval steps, within [0, 1]; the augmentation is the identity at p = 0 and the three
transforms in turn at p = 1."""

from __future__ import annotations

import pytest
import torch
from gan_ada.ada import AdaAugment, AdaController, AdaState
from torch import nn

from gancore import CriticStepResult, DataSpec, GANModel, StepLosses, cutout, translate
from gancore.testing import Normal, Vanilla


def model() -> GANModel:
    spec = DataSpec((1, 8, 8), "image")
    return GANModel(nn.Identity(), nn.Identity(), Normal(), Vanilla(), 2, spec, torch.device("cpu"))


def result(real_out: torch.Tensor) -> CriticStepResult:
    zero = torch.zeros(())
    losses = StepLosses(adversarial=zero, weighted=None, terms={}, total=zero)
    return CriticStepResult(losses, real_out, -real_out, torch.zeros(len(real_out), 1, 8, 8), zero)


@pytest.fixture
def controlled():
    m = model()
    controller = AdaController(ada_target=0.6, ada_interval=4, ada_kimg=0.1)  # 100 images from 0 to 1
    augment = AdaAugment()
    controller.check(m)
    augment.check(m)
    return m, controller, augment


def test_p_rises_by_the_images_seen_when_the_critic_is_too_sure(controlled):
    m, controller, augment = controlled
    state = m.shared(AdaState)
    assert augment._state is state is controller._state  # one object, shared through the model
    sure = torch.tensor([2.0, 1.0, 0.5, 3.0, 1.0])  # r_t = 1 > 0.6
    ps = [float(controller.after_critic_step(m, result(sure))["p"]) for _ in range(8)]
    step = 4 * 5 / 100  # interval * batch / (kimg * 1000)
    assert ps == pytest.approx([0, 0, 0, step, step, step, step, 2 * step])
    assert float(state.rt) == 1.0 and float(state.steps) == 0 and float(state.seen) == 0


def test_p_falls_when_the_critic_is_unsure_and_stays_in_the_unit_interval(controlled):
    m, controller, _ = controlled
    state = m.shared(AdaState)
    state.p.fill_(0.05)
    mixed = torch.tensor([1.0, -1.0, 1.0, -1.0, 1.0])  # r_t = 0.2 < 0.6
    for _ in range(4):
        out = controller.after_critic_step(m, result(mixed))
    assert float(out["rt"]) == pytest.approx(0.2) and float(out["p"]) == 0.0  # 0.05 - 0.2, clamped
    state.p.fill_(0.95)
    for _ in range(4):
        out = controller.after_critic_step(m, result(torch.ones(5)))
    assert float(out["p"]) == 1.0


def test_the_augmentation_is_the_identity_at_p0_and_every_transform_at_p1(controlled):
    m, _, augment = controlled
    x = torch.rand(6, 1, 8, 8) * 2 - 1
    torch.manual_seed(1)
    assert augment(x).equal(x)
    m.shared(AdaState).p.fill_(1.0)
    torch.manual_seed(1)
    got = augment(x)
    torch.manual_seed(1)
    want = x.flip(-1)
    torch.rand(6)  # the draws the augmentation makes, in its order: a choice per image after each
    want = translate(want)
    torch.rand(6)
    want = cutout(want)
    assert got.equal(want) and not got.equal(x)


def test_a_second_state_class_with_the_same_key_is_refused():
    m = model()
    m.shared(AdaState)

    class Other(AdaState):
        pass

    with pytest.raises(Exception, match="claimed by both"):
        m.shared(Other)
