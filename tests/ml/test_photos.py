"""Real photos: each photo judged against its own class, and the shipped model's photo figures hold."""

import numpy as np
import pytest

from ml import LABELS, SURE_CONFIDENCE, Classifier, photos
from ml.photo_eval import calibration_error, choose_unsure_threshold, photo_arrays, score_photos


def _onehot(indices, confidence=0.9):
    """Probabilities whose answer is each given class, at the given confidence."""
    probs = np.full((len(indices), len(LABELS)), (1 - confidence) / (len(LABELS) - 1))
    probs[np.arange(len(indices)), indices] = confidence
    return probs


def test_every_scored_photo_has_its_own_class(photos_available):
    train = photos.list_photos("train")
    shoes = [p for p in train if p.folder == "shoes"]
    assert shoes and all(p.scored for p in shoes)
    shoe_classes = {LABELS[p.own_class] for p in shoes}
    assert shoe_classes == {"Sandal", "Sneaker", "Ankle boot"}
    assert any(len(p.classes) == 2 for p in shoes)  # "Sneaker|Ankle boot": either is right
    shirt = next(p for p in train if p.folder == "shirt")
    assert [LABELS[c] for c in shirt.classes] == ["Shirt"]  # a T-shirt/top answer is wrong for it
    assert not shirt.is_right(LABELS.index("T-shirt/top"))
    hat = next(p for p in train if p.folder == "hat")
    assert hat.outlier and not hat.scored
    assert not any(p.folder in photos.NOT_SCORED for p in train)


def test_score_counts_each_photo_under_its_own_class(photos_available):
    shoes = [p for p in photos.list_photos("validation", folders=("shoes",)) if len(p.classes) == 1]
    sandal = next(p for p in shoes if LABELS[p.own_class] == "Sandal")
    sneaker = next(p for p in shoes if LABELS[p.own_class] == "Sneaker")
    hat = photos.list_photos("validation", folders=("hat",))[0]
    items = [sandal, sneaker, hat]
    boot = LABELS.index("Ankle boot")
    score = score_photos(items, _onehot([boot, LABELS.index("Sneaker"), boot]), np.array([False, False, True]))
    assert score.per_class["Sandal"] == {"photos": 1, "right": 0, "recall": 0.0}  # a sandal called a boot is wrong
    assert score.per_class["Sneaker"]["recall"] == 1.0
    assert score.worst_class == ("Sandal", 0.0)
    assert score.accuracy == 0.5
    assert score.unsure_hat == 1.0 and score.unsure_scored == 0.0
    assert score.confusion[list(photos.SCORED_CLASSES).index("Sandal")][boot] == 1
    assert score.ece == pytest.approx(abs(0.9 - 0.5))


def test_calibration_error_is_zero_when_confidence_matches_the_share_right():
    confidence = np.array([0.75] * 4 + [0.95] * 20)
    right = np.array([True, True, True, False] + [True] * 19 + [False])
    assert calibration_error(confidence, right) == pytest.approx(0.0)
    assert calibration_error(np.full(4, 0.99), np.zeros(4, bool)) == pytest.approx(0.99)


def test_unsure_cut_flags_at_most_the_given_share_of_scored_photos(photos_available):
    items = photos.list_photos("validation", folders=("t-shirt",))[:20]
    confidence = np.linspace(0.3, 0.99, len(items))
    cut = choose_unsure_threshold(items, confidence, 0.15)
    assert (confidence < cut).sum() == 3


def test_shipped_model_meets_its_photo_figures(photos_available, classifier: Classifier):
    figures = classifier.card.figures.get("photos", {}).get("validation_subset")
    if figures is None:
        pytest.skip("the shipped model card has no photo figures")
    subset = photos.list_photos("validation")[:: figures["every"]]
    answers = classifier.predict_explained(photo_arrays(subset))
    score = score_photos(subset, np.array([a.probs for a in answers]), np.array([a.unsure for a in answers]))
    assert score.accuracy >= figures["accuracy"] - 5e-5  # the card rounds to 4 places
    assert abs(score.unsure_hat - figures["unsure_hat"]) < 5e-5


def test_unsure_and_sure_agree_with_the_shown_confidence(photos_available, classifier: Classifier):
    """One meaning of "sure": never "not one of the ten" beside a confidence above the cut, never
    a plain answer below the sure level."""
    assert classifier.card.unsure_score == "max_probability"
    assert classifier.card.unsure_threshold < SURE_CONFIDENCE
    answers = classifier.predict_explained(photo_arrays(photos.list_photos("validation")[::2]))
    for a in answers:
        assert a.unsure == (a.confidence < classifier.card.unsure_threshold)
        assert a.certainty == ("unsure" if a.unsure else "sure" if a.confidence >= SURE_CONFIDENCE else "probably")
    assert {a.certainty for a in answers} == {"unsure", "probably", "sure"}


def test_a_small_corrections_set_still_holds_one_photo_of_a_class_back():
    from ml.adapt import stratified_hold_out
    from ml.labelled import LabelledImage

    items = [LabelledImage(f"{c}-{n}.jpg", (c,)) for c, count in ((5, 2), (7, 1), (9, 10)) for n in range(count)]
    fit, held = stratified_hold_out(items, 0.2, seed=0)
    held_classes = sorted(i.own_class for i in held)
    assert held_classes == [5, 9, 9]  # two sandals: one back; one sneaker: kept to learn from; 10 boots: 2
    assert len(fit) + len(held) == len(items) and not {i.name for i in fit} & {i.name for i in held}


def test_distillation_refuses_teachers_that_saw_the_photos_held_out(tmp_path):
    import json

    from ml.adapt import AdaptConfig, photo_teachers
    from ml.labelled import LabelledImage

    held = [LabelledImage("shoes/a.jpg", (5,)), LabelledImage("hat/b.jpg", ())]
    teacher = tmp_path / "run" / "best.pt"
    teacher.parent.mkdir()
    (teacher.parent / "result.json").write_text(json.dumps({"adaptation": {"held_out": ["shoes/a.jpg"]}}))
    for cfg, why in ((AdaptConfig(teachers=[str(teacher)]), "both --teacher"),
                     (AdaptConfig(distill_weight=0.5), "both --teacher"),
                     (AdaptConfig(teachers=[str(teacher)], distill_weight=0.5, input_size=56), "28-px"),
                     (AdaptConfig(teachers=[str(teacher)], distill_weight=0.5), "same held-out photos")):
        with pytest.raises(SystemExit, match=why):
            photo_teachers(cfg, held)
    assert photo_teachers(AdaptConfig(), held) == []
