"""Scoring a classifier on the shared real photos: right over fitting folders, per folder, and
how often it says "unsure" on hats (none of the ten) and on fitting garments."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ml.photos import Photo
from ml.preprocess import open_image, to_fashion_mnist


def photo_arrays(photos: list[Photo], convert=to_fashion_mnist) -> np.ndarray:
    return np.stack([convert(open_image(p.path)) for p in photos])


@dataclass
class PhotoScore:
    accuracy: float  # over fitting folders
    per_folder: dict[str, float]
    unsure_hat: float
    unsure_fitting: float
    counts: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "accuracy": round(self.accuracy, 4),
            "per_folder": {k: round(v, 4) for k, v in self.per_folder.items()},
            "unsure_hat": round(self.unsure_hat, 4),
            "unsure_fitting": round(self.unsure_fitting, 4),
            "counts": self.counts,
        }


def score_photos(photos: list[Photo], probs: np.ndarray, familiar: np.ndarray, threshold: float) -> PhotoScore:
    """probs [N,10] and familiarity [N] (ml.classifier.familiarity) for photos in the same order;
    unsure where familiarity < threshold."""
    predicted = probs.argmax(1)
    unsure = familiar < threshold
    right = np.array([int(predicted[i]) in p.allowed for i, p in enumerate(photos)])
    fitting = np.array([p.fits for p in photos])
    hat = np.array([p.folder == "hat" for p in photos])
    per_folder, counts = {}, {}
    for folder in sorted({p.folder for p in photos if p.fits}):
        chosen = np.array([p.folder == folder for p in photos])
        per_folder[folder] = float(right[chosen].mean())
        counts[folder] = int(chosen.sum())
    counts["hat"] = int(hat.sum())
    return PhotoScore(
        accuracy=float(right[fitting].mean()) if fitting.any() else 0.0,
        per_folder=per_folder,
        unsure_hat=float(unsure[hat].mean()) if hat.any() else 0.0,
        unsure_fitting=float(unsure[fitting].mean()) if fitting.any() else 0.0,
        counts=counts,
    )


def choose_unsure_threshold(photos: list[Photo], familiar: np.ndarray, max_fitting_unsure: float = 0.15) -> float:
    """Highest familiarity cut that flags at most max_fitting_unsure of fitting photos: as many
    hats as possible are flagged while real garments are mostly answered."""
    fitting = np.array([p.fits for p in photos])
    ranked = np.sort(familiar[fitting])
    k = int(np.floor(max_fitting_unsure * len(ranked)))
    return float(ranked[k]) if k < len(ranked) else float("inf")
