"""The model card's Markdown: what a shipment is, how it was trained and what it gets right,
written from the card's JSON by `closetchat export`."""

from __future__ import annotations

from ml.quantize import MAX_QUANTIZATION_LOSS


def _quantization_lines(card: dict) -> list[str]:
    q = card.get("quantization")
    if q and q.get("served") == "float":
        v = q["validation_single_view"]
        return [f"- Served graph: float (the int8 one got {v['int8'] * 100:.2f}% of validation images right "
                f"against {v['float'] * 100:.2f}%, more than {MAX_QUANTIZATION_LOSS * 100:.1f} points lost)."]
    if not q or "fp32_test_accuracy" not in q:
        return []
    own = card.get("photo_graph_test_accuracy", card["test_accuracy"])  # this graph's, not the shipment's
    return [f"- Served graph: int8 (ONNX Runtime static quantisation, {q['calibration_images']:,} training images "
            f"for the activation ranges, linear head in float): test accuracy {own * 100:.2f}% "
            f"against {q['fp32_test_accuracy'] * 100:.2f}% for the float graph, the same answer on "
            f"{q['same_answer_as_fp32'] * 100:.2f}% of test images. `model.pt` keeps the float weights."]


def _graph_line(card: dict) -> str:
    """Which graph answered the test images: they are in dataset form, so a shipment's dataset graph."""
    if "dataset_graph" in card:
        return (f", answered by the dataset graph in `{card['dataset_graph']['folder']}/` "
                f"({card['dataset_graph']['version']}), which takes every image already in Fashion-MNIST form "
                f"(28×28, gray, dark background); this card's graph, which answers photos, gets "
                f"{card['photo_graph_test_accuracy'] * 100:.2f}% of them.")
    if "unsure_chosen_on" in card:
        return (f". This is a shipment's dataset graph: it answers images already in Fashion-MNIST form; "
                f"unsure below {card['unsure_threshold']} on the shown confidence ({card['unsure_chosen_on']}), "
                f"{card['test_unsure_rate'] * 100:.1f}% of the test images.")
    return "."


def _training_line(t: dict) -> str:
    line = (f"- Training: {t['epochs_run']} epochs (best {t['best_epoch']}), {t['train_seconds'] / 60:.1f} min "
            f"on {t['machine']}, {t['train_images']:,} training images.")
    w = t.get("warm_start")
    if w and "epochs_run" in w:
        c = t["config"]
        then = (f"stochastic weight averaging (`{c['command']}`): {c['cycles']} cycles of {c['cycle_epochs']} "
                f"epochs, the learning rate falling from {c['lr_max']} to {c['lr_min']} in each, the weights at "
                f"every cycle's end averaged and the batch-norm statistics recomputed"
                if "cycles" in c else f"a warm restart of {t['epochs_run']} epochs with a new one-cycle schedule")
        line = (f"- Training: {w['epochs_run']} epochs from scratch ({w['train_seconds'] / 60:.0f} min, "
                f"`{w['command']}`; test {w['test_accuracy'] * 100:.2f}%), then {then} "
                f"({t['train_seconds'] / 60:.0f} min) on {t['machine']}, {t['train_images']:,} training images: "
                f"{(w['train_seconds'] + t['train_seconds']) / 60:.0f} min in all.")
    return line


def photo_lines(card: dict) -> list[str]:
    """The photo figures: per class on the validation photos, the unsure rule and the calibration."""
    held, v = card["photos"]["held_out_score"], card["photos"]["validation"]
    worst = v["worst_class"]
    return [
        "", f"## Real photos (clothing-photos validation split, {sum(r['photos'] for r in v['per_class'].values())} "
        f"scored photos and {v['hats']} hats; reported, not chosen on)",
        f"- By each photo's own class: **{v['accuracy'] * 100:.1f}% right**; worst class {worst['class']} "
        f"{worst['recall'] * 100:.0f}%. Right among answers not flagged unsure: {v['sure_accuracy'] * 100:.1f}%.",
        f"- Unsure below {card['unsure_threshold']:.2f} shown confidence (temperature {card['temperature']}, both "
        f"chosen on {card['photos']['chosen_on']}): hats {v['unsure_hat'] * 100:.0f}%, scored photos "
        f"{v['unsure_scored'] * 100:.0f}%, Fashion-MNIST test {card['test_unsure_rate'] * 100:.1f}%.",
        f"- Shown confidence on photos: ECE {v['ece']:.3f} (held-out train photos {held['ece']:.3f}).",
        f"- Held-out train photos: {held['accuracy'] * 100:.1f}% right, worst class {held['worst_class']['class']} "
        f"{held['worst_class']['recall'] * 100:.0f}%, hats unsure {held['unsure_hat'] * 100:.0f}%.",
        "", "| class | photos | right | recall |", "| --- | --- | --- | --- |",
        *[f"| {k} | {r['photos']} | {r['right']} | {r['recall'] * 100:.0f}% |" for k, r in v["per_class"].items()],
    ]


