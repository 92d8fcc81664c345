"""``--cuda-graphs`` on a CUDA device: a graphed run logs what the eager run logs, across epoch
boundaries (where the step is recorded again) and through a resume, for every loss, regularizer,
critic step, augmentation, weighting, prior and callback installed; a step that reads the host is
refused in one line. Skipped without CUDA, except the check that the table below covers every
installed component.

Why the metrics agree: a replay draws its latent codes from the same Philox stream at the same
offsets as the eager step (PyTorch advances the default CUDA generator by the recorded step's whole
increment at each replay), and runs the same kernels. On an H200 (2026-11-26, torch 2.11) 19 of the
cases logged the eager run's numbers to the last bit over 40 steps; cn-lsgan differed by 9e-4
relative at most, the conv critic by 2e-7. The tolerance (2e-3) still catches a replay that draws
other random numbers or misses an update, which moves the losses by whole percents.
"""

from __future__ import annotations

import math

import pytest
import torch

from gancore.io.rundir import RunDir
from gancore.plugins import get_registry
from tests.conftest import gan

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

#: 256 tiny images at batch 16: 16 steps per epoch with one critic step, 3 with five
IMAGES = ("--dataset", "tiny-images", "--device", "cuda", "--batch-size", "16", "--precision", "fp32")
#: ring8's labels are its modes: what the conditional networks need
POINTS = ("--dataset", "ring8", "--device", "cuda", "--batch-size", "64", "--precision", "fp32")
AUGMENTATIONS = "flip,translation,cutout,color"
CONDITIONAL = ("--generator", "cmlp", "--critic", "projection", "--latent-dim", "8")

#: case -> flags; between them every installed loss, regularizer, critic step, augmentation,
#: weighting, prior, lr schedule and callback (test_every_component_has_a_case)
CASES: dict[str, tuple[str, ...]] = {
    "vanilla": IMAGES,
    "vanilla bf16": (*IMAGES[:-2], "--precision", "bf16"),
    "vanilla conv": (*IMAGES, "--critic", "conv"),
    "wgan clip": (*IMAGES, "--loss", "wgan", "--monitor", "spectral-product"),
    "wgan-gp": (*IMAGES, "--loss", "wgan-gp", "--monitor", "interp-grad"),
    "hinge spectral norm": (*IMAGES, "--loss", "hinge", "--critic-step", "lipschitz", "--spectral-norm"),
    "lsgan icr": (*IMAGES, "--loss", "lsgan", "--reg", "icr"),
    "cn-lsgan": (*IMAGES, "--loss", "cn-lsgan", "--reg", "cn-gp", "--reg", "cn-l2"),
    "fgan-kl warm-up": (*IMAGES, "--loss", "fgan-kl"),  # recommends the decade-warmup lr schedule
    "vanilla cosine": (*IMAGES, "--lr-schedule", "cosine"),
    "fgan-gan": (*IMAGES, "--loss", "fgan-gan"),
    "fgan-js": (*IMAGES, "--loss", "fgan-js"),
    "fgan-rkl": (*IMAGES, "--loss", "fgan-rkl"),
    "fgan-hellinger": (*IMAGES, "--loss", "fgan-hellinger"),
    "fgan-pearson": (*IMAGES, "--loss", "fgan-pearson"),
    "fgan-tv": (*IMAGES, "--loss", "fgan-tv"),
    "ragan r1 lazy": (*IMAGES, "--loss", "ragan", "--reg", "r1", "--r1-every", "4"),
    "ralsgan r2": (*IMAGES, "--loss", "ralsgan", "--reg", "r2"),
    "hinge r1 ema": (*IMAGES, "--loss", "hinge", "--reg", "r1", "--callback", "ema"),
    "bcr zcr augment": (*IMAGES, "--reg", "bcr", "--reg", "zcr", "--augment", AUGMENTATIONS),
    "modeseek gmm": (*IMAGES, "--reg", "modeseek", "--prior", "gmm"),
    "topk": (*IMAGES, "--weighting", "topk"),
    "ada": (*IMAGES, "--loss", "hinge", "--augment", "ada", "--callback", "ada", "--ada-kimg", "0.5"),
    "conditional": (*POINTS, *CONDITIONAL, "--loss", "hinge", "--reg", "r1"),
}
COVERED_KINDS = ("loss", "regularizer", "critic_step", "monitor", "augmentation", "weighting", "prior")
COVERED_KINDS += ("lr_schedule", "callback")
#: used without being named: defaults, and what a case's loss recommends (wgan-gp: gp; fgan-kl: decade-warmup)
IMPLICIT = {"vanilla", "plain", "normal", "constant", "gp", "decade-warmup"}
NOT_IN_THE_STEP = {"callback": {"tensorboard"}}  # writes files between steps, never inside one
STEPS = 40
#: time columns differ; everything else is computed by the step
UNTIMED = {"time", "it_s"}


