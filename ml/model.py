"""The network: a small residual CNN shaped for 28×28 grayscale garments.

Why this shape: full-resolution 3×3 convolutions are where the CPU time goes, so the first stage
is narrow and every later stage halves the grid before widening (ResNet-9 style, as in the
DAWNBench CIFAR-10 entries). Residual blocks at 14×14, 7×7 and 3×3 give depth where it is cheap,
global max+mean pooling keeps the features of small garments, and batch norm lets a high
learning rate converge in tens of epochs. Width is the one knob.
"""

from __future__ import annotations

import torch
from torch import nn

DEFAULT_WIDTH = 32
ARCHITECTURE = "closetnet"


def conv_bn(c_in: int, c_out: int, relu: bool = True) -> nn.Sequential:
    layers = [nn.Conv2d(c_in, c_out, kernel_size=3, padding=1, bias=False), nn.BatchNorm2d(c_out)]
    return nn.Sequential(*layers, nn.ReLU(inplace=True)) if relu else nn.Sequential(*layers)


class Residual(nn.Module):
    """conv-bn-relu then conv-bn, added back onto the input.

    The branch starts at zero (its last batch norm's scale is 0) so the block starts as the
    identity, stable at high learning rates. No ReLU may follow that batch norm: ReLU's gradient
    at exactly 0 is 0, so the scale and shift would never move and the branch would stay dead,
    which is what happened to every ClosetNet trained before 2026-11-25 (their residual branches
    output zeros; the same weights load and answer the same here).
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(conv_bn(channels, channels), conv_bn(channels, channels, relu=False))
        nn.init.zeros_(self.body[1][1].weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ClosetNet(nn.Module):
    """28×28×1 → 10 logits. Stages: 28 → 14 (+res) → 7 → 3 (+res) → pooled features.

    input_size 56: the same network behind a space-to-depth stem (each 2×2 block of a 56×56 image
    becomes 4 channels of a 28×28 one), so a photo can be seen at twice the detail while every
    layer after the stem keeps its shape and its trained weights. widen_stem() starts it from a
    28-px network exactly: on an image upsampled from 28×28 (every pixel a 2×2 block, how
    Fashion-MNIST images are given to it) it gives the same logits."""

    def __init__(self, width: int = DEFAULT_WIDTH, num_classes: int = 10, input_size: int = 28) -> None:
        super().__init__()
        w = width
        self.width = width
        self.input_size = input_size
        stem = conv_bn(1, w) if input_size == 28 else nn.Sequential(nn.PixelUnshuffle(2), *conv_bn(4, w))
        self.features = nn.Sequential(
            stem,
            conv_bn(w, 2 * w),
            nn.MaxPool2d(2),  # 14×14
            Residual(2 * w),
            conv_bn(2 * w, 4 * w),
            nn.MaxPool2d(2),  # 7×7
            Residual(4 * w),
            conv_bn(4 * w, 8 * w),
            nn.MaxPool2d(2),  # 3×3
            Residual(8 * w),
        )
        self.head = nn.Sequential(nn.Dropout(0.1), nn.Linear(16 * w, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.features(x)
        pooled = torch.cat([f.amax(dim=(2, 3)), f.mean(dim=(2, 3))], dim=1)
        return self.head(pooled)


def build_model(width: int = DEFAULT_WIDTH, input_size: int = 28) -> ClosetNet:
    if input_size not in (28, 56):
        raise ValueError(f"input_size is 28 or 56, not {input_size}")
    return ClosetNet(width=width, input_size=input_size)


def widen_stem(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A 28-px network's weights for the 56-px one: the first convolution's weights spread evenly
    over the 4 channels of each 2×2 block (so a block of four equal pixels acts as the one pixel
    did), the stem's batch norm moved to its new place."""
    out = {}
    for key, value in state.items():
        if key == "features.0.0.weight":
            out["features.0.1.weight"] = value.repeat(1, 4, 1, 1) / 4
        elif key.startswith("features.0.1."):
            out["features.0.2." + key.removeprefix("features.0.1.")] = value
        else:
            out[key] = value
    return out


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
