"""Score classifiers on the shared real photos (validation split by default): accuracy over the
folders that fit a Fashion-MNIST class, per folder, and how often "unsure" is said on hats and on
fitting garments, for the app's classifier and for the seed's pipeline (grayscale + resize to
28×28, no conversion) run through the same model.

    .venv/bin/python benchmarks/photos.py [--split validation] [--weights ml/weights]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from ml import Classifier, open_image, photos
from ml.photo_eval import score_photos
from ml.preprocess import to_fashion_mnist


def seed_conversion(img) -> np.ndarray:
    return np.asarray(img.convert("L").resize((28, 28)), dtype=np.uint8)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--split", default="validation")
    parser.add_argument("--weights", default=None)
    args = parser.parse_args()
    if not photos.available():
        raise SystemExit(f"shared clothing photos not found at {photos.photos_dir()}; set ${photos.PHOTOS_ENV}")
    clf = Classifier.load(args.weights, threads=2)
    items = photos.list_photos(args.split)
    images = [open_image(p.path) for p in items]
    threshold = clf.card.unsure_threshold
    print(f"model {clf.version}, {len(items)} photos ({args.split}), unsure below {threshold:.3f} "
          f"({clf.card.unsure_score})")
    print(f"{'pipeline':<22}{'right':>7}  " + "  ".join(f"{f:>8}" for f in photos.FITTING)
          + f"  {'unsure hat':>10} {'unsure fit':>10} {'ms/photo':>9}")
    for name, convert in (("app (dataset conv.)", to_fashion_mnist),
                          ("segment + conversion", lambda i: to_fashion_mnist(i, segment=True)),
                          ("seed (gray+resize)", seed_conversion)):
        started = time.perf_counter()
        arrays = np.stack([convert(img) for img in images])
        ms = (time.perf_counter() - started) / len(images) * 1000
        s = score_photos(items, *clf.assess(arrays), threshold)
        folders = "  ".join(f"{s.per_folder.get(f, 0) * 100:7.0f}%" for f in photos.FITTING)
        print(f"{name:<22}{s.accuracy * 100:6.1f}%  {folders}  {s.unsure_hat * 100:9.0f}% "
              f"{s.unsure_fitting * 100:9.0f}% {ms:9.2f}")


if __name__ == "__main__":
    main()
