"""Every config in experiments/ is a valid run config that selects what its name says."""

from __future__ import annotations

import pytest

from gancore.config import read_toml, resolve
from gancore.plugins import get_registry
from gancore.testing import gan
from gancore.tools import sweep
from tests.conftest import REPO

EXPERIMENTS = sorted((REPO / "experiments").glob("*.toml"))


def test_the_reports_techniques_are_all_there() -> None:
    names = {p.stem for p in EXPERIMENTS}
    assert names >= {
        "vanilla", "vanilla-dropout", "fgan-kl", "fgan-rkl", "fgan-js", "wgan", "wgan-gp", "wgan-gp-conv",
        "lsgan", "cn-lsgan", "lsgan-icr", "vanilla-modeseek", "vanilla-drs", "lsgan-drs", "gmm",
        "vanilla-diffaugment", "ours",
    }  # fmt: skip


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: p.stem)
def test_config_resolves(path) -> None:
    settings = read_toml(path)
    options = settings.pop("options", {})
    config = resolve(get_registry(), settings, options)
    # the reports' fixed generator in every experiment (cmlp: the same MLP, the label embedded in its input)
    assert config.generator == ("cmlp" if path.stem == "conditional" else "mlp")
    assert config.loss in path.stem or path.stem in ("gmm", "ours", "conditional") or config.loss == "vanilla"


def test_recipes_resolve_as_the_reports_used_them() -> None:
    def config(name: str):
        settings = read_toml(REPO / "experiments" / f"{name}.toml")
        return resolve(get_registry(), settings, settings.pop("options", {}))

    assert config("vanilla-dropout").options["dropout"] == 0.3
    kl = config("fgan-kl")
    assert (kl.clip_grad, kl.weight_decay_d, kl.lr_schedule) == (1.0, 1e-4, "decade-warmup")
    assert config("wgan").options["clip_value"] == 0.01 and config("wgan").optimizer == "rmsprop"
    gp = config("wgan-gp-conv")
    assert (gp.critic, gp.n_critic, gp.regs, gp.options["gp_weight"]) == ("conv", 5, ("gp",), 10.0)
    assert config("lsgan-icr").regs == ("icr", "bcr", "zcr")
    assert config("vanilla-modeseek").schedules == ("ms_weight=+0.01/10ep",)
    assert config("vanilla-diffaugment").augment == ("translation", "cutout")
    assert config("lsgan-drs").sampler == "drs" and config("gmm").prior == "gmm"
    assert config("hinge-r1-ema").regs == ("r1",) and config("hinge-r1-ema").callbacks == ("ema",)
    # report 001's rows in the readings that reproduce them (docs/results.md, "The claims")
    assert config("lsgan-sigmoid").options["ls_sigmoid"] and config("cn-lsgan-sigmoid").options["ls_sigmoid"]
    w001 = config("wgan-gp-001")
    assert (w001.loss, w001.regs, w001.callbacks) == ("wgan", ("gp",), ())
    assert (w001.lr_d, w001.lr_g, w001.optimizer) == (4e-4, 4e-4, "adam")
    assert (w001.options["clip_value"], w001.options["gp_weight"], w001.beta2) == (0.0, 10.0, 0.9)
    cond = config("conditional")
    assert (cond.generator, cond.critic, cond.loss) == ("cmlp", "projection", "hinge")


def test_kl_warm_starts_from_js_in_a_sweep(tmp_path) -> None:
    jobs = sweep.plan(EXPERIMENTS, [0], tmp_path)
    order = [j.experiment for j in jobs]
    kl = jobs[order.index("fgan-kl")]
    assert kl.init_from is jobs[order.index("fgan-js")] and order.index("fgan-js") < order.index("fgan-kl")


def test_kl_alone_says_how_to_run_it(tmp_path) -> None:
    code, output = gan("run", "--config", REPO / "experiments" / "fgan-kl.toml", "--out", tmp_path / "kl")
    assert code == 2 and "names another experiment of a sweep" in output, output
    assert not (tmp_path / "kl").exists()
