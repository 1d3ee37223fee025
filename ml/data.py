"""Reading the real Fashion-MNIST IDX files and making the fixed train/validation split."""

from __future__ import annotations

import gzip
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DATASET_ENV = "FASHION_MNIST_DIR"
DEFAULT_DATASET_DIR = Path("/usr/share/datasets/fashion-mnist")
INSTALL_HINT = "apt-get update && apt-get install -y dataset-fashion-mnist"
VALIDATION_SIZE = 6000
SPLIT_SEED = 20171025  # fixed so every run validates on the same 6,000 images

_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


class DatasetMissing(FileNotFoundError):
    """The Fashion-MNIST files are not where we looked."""


@dataclass(frozen=True)
class Split:
    images: np.ndarray  # uint8 [N, 28, 28], white garment on black, as published
    labels: np.ndarray  # int64 [N]

    def __len__(self) -> int:
        return len(self.labels)


def dataset_dir(path: str | os.PathLike | None = None) -> Path:
    """The folder holding the IDX files: argument, then $FASHION_MNIST_DIR, then Debian's path."""
    return Path(path or os.environ.get(DATASET_ENV) or DEFAULT_DATASET_DIR)


def _find(folder: Path, stem: str) -> Path:
    for name in (stem + ".gz", stem):
        if (folder / name).is_file():
            return folder / name
    raise DatasetMissing(
        f"Fashion-MNIST file {stem}[.gz] not found in {folder}. Install the dataset with "
        f"`{INSTALL_HINT}` or point ${DATASET_ENV} at a folder holding the IDX files."
    )


def read_idx(path: Path) -> np.ndarray:
    """Parse one IDX file (gzipped or not) into an array of its declared shape."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        raw = fh.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{path} is not an unsigned-byte IDX file")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"{path}: expected {dims} values, found {data.size}")
    return data.reshape(dims)


def load_split(name: str, path: str | os.PathLike | None = None) -> Split:
    """Load "train" (60,000) or "test" (10,000) images and labels."""
    folder = dataset_dir(path)
    images_stem, labels_stem = _FILES[name]
    images = read_idx(_find(folder, images_stem))
    labels = read_idx(_find(folder, labels_stem)).astype(np.int64)
    if len(images) != len(labels):
        raise ValueError(f"{name}: {len(images)} images but {len(labels)} labels")
    return Split(images=images, labels=labels)


def train_validation_split(
    train: Split, validation_size: int = VALIDATION_SIZE, seed: int = SPLIT_SEED
) -> tuple[Split, Split]:
    """The fixed 54,000/6,000 split of the training files; the test files stay untouched."""
    order = np.random.default_rng(seed).permutation(len(train))
    val_idx, train_idx = np.sort(order[:validation_size]), np.sort(order[validation_size:])
    return (
        Split(train.images[train_idx], train.labels[train_idx]),
        Split(train.images[val_idx], train.labels[val_idx]),
    )


def checksums(path: str | os.PathLike | None = None) -> dict[str, str]:
    """SHA-256 of each IDX file, recorded in the model card so a result names its data."""
    folder = dataset_dir(path)
    sums = {}
    for stems in _FILES.values():
        for stem in stems:
            file = _find(folder, stem)
            sums[file.name] = hashlib.sha256(file.read_bytes()).hexdigest()
    return sums
