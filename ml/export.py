"""Turn a training run into shipped weights: fp16 state dict, int8 ONNX graph, calibrated
temperature, the photo-chosen unsure threshold, and the model card (JSON + Markdown).

A shipment's main graph answers photos; a Fashion-MNIST run exported with `dataset_run` goes in its
dataset/ subfolder and answers images already in the dataset's form (see ml.classifier)."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from ml import data, photos
from ml.calibrate import choose_tta_gate, expected_calibration_error, fit_temperature
from ml.classifier import DATASET_GRAPH_DIR, Classifier, ModelCard, OnnxRuntime, softmax
from ml.evaluate import evaluate_test_set
from ml.model import build_model
from ml.model_card import render_card_markdown
from ml.normalization import network_input
from ml.photo_eval import choose_unsure_threshold, photo_arrays, score_photos
from ml.quantize import calibration_sample, keeps_accuracy, quantize_onnx
from ml.train import load_weights

OPSET = 17
PHOTO_SUBSET_STEP = 3  # the fixed validation-photo subset the test suite re-scores
# what "unsure" cuts (ml.classifier.familiarity): the shown confidence itself, so that "I don't think
# this is one of the ten" is never said beside a high bar nor withheld beside a low one. (Energy told
# hats from garments a little better on the earlier, folder-trained graph: AUROC 0.844 against 0.791.)
UNSURE_SCORE = "max_probability"
# the dataset graph's "unsure": the least familiar 2% of validation images (about what the photo
# graph flagged of the test set when it answered those images too)
DATASET_UNSURE_RATE = 0.02
# the share of held-out scored photos the photo graph's unsure cut may flag
MAX_SCORED_UNSURE = 0.15


def load_torch_model(weights: Path, width: int, input_size: int = 28) -> torch.nn.Module:
    model = build_model(width, input_size)
    model.load_state_dict(load_weights(weights))
    return model.eval()


def export_onnx(model: torch.nn.Module, path: Path) -> None:
    example = torch.zeros(2, 1, 28, 28)
    buffer = io.BytesIO()
    torch.onnx.export(model, (example,), buffer, input_names=["image"], output_names=["logits"],
                      dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}},
                      opset_version=OPSET, dynamo=False)
    path.write_bytes(buffer.getvalue())


def export_run(run_dir: str | Path, out_dir: str | Path, extra: dict | None = None,
               dataset_run: str | Path | None = None) -> dict:
    """run_dir holds model.pt + result.json from `closetchat train` (or adapt); out_dir gets the
    shipment. With dataset_run, that Fashion-MNIST run becomes the shipment's dataset graph first.
    Figures found beside it (runs/normalization_study.json, runs/fast_recipe.json) join the card."""
    out_dir = Path(out_dir)
    with tempfile.TemporaryDirectory(prefix="closetchat-export-") as scratch:
        if dataset_run is not None:
            shutil.rmtree(out_dir / DATASET_GRAPH_DIR, ignore_errors=True)
            _export(Path(dataset_run), out_dir / DATASET_GRAPH_DIR, None, Path(scratch), dataset_graph=True)
        return _export(Path(run_dir), out_dir, extra, Path(scratch))


def _export(run_dir: Path, out_dir: Path, extra: dict | None, scratch: Path, dataset_graph: bool = False) -> dict:
    out_dir.mkdir(parents=True, exist_ok=True)
    result = json.loads((run_dir / "result.json").read_text())
    if result.get("input_size", 28) != 28:  # the app and the model card know 28-px graphs only
        raise SystemExit(f"{run_dir} is a {result['input_size']}-px graph: export and serve it from the "
                         "branch experiment/photo-graph-56")
    weights = (run_dir / "model.pt").read_bytes()
    (out_dir / "model.pt").write_bytes(weights)
    model = load_torch_model(out_dir / "model.pt", result["width"])
    fit, val = data.train_validation_split(data.load_split("train"))
    fp32_onnx = scratch / "model-fp32.onnx"
    export_onnx(model, fp32_onnx)

    card = _first_card(result, weights, _carried_extras(run_dir, out_dir, extra, dataset_graph))
    _write(out_dir, card)
    card["quantization"] = _ship_graph(fp32_onnx, out_dir / "model.onnx", fit, val, result["normalization"])
    if card["quantization"]["served"] == "int8":
        card["version"] += "-int8"  # answers carry the name of the graph that gave them
    _calibrate_on_validation(out_dir, card, val)
    dataset = _test_figures(out_dir, card, fp32_onnx, val, dataset_graph)
    if not dataset_graph and photos.available() and result.get("adaptation", {}).get("held_out"):
        card.update(_calibrate_on_photos(out_dir, card, result["adaptation"]["held_out"]))
        if dataset is not None:  # it answers the test images; its card has the figure
            card["test_unsure_rate"] = dataset.card.figures["test_unsure_rate"]
    _write(out_dir, card)
    (out_dir / "model_card.md").write_text(render_card_markdown(card))
    return card


def _write(out_dir: Path, card: dict) -> None:
    """Each step writes the card so far: the next one loads the graph with what is fitted."""
    (out_dir / "model_card.json").write_text(json.dumps(card, indent=2))


def _carried_extras(run_dir: Path, out_dir: Path, extra: dict | None, dataset_graph: bool) -> dict:
    """Studies found beside the run, and what a re-export keeps of the card it replaces: the studies
    measured before and the notes written by hand."""
    extra = dict(extra or {})
    for key, name in (("normalization_study", "normalization_study.json"), ("fast_recipe", "fast_recipe.json")):
        found = run_dir.parent / name
        if found.exists() and key not in extra and not dataset_graph:  # the main card has them
            extra[key] = json.loads(found.read_text())
    previous = out_dir / "model_card.json"
    if previous.exists():
        before = json.loads(previous.read_text())
        extra.update({k: before[k] for k in ("notes", "normalization_study", "fast_recipe") if k in before and k not in extra})
    return extra


def _first_card(result: dict, weights: bytes, extra: dict) -> dict:
    return {
        "version": f"{result['architecture']}-w{result['width']}-{hashlib.sha256(weights).hexdigest()[:8]}",
        "architecture": result["architecture"],
        "width": result["width"],
        "parameters": result["parameters"],
        "normalization": result["normalization"],
        "tta": True,
        "temperature": 1.0,
        "unsure_threshold": 0.0,
        "unsure_score": UNSURE_SCORE,
        "exported_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "training": {**{k: result[k] for k in ("epochs_run", "best_epoch", "train_seconds", "train_images",
                                                 "config", "machine", "history")},
                     **_warm_start(result)},
        **({"adaptation": {k: v for k, v in result["adaptation"].items() if k not in ("held_out", "extra_held_out")},
            "base_run": result["base_run"]} if "adaptation" in result else {}),
        "data_sha256": result["data_sha256"],
        **extra,
    }


def _calibrate_on_validation(out_dir: Path, card: dict, val: data.Split) -> None:
    """Temperature and flip gate on Fashion-MNIST validation (a photo graph refits both on photos)."""
    clf = Classifier.load(out_dir, runtime="onnx", with_dataset_graph=False)
    val_logits = clf.logits(val.images)
    card["temperature"] = round(fit_temperature(val_logits, val.labels), 4)
    val_probs = softmax(val_logits / card["temperature"])
    gate, second_view = choose_tta_gate(*clf.view_logits(val.images), val.labels, card["temperature"])
    card["tta_gate"], card["tta_second_view_rate"] = gate, round(second_view, 4)
    card["validation"] = {
        "accuracy": round(float((val_probs.argmax(1) == val.labels).mean()), 5),
        "ece_before": round(expected_calibration_error(softmax(val_logits), val.labels), 4),
        "ece_after": round(expected_calibration_error(val_probs, val.labels), 4),
    }
    _write(out_dir, card)


def _test_figures(out_dir: Path, card: dict, fp32_onnx: Path, val: data.Split, dataset_graph: bool):
    """The Fashion-MNIST test figures. The test images are in dataset form, so with a dataset graph in
    the shipment predict_arrays goes there; logits/assess/probabilities stay with this graph.
    Returns the shipment's dataset graph (None when it has none)."""
    clf = Classifier.load(out_dir, runtime="onnx")
    test = data.load_split("test")
    if dataset_graph:
        card.update(dataset_unsure_cut(clf, val))
    evaluation = evaluate_test_set(clf)
    card["test"] = evaluation.as_dict()
    card["test_accuracy"] = round(evaluation.accuracy, 5)
    if clf.dataset_graph is not None:
        card["dataset_graph"] = {"folder": DATASET_GRAPH_DIR, "version": clf.dataset_graph.version}
        own = clf.probabilities(test.images).argmax(1) == test.labels
        card["photo_graph_test_accuracy"] = round(float(own.mean()), 5)
    if card["quantization"]["served"] == "int8":
        fp32 = Classifier(ModelCard.read(out_dir / "model_card.json"), OnnxRuntime(fp32_onnx, 1), "onnx")
        card["quantization"].update(_agreement(clf, fp32, test))
    if dataset_graph:
        test_unsure = clf.assess(test.images)[1] < card["unsure_threshold"]
        card["test_unsure_rate"] = round(float(test_unsure.mean()), 4)
    return clf.dataset_graph


