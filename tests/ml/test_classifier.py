"""The shipped model through the public API: its card's figures hold on the real test set."""

import threading

import numpy as np
import pytest
from PIL import Image

from ml import LABELS, Classifier, Prediction, UnreadableImage, open_image
from ml.evaluate import evaluate_test_set, score


def test_labels_in_dataset_order(classifier):
    assert classifier.labels == LABELS
    assert LABELS[0] == "T-shirt/top" and LABELS[9] == "Ankle boot" and len(LABELS) == 10


@pytest.mark.slow  # training, the whole test set or a benchmark: CI runs it
def test_shipped_weights_reach_the_model_card_accuracy(classifier, fashion_test):
    evaluation = evaluate_test_set(classifier)
    card = classifier.card.figures["test_accuracy"]
    assert abs(evaluation.accuracy - card) <= 0.002, (evaluation.accuracy, card)


@pytest.mark.slow  # training, the whole test set or a benchmark: CI runs it
def test_onnx_and_torch_runtimes_agree(fashion_test):
    """The shipped ONNX graph is the int8 quantisation of model.pt: the same answers, nearly the
    same probabilities (the card records the figures on the whole test set)."""
    onnx = Classifier.load(runtime="onnx")
    torch_clf = Classifier.load(runtime="torch")
    x = fashion_test.images[:1000]
    p8, p32 = onnx.predict_arrays(x), torch_clf.predict_arrays(x)
    assert (p8.argmax(1) == p32.argmax(1)).mean() >= 0.99
    assert np.abs(p8 - p32).sum(1).mean() / 2 < 0.01


def test_predict_arrays_shape_and_probabilities(classifier, fashion_test):
    probs = classifier.predict_arrays(fashion_test.images[:10])
    assert probs.shape == (10, 10) and probs.dtype.kind == "f"
    assert np.allclose(probs.sum(axis=1), 1, atol=1e-5)
    assert classifier.predict_arrays(np.zeros((0, 28, 28), np.uint8)).shape == (0, 10)
    with pytest.raises(ValueError):
        classifier.predict_arrays(np.zeros((2, 32, 32), np.uint8))


def test_predict_images_returns_predictions(classifier, fashion_test):
    images = [Image.fromarray(fashion_test.images[i], "L") for i in range(5)]
    out = classifier.predict(images)
    assert len(out) == 5 and all(isinstance(p, Prediction) for p in out)
    p = out[0]
    assert p.label == LABELS[p.index] and len(p.probs) == 10 and len(p.top_k) == 3
    assert p.top_k[0] == (p.label, p.confidence) and p.top_k[0][1] >= p.top_k[1][1] >= p.top_k[2][1]
    assert isinstance(p.unsure, bool)
    assert classifier.predict([]) == []
    # 28×28 dark-background inputs go through unchanged: same answer as predict_arrays
    direct = classifier.predict_arrays(fashion_test.images[:5]).argmax(1)
    assert [q.index for q in out] == list(direct)


def test_unsure_cuts_the_shown_confidence(classifier, fashion_test):
    """Both graphs flag on the top calibrated probability, the number the reply shows; the energy
    score, T·logsumexp(logits/T), is still read the same way for an older card."""
    from ml.classifier import familiarity

    x = fashion_test.images[:200]
    graph = classifier.for_dataset_form
    logits, t = graph.logits(x), graph.card.temperature
    assert graph.card.unsure_score == "max_probability"
    out = classifier.predict_arrays(x)
    explained = graph.predict_explained(x)
    assert [p.unsure for p in explained] == list(out.max(axis=1) < graph.card.unsure_threshold)
    assert np.allclose(familiarity(logits, t, "max_probability"), out.max(axis=1), atol=1e-6)
    assert np.allclose(familiarity(logits, t, "energy"), t * np.log(np.exp(logits / t).sum(axis=1)), atol=1e-4)