def metrics(run, leave_out: tuple[str, ...] = ()) -> list[dict]:
    return [
        {k: v for k, v in row.items() if k not in UNTIMED and not k.startswith(leave_out)}
        for row in RunDir(run).read_metrics()
    ]


def assert_rows_close(eager: list[dict], graphed: list[dict], rel: float) -> float:
    """Equal keys and steps; every value within ``rel``. Returns the largest relative difference."""
    assert [r["step"] for r in graphed] == [r["step"] for r in eager]
    worst = 0.0
    for a, b in zip(eager, graphed, strict=True):
        assert a.keys() == b.keys()
        for key, value in a.items():
            assert math.isfinite(b[key]), (a["step"], key, b[key])
            diff = abs(b[key] - value) / max(abs(value), 1e-3)
            worst = max(worst, diff)
            assert diff <= rel, f"step {a['step']} {key}: eager {value}, graphed {b[key]}"
    return worst


def test_every_component_has_a_case():
    flags = " ".join(" ".join(args) for args in CASES.values()).split()
    named = set(flags) | {part for flag in flags for part in flag.split(",")}
    registry = get_registry()
    for kind in COVERED_KINDS:
        names = {name for name in registry.names(kind) if name not in NOT_IN_THE_STEP.get(kind, set())}
        missing = names - named - IMPLICIT
        assert not missing, f"{kind}: no --cuda-graphs case runs {sorted(missing)}"


@needs_cuda
@pytest.mark.parametrize("case", list(CASES))
def test_graphed_run_logs_what_the_eager_run_logs(tmp_path, tiny_images, case, record_property):
    args = ("run", *CASES[case], "--steps", str(STEPS), "--log-every", "4")
    eager = gan(*args, "--out", tmp_path / "eager")
    assert eager.exit_code == 0, eager.output
    graphed = gan(*args, "--cuda-graphs", "--out", tmp_path / "graphed")
    assert graphed.exit_code == 0, graphed.output
    worst = assert_rows_close(metrics(tmp_path / "eager"), metrics(tmp_path / "graphed"), rel=2e-3)
    record_property("largest_relative_difference", worst)


@needs_cuda
@pytest.mark.parametrize("case", ["vanilla", "wgan-gp", "hinge r1 ema"])
def test_graphed_run_resumes_like_an_uninterrupted_one(tmp_path, tiny_images, case, record_property):
    common = ("run", *CASES[case], "--log-every", "4", "--cuda-graphs")
    whole, split = tmp_path / "whole", tmp_path / "split"
    assert gan(*common, "--steps", str(STEPS), "--out", whole).exit_code == 0
    assert gan(*common, "--steps", str(STEPS // 2), "--out", split).exit_code == 0
    resumed = gan("run", "--resume", split, "--steps", str(STEPS))
    assert resumed.exit_code == 0, resumed.output
    # spectral-product (recommended by wgan-gp) included: its power-iteration vectors are in the checkpoint
    worst = assert_rows_close(metrics(whole), metrics(split), rel=2e-3)
    record_property("largest_relative_difference", worst)


def host_reading_plugin():
    """A plugin whose loss reads its value back inside the step, which a CUDA graph cannot record."""
    from gancore import hookimpl
    from gancore.builtin.losses import Vanilla

    class HostReading(Vanilla):
        name = "host-reading"

        def critic_loss(self, real_out, fake_out):
            loss = super().critic_loss(real_out, fake_out)
            if loss.item() > 1e9:  # a host read: forbidden inside the step
                raise AssertionError
            return loss

    class Plugin:
        @hookimpl
        def gancore_losses(self):
            return [HostReading]

    return Plugin()


@needs_cuda
def test_a_step_that_reads_the_host_is_refused_in_one_line(tmp_path, tiny_images, register_plugin):
    register_plugin(host_reading_plugin(), "host-reading-plugin")
    run = tmp_path / "run"
    result = gan("run", *IMAGES, "--loss", "host-reading", "--steps", "20", "--cuda-graphs", "--out", run)
    assert result.exit_code == 2, result.output
    # the progress bar may have drawn the warm-up steps (run eagerly) before the recording failed
    errors = [line for line in result.output.strip().splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "--cuda-graphs: the step could not be recorded" in errors[0], result.output