def dataset_unsure_cut(clf: Classifier, val: data.Split) -> dict:
    """The dataset graph's unsure rule: below the shown confidence of the least sure 2% of validation images."""
    confidence = clf.assess(val.images)[1]
    return {"unsure_score": UNSURE_SCORE,
            "unsure_threshold": round(float(np.quantile(confidence, DATASET_UNSURE_RATE)), 4),
            "unsure_chosen_on": f"Fashion-MNIST validation: the least sure {DATASET_UNSURE_RATE:.0%} of its images"}


def _calibrate_on_photos(out_dir: Path, card: dict, held_out: list[str]) -> dict:
    """The photo graph's temperature, flip gate and unsure cut, all chosen on the train photos held out
    of adaptation (its answers are photos, so its confidence is calibrated on photos), and its figures
    on them and on the validation photos, which are reported, never chosen on."""
    held = [photos.photo_at(name) for name in held_out]
    scored = [p for p in held if p.scored]
    clf = Classifier.load(out_dir, runtime="onnx", with_dataset_graph=False)
    plain, flipped = clf.view_logits(photo_arrays(scored))
    temperature = fit_temperature((plain + flipped) / 2, photos.right_classes(scored))
    gate, second_view = choose_tta_gate(plain, flipped, np.array([p.own_class for p in scored]), temperature)
    card.update(temperature=round(temperature, 4), tta_gate=gate, tta_second_view_rate=round(second_view, 4))
    _write(out_dir, card)

    clf = Classifier.load(out_dir, runtime="onnx", with_dataset_graph=False)
    held_probs, held_confidence = clf.assess(photo_arrays(held))
    threshold = round(choose_unsure_threshold(held, held_confidence, MAX_SCORED_UNSURE), 4)
    validation = photos.list_photos("validation")
    val_probs, val_confidence = clf.assess(photo_arrays(validation))
    step = slice(None, None, PHOTO_SUBSET_STEP)
    return {
        "unsure_threshold": threshold,
        "photos": {
            "chosen_on": f"{len(held)} train photos held out of adaptation ({len(scored)} scored): temperature "
                         f"by likelihood, unsure where the shown confidence flags at most {MAX_SCORED_UNSURE:.0%} "
                         "of the scored ones",
            "held_out": held_out,
            "held_out_score": score_photos(held, held_probs, held_confidence < threshold).as_dict(),
            "validation": score_photos(validation, val_probs, val_confidence < threshold).as_dict(),
            "validation_subset": {"every": PHOTO_SUBSET_STEP, **score_photos(
                validation[step], val_probs[step], val_confidence[step] < threshold).as_dict()},
        },
    }