def test_mirrored_view_only_where_the_first_view_is_undecided(classifier, fashion_test):
    """The card's gate: images whose first view has a top-two margin under tta_gate get the mean of
    both views, the others keep the first view; with no gate every image gets both."""
    from dataclasses import replace

    from ml.classifier import softmax, top_two_margin

    x = fashion_test.images[:300]
    gate = classifier.card.tta_gate
    assert gate is not None and 0 < gate < 1
    plain, flipped = classifier.view_logits(x)
    again = top_two_margin(softmax(plain / classifier.card.temperature)) < gate
    assert 0 < again.sum() < len(x)  # both kinds occur among real test images
    expected = np.where(again[:, None], (plain + flipped) / 2, plain)
    assert np.allclose(classifier.logits(x), expected, atol=1e-5)
    always = Classifier(replace(classifier.card, tta_gate=None), classifier._run, classifier.runtime_name)
    assert np.allclose(always.logits(x), (plain + flipped) / 2, atol=1e-5)


def test_tta_gate_is_the_narrowest_margin_that_keeps_validation_answers():
    from ml.calibrate import choose_tta_gate

    labels = np.array([0, 0, 1])
    plain = np.array([[4.0, 0.0], [0.3, 0.0], [0.2, 0.0]])  # the third is wrong on its own
    flipped = np.array([[4.0, 0.0], [0.3, 0.0], [-0.6, 0.0]])  # the mean puts it right
    gate, share = choose_tta_gate(plain, flipped, labels, temperature=1.0, candidates=(0.05, 0.2, 0.9))
    # margins: 0.96, 0.15, 0.10; skipping the third (gate 0.05) loses it, 0.2 keeps every answer
    assert gate == 0.2 and share == pytest.approx(2 / 3)
    never = choose_tta_gate(plain, flipped, labels, temperature=1.0, candidates=(0.05,))
    assert never == (None, 1.0)


def test_thread_safe_batches(classifier, fashion_test):
    expected = classifier.predict_arrays(fashion_test.images[:64])
    results, errors = {}, []

    def work(i):
        try:
            results[i] = classifier.predict_arrays(fashion_test.images[:64])
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert not errors and all(np.allclose(r, expected, atol=1e-6) for r in results.values())


def test_undecodable_upload_raises_typed_error():
    with pytest.raises(UnreadableImage):
        open_image(b"\x89PNG\r\n\x1a\n garbage")


def test_score_confusion_matrix():
    evaluation = score(np.array([0, 1, 1, 2]), np.array([0, 1, 2, 2]))
    assert evaluation.confusion[2, 1] == 1 and evaluation.accuracy == 0.75


def test_dataset_form_images_go_to_the_dataset_graph_and_photos_to_the_main_one(tmp_path, fashion_test):
    from tests.conftest import jpeg_bytes, two_graph_shipment

    ship = two_graph_shipment(tmp_path)
    clf, alone = Classifier.load(ship), Classifier.load(ship, with_dataset_graph=False)
    assert clf.dataset_graph.version == "dataset-graph" and alone.dataset_graph is None
    assert clf.versions == {"photos": clf.version, "dataset_form": "dataset-graph"}
    x = fashion_test.images[:6]
    # arrays already in dataset form: the dataset graph (twice the temperature: flatter probabilities)
    assert np.allclose(clf.predict_arrays(x), clf.dataset_graph.probabilities(x))
    assert not np.allclose(clf.predict_arrays(x), alone.predict_arrays(x))
    # mixed images in one call: each answered by its graph, in the order given
    photo = open_image(jpeg_bytes(size=(300, 400)))
    images = [Image.fromarray(x[0], "L"), photo, Image.fromarray(x[1], "L"), photo]
    out = clf.predict(images)
    assert [p.model_version for p in out] == ["dataset-graph", clf.version, "dataset-graph", clf.version]
    assert out[0].probs == pytest.approx(tuple(clf.predict_arrays(x[:1])[0]), abs=1e-6)
    assert out[1].probs == pytest.approx(alone.predict([photo])[0].probs, abs=1e-6)
