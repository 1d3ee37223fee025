"""Real photos: the shipped model's photo figure holds, and segmentation works on made scenes."""

import numpy as np
import pytest
from PIL import Image, ImageDraw

from ml import Classifier, photos
from ml.photo_eval import photo_arrays, score_photos
from ml.preprocess import to_fashion_mnist
from ml.segment import garment_mask


def _scene(background: str, size=(120, 160)):
    """A dark T-shirt shape on a given background: plain, noisy (a bedspread) or striped (a floor)."""
    rng = np.random.default_rng(1)
    h, w = size[1], size[0]
    if background == "plain":
        bg = np.full((h, w, 3), (235, 225, 210), np.float32)
    elif background == "noisy":
        bg = np.full((h, w, 3), (200, 190, 170), np.float32) + rng.normal(0, 12, (h, w, 3))
    else:  # floor boards
        bg = np.full((h, w, 3), (150, 110, 70), np.float32)
        bg[:, ::12] -= 40
    img = Image.fromarray(bg.clip(0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    draw.polygon([(30, 40), (50, 30), (70, 30), (90, 40), (100, 60), (85, 65), (85, 130), (35, 130),
                  (35, 65), (20, 60)], fill=(20, 40, 110))
    truth = Image.new("L", img.size, 0)
    ImageDraw.Draw(truth).polygon([(30, 40), (50, 30), (70, 30), (90, 40), (100, 60), (85, 65), (85, 130),
                                   (35, 130), (35, 65), (20, 60)], fill=255)
    return img, np.asarray(truth) > 0


@pytest.mark.parametrize("background", ["plain", "noisy", "floor"])
def test_segmentation_finds_the_garment(background):
    img, truth = _scene(background)
    mask = garment_mask(np.asarray(img))
    assert mask is not None
    iou = (mask & truth).sum() / (mask | truth).sum()
    assert iou > 0.8, iou


def test_segmentation_gives_up_on_an_empty_scene():
    assert garment_mask(np.full((100, 100, 3), 128, np.uint8)) is None


def test_segmented_conversion_puts_the_garment_on_black():
    img, _ = _scene("floor")
    out = to_fashion_mnist(img, segment=True)
    assert out[0, 0] < 10 and out[:, 0].max() < 10  # the floor is gone, background black
    assert out[14, 14] > 150  # the dark garment is light after negation


def test_shipped_model_meets_its_photo_figure(photos_available, classifier: Classifier):
    card = classifier.card.figures.get("photos", {}).get("validation_subset")
    if card is None:
        pytest.skip("the shipped model card has no photo figures")
    subset = photos.list_photos("validation")[:: card["every"]]
    score = score_photos(subset, *classifier.assess(photo_arrays(subset)), classifier.card.unsure_threshold)
    assert score.accuracy >= card["accuracy"] - 5e-5  # the card rounds to 4 places
    assert abs(score.unsure_hat - card["unsure_hat"]) < 5e-5