def _ship_graph(fp32_onnx: Path, served: Path, fit: data.Split, val: data.Split, normalization: str) -> dict:
    """Quantise, then serve the int8 graph unless it loses more than MAX_QUANTIZATION_LOSS of
    single-view validation accuracy against the float graph (then the float graph ships)."""
    int8_onnx = fp32_onnx.with_name("model-int8.onnx")
    info = quantize_onnx(fp32_onnx, int8_onnx, network_input(calibration_sample(fit.images), normalization))
    x = network_input(val.images, normalization)
    accuracy = {name: round(float((OnnxRuntime(path, 2)(x).argmax(1) == val.labels).mean()), 5)
                for name, path in (("float", fp32_onnx), ("int8", int8_onnx))}
    choice = "int8" if keeps_accuracy(accuracy["float"], accuracy["int8"]) else "float"
    shutil.copyfile(int8_onnx if choice == "int8" else fp32_onnx, served)
    return {**info, "validation_single_view": accuracy, "served": choice}


def _agreement(int8: Classifier, fp32: Classifier, test: data.Split) -> dict:
    """How the int8 graph compares with the fp32 one it came from, on the test set (reported, not
    used to choose anything)."""
    p8, p32 = int8.probabilities(test.images), fp32.probabilities(test.images)
    return {"fp32_test_accuracy": round(float((p32.argmax(1) == test.labels).mean()), 5),
            "same_answer_as_fp32": round(float((p8.argmax(1) == p32.argmax(1)).mean()), 5),
            "mean_total_variation": round(float(np.abs(p8 - p32).sum(1).mean() / 2), 5)}


def _warm_start(result: dict) -> dict:
    """When the run started from another run's weights, that run's epochs and minutes, so the card
    counts the whole training, not only the last leg."""
    if "warm_start" in result:  # a run started from a shipment, whose card already counted it
        return {"warm_start": result["warm_start"]}
    init_from = result.get("config", {}).get("init_from")
    if not init_from:
        return {}
    earlier = Path(init_from).parent / "result.json"
    if not earlier.exists():
        return {"warm_start": {"from": init_from}}
    before = json.loads(earlier.read_text())
    return {"warm_start": {"from": init_from, "epochs_run": before["epochs_run"],
                           "train_seconds": before["train_seconds"], "val_accuracy": before["val_accuracy"],
                           "test_accuracy": before["test_accuracy"],
                           "command": before.get("config", {}).get("command", "")}}
