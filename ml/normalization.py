"""Input normalisation choices (the seed's question, asked again for a 1-channel model).

Plain arithmetic on tensors or arrays: the serving path must not import torch.
"""

from __future__ import annotations

import numpy as np

# mean/std of the 54,000 training images in [0, 1]; ImageNet's channel means collapsed to gray.
NORMALIZATIONS: dict[str, tuple[float, float]] = {
    "dataset": (0.2860, 0.3530),
    "imagenet_gray": (0.449, 0.226),
    "none": (0.0, 1.0),
}


def normalize(x, name: str):
    """(x - mean) / std for a torch tensor or numpy array in [0, 1]."""
    mean, std = NORMALIZATIONS[name]
    return (x - mean) / std


def network_input(images: np.ndarray, name: str) -> np.ndarray:
    """uint8 [N,28,28] → the network's float32 input [N,1,28,28], normalised, contiguous."""
    return np.ascontiguousarray(normalize(images.astype(np.float32) / 255.0, name)[:, None])
