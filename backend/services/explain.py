"""What the model saw, made on demand for one answer: the 28×28 image it was given, and an
occlusion map of what moved the answer (no gradients: the shipped graphs are inference-only)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from backend.services.inference import InferenceEngine
from ml import is_fashion_mnist_form, open_image, to_fashion_mnist

PATCH = 6   # pixels of the 28×28 image covered at a time
STRIDE = 2  # 12 × 12 = 144 covered copies, a few batches of the model


def model_input(source: bytes | Path) -> tuple[np.ndarray, bool]:
    """The stored photo as the answer was made from it: uint8 [28, 28], and whether it came in
    Fashion-MNIST form (which graph answered)."""
    image = open_image(source)
    return to_fashion_mnist(image), is_fashion_mnist_form(image)


def occlusion(engine: InferenceEngine, pixels: np.ndarray, dataset_form: bool, index: int) -> np.ndarray:
    """How much the class `index` loses, per pixel, when a patch around it is covered with the
    background (black, as in Fashion-MNIST): float [28, 28] in 0..1."""
    starts = range(0, 28 - PATCH + 1, STRIDE)
    boxes = [(top, left) for top in starts for left in starts]
    batch = np.repeat(pixels[None], len(boxes) + 1, axis=0)
    for i, (top, left) in enumerate(boxes, start=1):
        batch[i, top : top + PATCH, left : left + PATCH] = 0
    # one batch straight to the classifier (run from a worker thread), not through the serving
    # batcher: its metrics count the photos people sent, not these copies
    answers = engine.classifier.predict_routed(batch, np.full(len(batch), dataset_form))
    base = answers[0].probs[index]
    loss, covered = np.zeros((28, 28)), np.zeros((28, 28))
    for (top, left), answer in zip(boxes, answers[1:], strict=True):
        loss[top : top + PATCH, left : left + PATCH] += max(0.0, base - answer.probs[index])
        covered[top : top + PATCH, left : left + PATCH] += 1
    heat = loss / np.maximum(covered, 1)
    return heat / heat.max() if heat.max() > 0 else heat


def png(pixels: np.ndarray, heat: np.ndarray | None = None) -> bytes:
    """The 28×28 image as a PNG; with heat, the image dimmed and what mattered in red over it."""
    if heat is None:
        image = Image.fromarray(pixels, "L")
    else:
        grey = pixels.astype(np.float32) * 0.55
        rgb = np.stack([grey + (255 - grey) * heat, grey * (1 - heat), grey * (1 - heat)], axis=-1)
        image = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8), "RGB")
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()
