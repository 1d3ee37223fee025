"""Example images for the chat's empty state, cut from the real Fashion-MNIST test set."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image

from ml import data
from ml.labels import LABELS

EXAMPLE_CLASSES = ("T-shirt/top", "Trouser", "Dress", "Coat", "Sneaker", "Bag", "Ankle boot", "Sandal")


def write_examples(out_dir: str | Path, dataset_dir: str | None = None) -> list[dict]:
    """Save the first test image of each example class as a 28×28 PNG plus a manifest."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    test = data.load_split("test", dataset_dir)
    manifest = []
    for name in EXAMPLE_CLASSES:
        index = int((test.labels == LABELS.index(name)).nonzero()[0][0])
        file = f"test-{index:05d}.png"
        Image.fromarray(test.images[index], "L").save(out / file, optimize=True)
        manifest.append({"file": file, "label": name, "test_index": index})
    (out / "examples.json").write_text(json.dumps(manifest, indent=2))
    return manifest
