"""Learning from corrections: adapt the shipped photo graph with labelled photos, and ship the result
only when it is no worse on any class.

People correct wrong answers on the History page and export them as a zip. `closetchat adapt
--corrections FILE.zip` continues the shipped photo graph's adaptation with those photos added to
the shared train photos, scores the shipment before and after on the photos neither trained on
(the held-out fifth of the train photos and of the corrections), and replaces the shipment only
when no class has fewer of them right. Either way the comparison is written beside the run.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

from ml import photos
from ml.adapt import AdaptConfig, adapt
from ml.classifier import DATASET_GRAPH_DIR, Classifier
from ml.labelled import LabelledImage, read_labelled
from ml.labels import LABELS

SHIPPED_FILES = ("model.pt", "model.onnx", "model_card.json", "model_card.md")


def held_out_items(result: dict) -> list[LabelledImage]:
    """The photos the run held out: shared train photos by name, and its share of the extra photos."""
    items = [LabelledImage(name, photo.classes, path=photo.path)
             for name in result["adaptation"]["held_out"] for photo in [photos.photo_at(name)]]
    extra_names = set(result["adaptation"].get("extra_held_out", []))
    if extra_names:
        items += [i for i in read_labelled(result["adaptation"]["extra"]) if i.name in extra_names]
    return items


def per_class_right(clf: Classifier, items: list[LabelledImage]) -> dict[str, dict]:
    """Per class of the labelled photos: how many, and how many the classifier gets right."""
    answers = clf.predict([i.open() for i in items]) if items else []
    out: dict[str, dict] = {}
    for item, answer in zip(items, answers, strict=True):
        if not item.classes:
            continue
        row = out.setdefault(LABELS[item.own_class], {"photos": 0, "right": 0})
        row["photos"] += 1
        row["right"] += int(answer.index in item.classes)
    return out


def compare(before: dict[str, dict], after: dict[str, dict]) -> list[str]:
    """The classes that have fewer photos right after than before."""
    return [name for name, row in before.items() if after.get(name, {"right": 0})["right"] < row["right"]]


def retrain(cfg: AdaptConfig, shipment: str | Path, ship: bool = True) -> dict:
    """Adapt (cfg.base: usually the shipment itself), export next to the run, compare, and ship when
    no class got worse. Returns the comparison, also written to OUT_DIR/comparison.json."""
    from ml.export import export_run

    shipment, out = Path(shipment), Path(cfg.out_dir)
    result = adapt(cfg)
    staged = out / "shipment"
    shutil.rmtree(staged, ignore_errors=True)
    staged.mkdir(parents=True)
    if (shipment / DATASET_GRAPH_DIR).is_dir():
        shutil.copytree(shipment / DATASET_GRAPH_DIR, staged / DATASET_GRAPH_DIR)
    card = json.loads((shipment / "model_card.json").read_text())
    notes = {"notes": card["notes"]} if "notes" in card else {}
    export_run(out, staged, extra=notes)

    judged = held_out_items(result)
    old, new = Classifier.load(shipment), Classifier.load(staged)
    before, after = per_class_right(old, judged), per_class_right(new, judged)
    worse = compare(before, after)
    comparison = {
        "before": {"version": old.version, "per_class": before},
        "after": {"version": new.version, "per_class": after},
        "held_out_photos": len(judged), "worse_classes": worse,
        # nothing held out means nothing to judge the new graph on: it is staged, never shipped
        "shipped": bool(ship and judged and not worse), "staged": str(staged),
    }
    if comparison["shipped"]:
        for name in SHIPPED_FILES:
            shutil.copyfile(staged / name, shipment / name)
    (out / "comparison.json").write_text(json.dumps(comparison, indent=2))
    return comparison


def totals(per_class: dict[str, dict]) -> tuple[int, int]:
    return sum(r["right"] for r in per_class.values()), sum(r["photos"] for r in per_class.values())


def corrections_config(source: str, shipment: str | Path, out_dir: str, **options) -> AdaptConfig:
    """An adaptation that continues the shipment's photo graph with the labelled photos at `source`."""
    return replace(AdaptConfig(), base=str(shipment), out_dir=out_dir, extra=str(source), **options)

