"""ADA through the CLI: p climbs on data the critic overfits and is logged; a run stopped and resumed
equals an uninterrupted one, p included; the augmentation without its callback is refused."""

from __future__ import annotations

import json

import pytest
from safetensors.torch import load_file

from gancore.testing import gan, train

pytestmark = pytest.mark.usefixtures("one_thread", "ada_plugin")

#: small networks on the made-up 16x16 squares; p can go from 0 to 1 in 2,000 images (31 steps of 64)
ARGS = ("--dataset", "ada-squares", "--generator", "toy", "--critic", "toy", "--toy-width", "64",
        "--latent-dim", "16", "--augment", "ada", "--callback", "ada", "--ada-kimg", "2",
        "--lr-d", "2e-3")  # fmt: skip


def test_p_rises_as_the_critic_learns_and_is_logged(tmp_path):
    # slower than ARGS: p can move 0.64 at most in these 200 steps
    rows = train(tmp_path / "run", *ARGS, "--ada-kimg", "20", "--steps", "200", batch_size=64, log_every=50)
    ps = [r["ada/p"] for r in rows]
    assert 0 < ps[0] < ps[-1] <= 0.64, ps  # the critic separates the squares at once: r_t > 0.6
    assert all(0 <= r["ada/rt"] <= 1 for r in rows[1:])


def test_a_resumed_run_equals_an_uninterrupted_one(tmp_path):
    whole, split = tmp_path / "whole", tmp_path / "split"
    train(whole, *ARGS, "--steps", "120", batch_size=64, log_every=40)
    train(split, *ARGS, "--steps", "60", batch_size=64, log_every=40)  # a resume in mid-interval, mid-row
    code, output = gan("run", "--resume", split, "--steps", "120")
    assert code == 0, output
    a, b = (load_file(run / "checkpoints/last.safetensors") for run in (whole, split))
    assert a.keys() == b.keys() and "shared.gan-ada.p" in a
    assert all(a[k].equal(b[k]) for k in a), [k for k in a if not a[k].equal(b[k])]
    assert 0 < float(a["shared.gan-ada.p"]) <= 1
    rows = [json.loads((run / "metrics.jsonl").read_text().splitlines()[-1]) for run in (whole, split)]
    for row in rows:
        del row["time"], row["it_s"]
    assert rows[0] == rows[1] and rows[0]["ada/p"] > 0


def test_the_augmentation_alone_is_refused_in_one_line(tmp_path):
    out = tmp_path / "r"
    code, output = gan("run", "--dataset", "ada-squares", "--augment", "ada", "--steps", "2", "--out", out)
    assert code == 2
    assert output.strip() == "error: augmentation 'ada' works only with callback 'ada'; add --callback ada"
    assert not out.exists()


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--ada-target", "1.5", "--ada-target must be in (0, 1), got 1.5"),
        ("--ada-interval", "0", "--ada-interval must be positive, got 0"),
        ("--ada-kimg", "-1", "--ada-kimg must be positive, got -1.0"),
    ],
)
def test_a_bad_option_is_one_line_naming_the_flag(tmp_path, flag, value, message):
    out = tmp_path / "r"
    code, output = gan("run", *ARGS, flag, value, "--steps", "2", "--out", out)
    assert code == 2 and output.strip() == f"error: callback 'ada': {message}", output
    assert not out.exists()
