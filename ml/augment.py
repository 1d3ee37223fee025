"""Batch-level augmentations on uint8-derived float tensors, vectorised so they cost little next
to the convolutions (no per-image Python loop, no DataLoader workers on a 2-core machine).

Random draws come from a CPU generator whatever device the images are on, so a seed gives the
same augmentations on a CPU and on a GPU."""

from __future__ import annotations

import torch


def random_translate(x: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """Shift each image by up to max_shift pixels in x and y, filling with background (zeros)."""
    if max_shift <= 0:
        return x
    n, c, h, w = x.shape
    padded = torch.nn.functional.pad(x, (max_shift,) * 4)
    dy = torch.randint(0, 2 * max_shift + 1, (n,), generator=generator).to(x.device)
    dx = torch.randint(0, 2 * max_shift + 1, (n,), generator=generator).to(x.device)
    rows = (torch.arange(h, device=x.device)[None, :] + dy[:, None])[:, None, :, None]
    cols = (torch.arange(w, device=x.device)[None, :] + dx[:, None])[:, None, None, :]
    shifted_rows = padded.gather(2, rows.expand(n, c, h, w + 2 * max_shift))
    return shifted_rows.gather(3, cols.expand(n, c, h, w))


def random_hflip(x: torch.Tensor, generator: torch.Generator, p: float = 0.5) -> torch.Tensor:
    flip = (torch.rand(x.shape[0], generator=generator) < p).to(x.device)
    return torch.where(flip[:, None, None, None], x.flip(3), x)


def random_erase(
    x: torch.Tensor,
    generator: torch.Generator,
    p: float = 0.5,
    area: tuple[float, float] = (0.02, 0.25),
    value: float = 0.0,
) -> torch.Tensor:
    """Random erasing (Zhong et al. 2017): blank one rectangle per chosen image."""
    n, _, h, w = x.shape
    frac = torch.empty(n).uniform_(*area, generator=generator)
    aspect = torch.exp(torch.empty(n).uniform_(-1.2, 1.2, generator=generator))
    eh = (torch.sqrt(frac * h * w * aspect)).clamp(1, h).long()
    ew = (torch.sqrt(frac * h * w / aspect)).clamp(1, w).long()
    top = (torch.rand(n, generator=generator) * (h - eh + 1)).long()
    left = (torch.rand(n, generator=generator) * (w - ew + 1)).long()
    ys = torch.arange(h)[None, :]
    xs = torch.arange(w)[None, :]
    in_rows = (ys >= top[:, None]) & (ys < (top + eh)[:, None])
    in_cols = (xs >= left[:, None]) & (xs < (left + ew)[:, None])
    chosen = torch.rand(n, generator=generator) < p
    mask = (in_rows[:, :, None] & in_cols[:, None, :]) & chosen[:, None, None]
    return x.masked_fill(mask[:, None].to(x.device), value)
