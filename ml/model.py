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
    """28×28×1 → 10 logits. Stages: 28 → 14 (+res) → 7 → 3 (+res) → pooled features."""

    def __init__(self, width: int = DEFAULT_WIDTH, num_classes: int = 10) -> None:
        super().__init__()
        w = width
        self.width = width
        self.features = nn.Sequential(
            conv_bn(1, w),
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


def build_model(width: int = DEFAULT_WIDTH) -> ClosetNet:
    return ClosetNet(width=width)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
