"""Scoring a classifier on the shared real photos, each against its own class.

Per-class recall, the worst class and a confusion matrix show a class that is always wrong, which
an overall rate averages away; the unsure rates and the calibration error say whether the shown
confidence can be taken at its word."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ml.labels import LABELS
from ml.photos import SCORED_CLASSES, Photo
from ml.preprocess import open_image, to_fashion_mnist, work_size

RELIABILITY_BINS = 10


def photo_arrays(photos: list[Photo], size: int = 28) -> np.ndarray:
    """The photos as a graph of that input size sees them."""
    return np.stack([to_fashion_mnist(open_image(p.path, draft_size=work_size(size)), size) for p in photos])


@dataclass
class PhotoScore:
    accuracy: float  # scored photos, each against its own class(es)
    per_class: dict[str, dict]  # own class → {"photos", "right", "recall"}
    confusion: list[list[int]]  # rows SCORED_CLASSES (own class), columns LABELS (answer)
    unsure_hat: float
    unsure_scored: float
    sure_accuracy: float  # right among scored photos not flagged unsure
    ece: float  # of the shown confidence on scored photos
    reliability: list[dict]  # per confidence bin: photos, mean confidence, share right
    hats: int

    @property
    def worst_class(self) -> tuple[str, float]:
        name = min(self.per_class, key=lambda c: self.per_class[c]["recall"])
        return name, self.per_class[name]["recall"]

    def as_dict(self) -> dict:
        worst, recall = self.worst_class
        return {
            "accuracy": round(self.accuracy, 4),
            "per_class": self.per_class,
            "worst_class": {"class": worst, "recall": round(recall, 4)},
            "unsure_hat": round(self.unsure_hat, 4),
            "unsure_scored": round(self.unsure_scored, 4),
            "sure_accuracy": round(self.sure_accuracy, 4),
            "ece": round(self.ece, 4),
            "hats": self.hats,
            "confusion": self.confusion,
            "reliability": self.reliability,
        }


def score_photos(photos: list[Photo], probs: np.ndarray, unsure: np.ndarray) -> PhotoScore:
    """probs [N,10] (the shown, calibrated probabilities) and unsure [N] for photos in the same order.
    Photos that are neither scored nor hats (longsleeve, shorts, skirt) are left out."""
    answers = probs.argmax(1)
    confidence = probs.max(1)
    unsure = np.asarray(unsure, dtype=bool)
    scored = np.array([p.scored for p in photos], dtype=bool)
    hat = np.array([p.outlier for p in photos], dtype=bool)
    right = np.array([p.is_right(int(a)) for p, a in zip(photos, answers, strict=True)], dtype=bool)
    own = np.array([p.own_class if p.scored else -1 for p in photos])

    per_class, confusion = {}, []
    for name in SCORED_CLASSES:
        chosen = own == LABELS.index(name)
        n = int(chosen.sum())
        if n:
            per_class[name] = {"photos": n, "right": int(right[chosen].sum()), "recall": round(float(right[chosen].mean()), 4)}
        confusion.append(np.bincount(answers[chosen], minlength=len(LABELS)).tolist())
    sure = scored & ~unsure
    return PhotoScore(
        accuracy=_mean(right[scored]),
        per_class=per_class,
        confusion=confusion,
        unsure_hat=_mean(unsure[hat]),
        unsure_scored=_mean(unsure[scored]),
        sure_accuracy=_mean(right[sure]),
        ece=calibration_error(confidence[scored], right[scored]),
        reliability=reliability(confidence[scored], right[scored]),
        hats=int(hat.sum()),
    )


def calibration_error(confidence: np.ndarray, right: np.ndarray, bins: int = RELIABILITY_BINS) -> float:
    """Expected calibration error: the photo-weighted gap between shown confidence and share right."""
    return float(sum(row["photos"] * abs(row["right"] - row["confidence"]) for row in reliability(confidence, right, bins))
                 / max(len(confidence), 1))


def reliability(confidence: np.ndarray, right: np.ndarray, bins: int = RELIABILITY_BINS) -> list[dict]:
    """Equal-width confidence bins: how many photos, their mean shown confidence, the share right."""
    edges = np.linspace(0, 1, bins + 1)
    rows = []
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        chosen = (confidence > lo) & (confidence <= hi)
        if chosen.any():
            rows.append({"bin": [round(float(lo), 2), round(float(hi), 2)], "photos": int(chosen.sum()),
                         "confidence": round(float(confidence[chosen].mean()), 4),
                         "right": round(float(right[chosen].mean()), 4)})
    return rows


def _mean(values: np.ndarray) -> float:
    return float(values.mean()) if values.size else 0.0


def reliability_png(score: PhotoScore, path, title: str, size: int = 360) -> None:
    """Reliability diagram: per confidence bin, the share right (bar) against the diagonal of a
    perfectly calibrated confidence, with each bin's photo count (Pillow only)."""
    from PIL import Image, ImageDraw

    pad = 40
    img = Image.new("RGB", (size + 2 * pad, size + 2 * pad), "white")
    draw = ImageDraw.Draw(img)
    x0, y0 = pad, pad + size  # the plot's origin, bottom left

    def at(conf: float, share: float) -> tuple[float, float]:
        return x0 + conf * size, y0 - share * size

    draw.rectangle((x0, pad, x0 + size, y0), outline="black")
    for row in score.reliability:
        lo, hi = row["bin"]
        draw.rectangle((*at(lo + 0.005, row["right"]), *at(hi - 0.005, 0)), fill=(110, 150, 220))
        draw.text(at(lo + 0.02, 0.04), str(row["photos"]), fill="black")
        cx, cy = at(row["confidence"], row["right"])
        draw.ellipse((cx - 3, cy - 3, cx + 3, cy + 3), fill="black")
    draw.line((*at(0, 0), *at(1, 1)), fill="gray", width=1)
    draw.text((pad, 8), f"{title}: ECE {score.ece:.3f}", fill="black")
    draw.text((pad, y0 + 8), "shown confidence (0 to 1) -> ; bars: share right; dots: mean confidence", fill="black")
    img.save(path)


def choose_unsure_threshold(photos: list[Photo], confidence: np.ndarray, max_scored_unsure: float = 0.15) -> float:
    """The highest cut on shown confidence that flags at most max_scored_unsure of the scored photos:
    as many hats as possible are flagged while real garments are mostly answered."""
    scored = np.array([p.scored for p in photos], dtype=bool)
    ranked = np.sort(confidence[scored])
    k = int(np.floor(max_scored_unsure * len(ranked)))
    return float(ranked[k]) if k < len(ranked) else float("inf")
