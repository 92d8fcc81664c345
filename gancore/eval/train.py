"""`gan evaluator train`: the reproducible recipe behind the shipped feature networks.

Recipe (``RECIPE``): seed 0; DigitCNN; Adam, peak learning rate 2e-3, linear warm-up over the first
half epoch then cosine decay to 0; batch 128; 4 epochs over the 60,000 training images; each batch
lightly and randomly rotated (+-10 deg), scaled (0.9-1.1) and shifted (+-2 px); dropout 0.25 before
the last layer. Every random draw comes from one seeded generator and deterministic kernels are
enforced, so the same torch version, device and thread count give the same bytes.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from gancore.eval.features import DigitCNN, FeatureNetSpec

RECIPE = {
    "seed": 0,
    "epochs": 4,
    "batch_size": 128,
    "lr": 2e-3,
    "warmup_epochs": 0.5,
    "rotate_deg": 10.0,
    "scale": 0.1,
    "shift_px": 2.0,
}


def to_unit(images: Tensor) -> Tensor:
    """uint8 pixels to the [-1, 1] floats the generators produce."""
    return images.float().div(127.5).sub(1.0)


def augment(x: Tensor, g: torch.Generator) -> Tensor:
    """Random small rotation, scaling and shift of [-1, 1] images; the background stays -1."""
    n, _, h, _ = x.shape
    angle = (torch.rand(n, generator=g) * 2 - 1) * math.radians(RECIPE["rotate_deg"])
    scale = 1 + (torch.rand(n, generator=g) * 2 - 1) * RECIPE["scale"]
    shift = (torch.rand(n, 2, generator=g) * 2 - 1) * (2 * RECIPE["shift_px"] / h)
    cos, sin = angle.cos() / scale, angle.sin() / scale
    theta = torch.stack(
        [torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1
    )
    grid = F.affine_grid(theta.to(x.device), list(x.shape), align_corners=False)
    # sample x + 1 so that the zero padding outside the image is the -1 background
    return F.grid_sample(x + 1, grid, align_corners=False, padding_mode="zeros") - 1


def accuracy(model: torch.nn.Module, images: Tensor, labels: Tensor, batch_size: int = 1000) -> float:
    """Top-1 accuracy on uint8 images."""
    device = next(model.parameters()).device
    model.eval()
    correct = 0
    with torch.inference_mode():
        for start in range(0, len(images), batch_size):
            x = to_unit(images[start : start + batch_size].to(device))
            correct += (model(x).argmax(1).cpu() == labels[start : start + batch_size]).sum().item()
    return correct / len(images)


def train(
    spec: FeatureNetSpec,
    root: Path,
    device: torch.device,
    epochs: int = RECIPE["epochs"],
    seed: int = RECIPE["seed"],
    log: Callable[[str], None] = print,
) -> tuple[DigitCNN, float]:
    """Train the dataset's feature network by ``RECIPE``; return it and its test accuracy."""
    from gancore.io.data import load_torchvision_images

    train_x, train_y = load_torchvision_images(spec.folder, root, train=True)
    test_x, test_y = load_torchvision_images(spec.folder, root, train=False)
    was_deterministic = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        torch.manual_seed(seed)
        g = torch.Generator().manual_seed(seed)
        model = DigitCNN(spec.image_shape, spec.num_classes).to(device)
        bs = RECIPE["batch_size"]
        per_epoch = len(train_x) // bs  # the ragged last batch is dropped
        total = epochs * per_epoch
        warmup = max(1, int(RECIPE["warmup_epochs"] * per_epoch))
        opt = torch.optim.Adam(model.parameters(), lr=RECIPE["lr"])

        def lr_factor(step: int) -> float:
            if step < warmup:
                return (step + 1) / warmup
            return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))

        sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_factor)
        x_all, y_all = train_x.to(device), train_y.to(device)
        for epoch in range(epochs):
            model.train()
            start = time.perf_counter()
            order = torch.randperm(len(train_x), generator=g).to(device)
            running = torch.zeros((), device=device)
            for i in range(per_epoch):
                idx = order[i * bs : (i + 1) * bs]
                x = augment(to_unit(x_all[idx]), g)
                loss = F.cross_entropy(model(x), y_all[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                running += loss.detach()
            acc = accuracy(model, test_x, test_y)
            log(
                f"epoch {epoch + 1}/{epochs}: loss {running.item() / per_epoch:.4f}, test accuracy"
                f" {acc:.4%} ({time.perf_counter() - start:.0f} s)"
            )
    finally:
        torch.use_deterministic_algorithms(was_deterministic)
    return model, acc


def build(
    spec: FeatureNetSpec,
    root: Path,
    out: Path,
    device: torch.device,
    epochs: int = RECIPE["epochs"],
    seed: int = RECIPE["seed"],
    log: Callable[[str], None] = print,
) -> tuple[str, float]:
    """Train by the recipe and write ``out``; return its sha256 and test accuracy."""
    from gancore.eval.features import save_weights

    model, acc = train(spec, root, device, epochs, seed, log)
    info = {
        "dataset": spec.dataset,
        "image_shape": list(spec.image_shape),
        "num_classes": spec.num_classes,
        "recipe": {**RECIPE, "epochs": epochs, "seed": seed},
        "test_accuracy": round(acc, 6),
        "torch": torch.__version__,
    }
    return save_weights(model, out, info), acc
