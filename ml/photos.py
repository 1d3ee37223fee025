"""The shared real-photo set (clothing-dataset-small): folders, and which classes count as right.

Photos are read in place from ../shared/data/clothing-photos (or $CLOTHING_PHOTOS_DIR) and never
copied into the project. A folder that fits several classes is a set of allowed labels.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ml.labels import LABELS

PHOTOS_ENV = "CLOTHING_PHOTOS_DIR"
DEFAULT_PHOTOS_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "clothing-photos"

# folder → allowed Fashion-MNIST class names; an empty set means "none of the ten" (answer unsure)
ALLOWED: dict[str, frozenset[str]] = {
    "t-shirt": frozenset({"T-shirt/top"}),
    "pants": frozenset({"Trouser"}),
    "dress": frozenset({"Dress"}),
    "shoes": frozenset({"Sandal", "Sneaker", "Ankle boot"}),
    "outwear": frozenset({"Coat", "Pullover"}),
    "shirt": frozenset({"Shirt", "T-shirt/top"}),
    "hat": frozenset(),
}
FITTING = tuple(folder for folder, allowed in ALLOWED.items() if allowed)
NOT_SCORED = ("longsleeve", "shorts", "skirt")


@dataclass(frozen=True)
class Photo:
    path: Path
    folder: str

    @property
    def allowed(self) -> frozenset[int]:
        return frozenset(LABELS.index(name) for name in ALLOWED[self.folder])

    @property
    def fits(self) -> bool:
        return bool(ALLOWED.get(self.folder))


def photos_dir(path: str | os.PathLike | None = None) -> Path:
    return Path(path or os.environ.get(PHOTOS_ENV) or DEFAULT_PHOTOS_DIR)


def available(path: str | os.PathLike | None = None) -> bool:
    return (photos_dir(path) / "validation").is_dir()


def list_photos(split: str, path: str | os.PathLike | None = None, folders=tuple(ALLOWED)) -> list[Photo]:
    """Scored photos of one split ("train" or "validation"), sorted for repeatable subsets."""
    root = photos_dir(path) / split
    if not root.is_dir():
        raise FileNotFoundError(f"no clothing photos at {root} (set ${PHOTOS_ENV})")
    return [
        Photo(file, folder)
        for folder in folders
        if (root / folder).is_dir()
        for file in sorted((root / folder).iterdir())
        if file.suffix.lower() in (".jpg", ".jpeg", ".png", ".webp")
    ]
