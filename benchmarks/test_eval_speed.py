"""How long `evaluate()` takes for 10,000 samples: features and all four metric groups.

Targets: under 30 s on a 2-core CPU, under 2 s on a GPU. The real side is cached (as it is after
the first evaluation on any machine), so what is timed is the per-evaluation cost: embedding the
samples, their Gaussian fit and FID, the 10k x 10k k-NN work and the class histogram.

    GANCORE_DATA=../shared/data pytest benchmarks/test_eval_speed.py --benchmark-only
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

N = 10_000


@pytest.fixture(scope="module")
def samples(mnist_root: Path) -> torch.Tensor:
    from gancore.io.data import load_torchvision_images

    # stand-in for 10,000 generated digits: real training images, as float in [-1, 1]
    images = load_torchvision_images("MNIST", mnist_root, train=True)[0][:N]
    return images.float() / 127.5 - 1


@pytest.mark.parametrize(
    ("device", "budget_s"),
    [
        ("cpu", 30.0),
        pytest.param(
            "cuda",
            2.0,
            marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device"),
        ),
    ],
)
def test_evaluate_10k(
    benchmark, samples: torch.Tensor, mnist_root: Path, device: str, budget_s: float
) -> None:
    from gancore.eval.evaluate import evaluate

    evaluate(samples[:100], data_dir=mnist_root, device=device)  # warm up: real statistics, weights, kernels

    def once() -> dict:
        result = evaluate(samples, data_dir=mnist_root, device=device)
        if device == "cuda":
            torch.cuda.synchronize()
        return result

    result = benchmark.pedantic(once, rounds=3, iterations=1)
    assert result["n_samples"] == N and result["fid"] < 5 and result["classes_covered"] == 10
    assert benchmark.stats.stats.median < budget_s