def render_card_markdown(card: dict) -> str:
    t = card["training"]
    lines = [
        f"# Model card: {card['version']}",
        "",
        f"- Architecture: {card['architecture']} (residual CNN for 28×28, width {card['width']}), "
        f"{card['parameters']:,} parameters. See `ml/model.py` for why this shape.",
        f"- Input normalisation: `{card['normalization']}`; test-time flip averaging: {card['tta']}"
        + (f", only where the first view's top-two margin is under {card['tta_gate']} "
           f"(chosen on {'the held-out photos' if 'photos' in card else 'validation'}: "
           f"no answer lost there; {card['tta_second_view_rate'] * 100:.0f}% of validation images get the "
           f"second view)." if card.get("tta_gate") is not None else "."),
        *_quantization_lines(card),
        _training_line(t),
        f"- Command: `{t['config']['command']}`",
        f"- **Test accuracy: {card['test_accuracy'] * 100:.2f}%** on the 10,000 Fashion-MNIST test images "
        f"(seed system: 94.36%)" + _graph_line(card),
        f"- Validation accuracy{' (this graph)' if 'dataset_graph' in card else ''}: "
        f"{card['validation']['accuracy'] * 100:.2f}%; temperature "
        f"{card['temperature']} (ECE {card['validation']['ece_before']} → {card['validation']['ece_after']}).",
        "",
        "## Why this architecture",
        "",
        "Fashion-MNIST images are 28×28 and gray, so an ImageNet network at 224 px (the seed's MobileNetV2) "
        "spends almost all of its work on pixels that are not there. ClosetNet is a ResNet-9-style CNN sized "
        "for 28×28: one narrow full-resolution stage, then each stage halves the grid before widening "
        "(28→14→7→3), with residual blocks where they are cheap, max+mean pooling and one linear layer. "
        "Under 2 M parameters it trains from scratch on 2 CPU cores (bfloat16 autocast, channels-last), or "
        "many times faster on a GPU where one is lent (`--device cuda`), and answers a photo in about a "
        "millisecond as an int8 graph in ONNX Runtime (per-CPU figures: `benchmarks/photo_latency.py`, "
        "docs/performance.md). Training: SGD with Nesterov momentum, "
        "one-cycle learning rate, label smoothing 0.1, random shifts of ±2 px, horizontal flips and random "
        "erasing; flip averaging at test time.",
        "",
        "| class | test accuracy |",
        "| --- | --- |",
        *[f"| {k} | {v * 100:.1f}% |" for k, v in card["test"]["per_class"].items()],
    ]
    if "adaptation" in card:
        a, b = card["adaptation"], card["base_run"]
        lines += ["", "## Adaptation to home photos",
                  f"- Base model (Fashion-MNIST only): {b['test_accuracy'] * 100:.2f}% test accuracy, "
                  f"{b['val_accuracy'] * 100:.2f}% validation.",
                  f"- Then {a['steps']} steps mixing Fashion-MNIST batches with {a['photos']} train photos "
                  f"({a['views']} views), each trained on its own class, classes drawn with weight count^-{a['balance']}, "
                  f"hats towards uniform; {a['seconds'] / 60:.1f} min. Command: `{a['command']}`"]
    if "photos" in card:
        lines += photo_lines(card)
    if "normalization_study" in card:
        lines += ["", "## Normalisation study (same budget each)", "",
                  "| normalisation | mean, std | validation | test |", "| --- | --- | --- | --- |"]
        for row in card["normalization_study"]:
            lines.append(f"| {row['normalization']} | {row['mean_std']} | {row['val_accuracy'] * 100:.2f}% "
                         f"| {row['test_accuracy'] * 100:.2f}% |")
    if "fast_recipe" in card:
        f = card["fast_recipe"]
        lines += ["", "## Fast recipe (CPU budget)", "",
                  f"`{f['command']}`: {f['test_accuracy'] * 100:.2f}% test accuracy after "
                  f"{f['train_seconds'] / 60:.1f} min of training on this 2-core CPU (target: ≥ 94.4% in ≤ 15 min)."]
    if "notes" in card:
        lines += ["", "## Notes", "", card["notes"]]
    return "\n".join(lines) + "\n"
