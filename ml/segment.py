"""Separating a garment from the bed, floor or wall it was photographed on.

Fashion-MNIST garments sit alone on a plain background; home photos do not. The border of a
photo is mostly background, so we learn its colours (a few k-means clusters of border pixels),
mark pixels far from all of them as garment, keep the largest blob near the centre and fill
its holes. Everything runs on the ≤112 px working image in numpy/scipy: well under a
millisecond, so photos stay fast. When the mask is implausible we return None and the caller
falls back to the dataset's corner-colour trim.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

BORDER = 3  # pixels of frame sampled as background
CLUSTERS = 4
MIN_AREA, MAX_AREA = 0.04, 0.92  # of the image; outside this the mask is not trusted


def _border_pixels(rgb: np.ndarray) -> np.ndarray:
    b = BORDER
    return np.concatenate([rgb[:b].reshape(-1, 3), rgb[-b:].reshape(-1, 3),
                           rgb[b:-b, :b].reshape(-1, 3), rgb[b:-b, -b:].reshape(-1, 3)])


def _sq_dist(points: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Squared distances [N, k] without a [N, k, 3] temporary: |p|² - 2p·c + |c|²."""
    d = (points * points).sum(1)[:, None] - 2.0 * points @ centres.T + (centres * centres).sum(1)[None]
    return np.maximum(d, 0.0)


def _kmeans(points: np.ndarray, k: int, iterations: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Centres [k,3] and each point's cluster; deterministic start spread along brightness."""
    order = np.argsort(points.sum(axis=1))
    centres = points[order[np.linspace(0, len(points) - 1, k).astype(int)]].copy()
    for _ in range(iterations):
        nearest = _sq_dist(points, centres).argmin(1)
        counts = np.bincount(nearest, minlength=k).astype(np.float32)
        sums = np.stack([np.bincount(nearest, weights=points[:, c], minlength=k) for c in range(3)], 1)
        filled = counts > 0
        centres[filled] = (sums[filled] / counts[filled, None]).astype(np.float32)
    return centres, _sq_dist(points, centres).argmin(1)


def background_distance(rgb: np.ndarray) -> np.ndarray:
    """Per pixel: distance to the nearest border-colour cluster, in units of that cluster's spread."""
    h, w, _ = rgb.shape
    pixels = rgb.astype(np.float32)
    border = _border_pixels(pixels)
    centres, nearest = _kmeans(border, CLUSTERS)
    own = ((border - centres[nearest]) ** 2).sum(1)
    counts = np.bincount(nearest, minlength=len(centres))
    spread2 = np.bincount(nearest, weights=own, minlength=len(centres)) / np.maximum(counts, 1)
    spread2 = np.maximum(spread2, 36.0).astype(np.float32)  # flat backgrounds: sensor noise is not a garment
    d2 = _sq_dist(pixels.reshape(-1, 3), centres) / spread2[None]
    return np.sqrt(d2.min(axis=1)).reshape(h, w)


def _otsu(values: np.ndarray) -> float:
    hist, edges = np.histogram(values, bins=64)
    centres = (edges[:-1] + edges[1:]) / 2
    weight = np.cumsum(hist)
    total = weight[-1]
    mean = np.cumsum(hist * centres)
    between = (mean[-1] * weight / total - mean) ** 2 / np.maximum(weight * (total - weight), 1)
    return float(centres[np.argmax(between)])


def garment_mask(rgb: np.ndarray) -> np.ndarray | None:
    """Boolean mask of the garment in an RGB uint8 array, or None when not found plausibly."""
    h, w, _ = rgb.shape
    if min(h, w) < 4 * BORDER:
        return None
    distance = background_distance(rgb)
    threshold = max(_otsu(distance), 2.5)
    mask = distance > threshold
    mask = ndimage.binary_opening(mask, iterations=1)
    mask = ndimage.binary_closing(mask, iterations=2)
    labels, count = ndimage.label(mask)
    if count == 0:
        return None
    # the garment: the largest blob, weighted towards the centre of the frame
    ys, xs = np.mgrid[0:h, 0:w]
    centrality = 1.0 - (np.abs(ys / h - 0.5) + np.abs(xs / w - 0.5))
    scores = ndimage.sum(centrality, labels, index=np.arange(1, count + 1))
    mask = labels == (int(np.argmax(scores)) + 1)
    mask = ndimage.binary_fill_holes(mask)
    area = mask.mean()
    if not MIN_AREA <= area <= MAX_AREA:
        return None
    return mask
