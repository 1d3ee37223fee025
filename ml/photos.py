"""The shared real-photo set (clothing-dataset-small), each photo with its own Fashion-MNIST class.

Photos are read in place from ../shared/data/clothing-photos (or $CLOTHING_PHOTOS_DIR) and never
copied into the project. Judging by folder hid whole classes that were always wrong (every shoe an
"Ankle boot", every shirt a "T-shirt/top"), so each photo carries the classes that are right for
it: one for most, two where a photo sits between classes (a shoe labelled "Sneaker|Ankle boot", an
outdoor jacket that may be a Pullover). Shoes get theirs from `labels/shoes.csv`.
"""

from __future__ import annotations

import csv
import functools
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ml.labels import LABELS

PHOTOS_ENV = "CLOTHING_PHOTOS_DIR"
DEFAULT_PHOTOS_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "clothing-photos"
SHOE_LABELS = Path("labels") / "shoes.csv"

# folder → the right classes for every photo in it (first: the class it is counted under); shoes are
# per photo. An empty tuple means "none of the ten": the right answer is "not one I know".
FOLDER_CLASSES: dict[str, tuple[str, ...]] = {
    "t-shirt": ("T-shirt/top",),
    "pants": ("Trouser",),
    "dress": ("Dress",),
    "shirt": ("Shirt",),  # collared, buttoned: "T-shirt/top" is wrong for them
    "outwear": ("Coat", "Pullover"),  # a hooded sweatshirt or fleece may be a Pullover
    "shoes": (),  # from labels/shoes.csv
    "hat": (),
}
SCORED_FOLDERS = ("t-shirt", "pants", "dress", "shirt", "outwear", "shoes")
OUTLIER_FOLDERS = ("hat",)
NOT_SCORED = ("longsleeve", "shorts", "skirt")  # plausibly several classes, or none: reported apart
SCORED_CLASSES = ("T-shirt/top", "Trouser", "Dress", "Shirt", "Coat", "Sandal", "Sneaker", "Ankle boot")


@dataclass(frozen=True)
class Photo:
    path: Path
    folder: str
    classes: tuple[int, ...] = ()  # right answers (class indices), first the one it is counted under

    @property
    def scored(self) -> bool:
        return bool(self.classes)

    @property
    def outlier(self) -> bool:
        return self.folder in OUTLIER_FOLDERS

    @property
    def own_class(self) -> int:
        """The class this photo is counted under in per-class figures."""
        return self.classes[0]

    def is_right(self, answer: int) -> bool:
        return answer in self.classes

    def relative(self) -> str:
        """split/folder/file, the way run results name held-out photos."""
        return "/".join(self.path.parts[-3:])


def right_classes(items) -> np.ndarray:
    """Bool [N, 10]: the right classes of each photo (anything with .classes); an all-False row is an
    outlier such as a hat. What training's loss and the photo temperature's likelihood both read."""
    mask = np.zeros((len(items), len(LABELS)), dtype=bool)
    for i, item in enumerate(items):
        mask[i, list(item.classes)] = True
    return mask


def photos_dir(path: str | os.PathLike | None = None) -> Path:
    return Path(path or os.environ.get(PHOTOS_ENV) or DEFAULT_PHOTOS_DIR)


def available(path: str | os.PathLike | None = None) -> bool:
    return (photos_dir(path) / "validation").is_dir()


@functools.cache
def shoe_classes(root: Path) -> dict[tuple[str, str], tuple[int, ...]]:
    """(split, file name) → the shoe's classes, from labels/shoes.csv ("Sneaker|Ankle boot": both)."""
    with open(root / SHOE_LABELS, newline="") as f:
        return {(row["split"], row["filename"]): tuple(LABELS.index(c) for c in row["label"].split("|"))
                for row in csv.DictReader(f)}


def classes_of(root: Path, split: str, folder: str, name: str) -> tuple[int, ...]:
    if folder == "shoes":
        return shoe_classes(root).get((split, name), ())
    return tuple(LABELS.index(c) for c in FOLDER_CLASSES.get(folder, ()))


def list_photos(split: str, path: str | os.PathLike | None = None,
                folders: tuple[str, ...] = SCORED_FOLDERS + OUTLIER_FOLDERS) -> list[Photo]:
    """Photos of one split ("train" or "validation") in the given folders, sorted for repeatable
    subsets; each with its right classes (none for hats and the folders that are not scored)."""
    root = photos_dir(path)
    base = root / split
    if not base.is_dir():
        raise FileNotFoundError(f"no clothing photos at {base} (set ${PHOTOS_ENV})")
    return [
        Photo(file, folder, classes_of(root, split, folder, file.name))
        for folder in folders
        if (base / folder).is_dir()
        for file in sorted((base / folder).iterdir())
        if file.suffix.lower() in (".jpg", ".jpeg", ".png", ".webp")
    ]


def photo_at(relative: str, path: str | os.PathLike | None = None) -> Photo:
    """The photo a run result names as split/folder/file."""
    root = photos_dir(path)
    split, folder, name = relative.split("/")
    return Photo(root / relative, folder, classes_of(root, split, folder, name))
