"""Input normalisation choices (the seed's question, asked again for a 1-channel model)."""

from __future__ import annotations

import torch

# mean/std of the 54,000 training images in [0, 1]; ImageNet's channel means collapsed to gray.
NORMALIZATIONS: dict[str, tuple[float, float]] = {
    "dataset": (0.2860, 0.3530),
    "imagenet_gray": (0.449, 0.226),
    "none": (0.0, 1.0),
}


def normalize(x: torch.Tensor, name: str) -> torch.Tensor:
    mean, std = NORMALIZATIONS[name]
    return (x - mean) / std
