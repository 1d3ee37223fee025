"""Score the classifier on the shared real photos, each photo against its own class.

Prints per-class recall, the worst class, the confusion matrix, accuracy among answers not flagged
unsure, unsure rates (hats, scored photos, Fashion-MNIST test) and the calibration of the shown
confidence (ECE, reliability table); saves the confusion matrix and the reliability diagram as PNG,
and a contact sheet of the photos with the answers given.

    .venv/bin/python benchmarks/photos.py [--split validation] [--weights ml/weights] [--out runs/photos]

The validation split is reported here, never tuned on: the shipment's choices are made on the
train photos held out of adaptation (`--split held-out` scores those).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from ml import LABELS, Classifier, data, photos
from ml.evaluate import matrix_png
from ml.photo_eval import PhotoScore, photo_arrays, reliability_png, score_photos
from ml.photos import SCORED_CLASSES


def held_out_photos(clf: Classifier) -> list[photos.Photo]:
    names = clf.card.figures.get("photos", {}).get("held_out", [])
    if not names:
        raise SystemExit("this shipment's card names no held-out train photos")
    return [photos.photo_at(name) for name in names]


def print_report(score: PhotoScore, test_unsure: float) -> None:
    print(f"\n{'class':<13}{'photos':>7}{'right':>7}{'recall':>8}")
    for name, row in score.per_class.items():
        print(f"{name:<13}{row['photos']:>7}{row['right']:>7}{row['recall'] * 100:>7.0f}%")
    worst, recall = score.worst_class
    print(f"\nby each photo's own class: {score.accuracy * 100:.1f}% right; worst class {worst} {recall * 100:.0f}%")
    print(f"right among answers not flagged unsure: {score.sure_accuracy * 100:.1f}%")
    print(f"unsure: hats {score.unsure_hat * 100:.0f}% (of {score.hats}), scored photos {score.unsure_scored * 100:.0f}%, "
          f"Fashion-MNIST test {test_unsure * 100:.1f}%")
    print(f"shown confidence on scored photos: ECE {score.ece:.3f}")
    print("  bin        photos  confidence  right")
    for row in score.reliability:
        print(f"  {row['bin'][0]:.1f}-{row['bin'][1]:.1f}  {row['photos']:>8}  {row['confidence'] * 100:>9.0f}%  {row['right'] * 100:>4.0f}%")
    short = [label.split("/")[0][:7] for label in LABELS]
    print("\nconfusion (rows: own class; columns: answer)")
    print(" " * 13 + "".join(f"{s:>8}" for s in short))
    for name, row in zip(SCORED_CLASSES, score.confusion, strict=True):
        print(f"{name:<13}" + "".join(f"{n:>8}" for n in row))


def save_figures(score: PhotoScore, out: Path, title: str) -> None:
    matrix_png(np.array(score.confusion), SCORED_CLASSES,
               f"{title}: {score.accuracy * 100:.1f}% right (rows: own class, columns: answer)", out / "confusion.png")
    reliability_png(score, out / "reliability.png", title)


def contact_sheet(items: list[photos.Photo], answers, out: Path, per_row: int = 10, size: int = 96) -> None:
    """The photos with the answers given: wrong ones red, unsure ones amber, right ones green."""
    from PIL import Image, ImageDraw

    from ml import open_image

    rows = -(-len(items) // per_row)
    sheet = Image.new("RGB", (per_row * size, rows * (size + 24)), "white")
    draw = ImageDraw.Draw(sheet)
    for i, (photo, answer) in enumerate(zip(items, answers, strict=True)):
        thumb = open_image(photo.path, draft_size=size).convert("RGB")
        thumb.thumbnail((size, size))
        x, y = (i % per_row) * size, (i // per_row) * (size + 24)
        sheet.paste(thumb, (x, y))
        colour = "orange" if answer.unsure else "green" if photo.is_right(answer.index) else "red"
        own = LABELS[photo.own_class] if photo.scored else photo.folder
        draw.rectangle((x, y + size, x + size - 1, y + size + 23), fill=colour)
        draw.text((x + 2, y + size + 1), f"{answer.label[:10]} {answer.confidence * 100:.0f}%", fill="white")
        draw.text((x + 2, y + size + 12), f"is {own[:13]}", fill="white")
    sheet.save(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="validation", choices=("validation", "train", "held-out"))
    parser.add_argument("--weights", default=None, help="a shipment folder (default: the shipped one)")
    parser.add_argument("--out", default="runs/photos", help="where the PNGs and the JSON report go")
    args = parser.parse_args()
    if not photos.available():
        raise SystemExit(f"shared clothing photos not found at {photos.photos_dir()}; set ${photos.PHOTOS_ENV}")
    clf = Classifier.load(args.weights, threads=2)
    items = held_out_photos(clf) if args.split == "held-out" else photos.list_photos(args.split)
    answers = clf.predict_explained(photo_arrays(items))
    score = score_photos(items, np.array([a.probs for a in answers]), np.array([a.unsure for a in answers]))
    test_unsure = float(np.mean([a.unsure for a in clf.for_dataset_form.predict_explained(data.load_split("test").images)]))
    print(f"model {clf.version}, {len(items)} photos ({args.split}: {sum(p.scored for p in items)} scored, "
          f"{score.hats} hats); unsure below {clf.card.unsure_threshold:.3f} on the {clf.card.unsure_score} score")
    print_report(score, test_unsure)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    save_figures(score, out, f"{clf.version} ({args.split})")
    contact_sheet(items, answers, out / "contact_sheet.jpg")
    (out / "report.json").write_text(json.dumps({"model": clf.version, "split": args.split, **score.as_dict(),
                                                 "unsure_fashion_mnist_test": round(test_unsure, 4)}, indent=2))
    print(f"\nsaved {out}/confusion.png, reliability.png, contact_sheet.jpg, report.json")


if __name__ == "__main__":
    main()
