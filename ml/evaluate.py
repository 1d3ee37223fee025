"""Evaluation on the 10,000 test images: accuracy, per-class accuracy, confusion matrix."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ml import data
from ml.labels import LABELS


@dataclass
class Evaluation:
    accuracy: float
    per_class: dict[str, float]
    confusion: np.ndarray  # [true, predicted] counts
    count: int

    def as_dict(self) -> dict:
        return {
            "accuracy": round(self.accuracy, 5),
            "count": self.count,
            "per_class": {k: round(v, 4) for k, v in self.per_class.items()},
            "confusion": self.confusion.tolist(),
            "labels": list(LABELS),
        }

    def table(self) -> str:
        """The confusion matrix as fixed-width text, rows true, columns predicted."""
        short = [label.split("/")[0][:7] for label in LABELS]
        lines = ["true \\ pred  " + " ".join(f"{s:>7}" for s in short) + "   acc"]
        for i, row in enumerate(self.confusion):
            acc = self.per_class[LABELS[i]]
            lines.append(f"{short[i]:<12} " + " ".join(f"{v:>7d}" for v in row) + f"  {acc:.3f}")
        lines.append(f"accuracy {self.accuracy:.4f} on {self.count} images")
        return "\n".join(lines)


def score(predicted: np.ndarray, truth: np.ndarray) -> Evaluation:
    confusion = np.zeros((10, 10), dtype=np.int64)
    np.add.at(confusion, (truth, predicted), 1)
    per_class = {LABELS[c]: float(confusion[c, c] / max(confusion[c].sum(), 1)) for c in range(10)}
    return Evaluation(float((predicted == truth).mean()), per_class, confusion, len(truth))


def evaluate_test_set(classifier, dataset_dir: str | None = None, batch: int = 2000) -> Evaluation:
    test = data.load_split("test", dataset_dir)
    probs = np.concatenate(
        [classifier.predict_arrays(test.images[i : i + batch]) for i in range(0, len(test), batch)]
    )
    return score(probs.argmax(1), test.labels)


def confusion_png(evaluation: Evaluation, path: str | Path) -> Path:
    """The test set's confusion matrix as a heat map with counts."""
    return matrix_png(evaluation.confusion, LABELS, f"rows: true class, columns: predicted; accuracy {evaluation.accuracy:.4f}",
                      path)


def matrix_png(counts: np.ndarray, row_labels, caption: str, path: str | Path, cell: int = 44) -> Path:
    """A confusion matrix (rows: the right class, columns: the answer, one per LABELS) as a heat map
    with counts, each row shaded by its share (Pillow only: no plotting stack)."""
    counts = np.asarray(counts)
    margin_left, margin_top = 110, 110
    size = (margin_left + cell * len(LABELS) + 10, margin_top + cell * len(row_labels) + 30)
    img = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default()
    rows = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    for j, label in enumerate(LABELS):
        label_img = Image.new("RGB", (margin_top - 8, 14), "white")
        ImageDraw.Draw(label_img).text((0, 0), label, fill="black", font=font)
        img.paste(label_img.rotate(90, expand=True), (margin_left + j * cell + cell // 3, 4))
    for i, label in enumerate(row_labels):
        draw.text((4, margin_top + i * cell + cell // 3), label, fill="black", font=font)
        for j in range(len(LABELS)):
            shade = int(255 * (1 - rows[i, j]))
            box = [margin_left + j * cell, margin_top + i * cell,
                   margin_left + (j + 1) * cell - 1, margin_top + (i + 1) * cell - 1]
            draw.rectangle(box, fill=(shade, shade, 255))
            text_colour = "white" if rows[i, j] > 0.5 else "black"
            draw.text((box[0] + 4, box[1] + cell // 3), str(counts[i, j]), fill=text_colour, font=font)
    draw.text((margin_left, size[1] - 22), caption, fill="black", font=font)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)
    return path
