"""The model's commands: train, average (swa), adapt to photos or corrections, evaluate, export.

`closetchat` (backend.cli) adds these to its own serve and predict, so the ml package keeps no
knowledge of the web app and the web app none of training."""

from __future__ import annotations

import dataclasses
from typing import Annotated

import typer

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)


@app.command()
def train(
    out_dir: Annotated[str, typer.Option(help="Run folder: checkpoints, weights, model card.")] = "runs/latest",
    epochs: int = 36,
    width: int = 32,
    batch_size: int = 256,
    lr: float = 0.1,
    normalization: Annotated[str, typer.Option(help="dataset | imagenet_gray | none")] = "dataset",
    erase_p: Annotated[float, typer.Option(help="Share of images given a random erased box.")] = 0.5,
    label_smoothing: Annotated[float, typer.Option(help="Share of each target spread over the other classes.")] = 0.1,
    patience: Annotated[int, typer.Option(help="Stop after this many epochs without validation gain.")] = 8,
    validate_from: Annotated[int, typer.Option(help="First epoch to validate (a fixed short schedule skips the rest).")] = 1,
    seed: int = 0,
    threads: int = 2,
    bf16: Annotated[bool, typer.Option(help="bfloat16 autocast (fast on AVX-512 BF16 CPUs).")] = True,
    train_limit: Annotated[int, typer.Option(help="Train on a seeded subset of this size (0: all).")] = 0,
    dataset_dir: Annotated[str | None, typer.Option(help="IDX folder; default $FASHION_MNIST_DIR.")] = None,
    stop_after: Annotated[int, typer.Option(help="Pause after this many epochs (0: run to the end).")] = 0,
    resume: Annotated[bool, typer.Option(help="Continue from OUT_DIR/last.pt.")] = False,
    init_from: Annotated[str | None, typer.Option(help="Warm restart: start from a run's best.pt.")] = None,
    teacher: Annotated[list[str] | None, typer.Option(help="Distil from this checkpoint (repeatable).")] = None,
    distill_weight: Annotated[float, typer.Option(help="Share of the loss spent matching the teachers.")] = 0.0,
    ema_decay: Annotated[float, typer.Option(help="Also validate a moving average of the weights, keep the better (0: off; e.g. 0.998).")] = 0.0,
    distill_temperature: float = 2.0,
    device: Annotated[str, typer.Option(help="cpu, or cuda where a GPU is lent.")] = "cpu",
) -> None:
    """Train the classifier on Fashion-MNIST (54,000 train / 6,000 validation)."""
    from ml.train import TrainConfig
    from ml.train import train as run_training

    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    cfg = TrainConfig(**{k: v for k, v in locals().items() if k in fields}, teachers=teacher or [])
    run_training(cfg, resume=resume)


@app.command()
def adapt(
    base: Annotated[str, typer.Option(help="Start from: a shipment folder or a `closetchat train` run.")] = "ml/weights/dataset",
    out_dir: Annotated[str, typer.Option(help="Run folder: weights, result.json (and comparison.json).")] = "runs/adapted",
    corrections: Annotated[str | None, typer.Option(
        help="Learn from a History corrections zip (or a folder of class folders): continue the shipped photo "
             "graph with them and replace the shipment only when no class gets worse.")] = None,
    photos: Annotated[str | None, typer.Option(help="Same as --corrections, for a folder of labelled photos.")] = None,
    to: Annotated[str, typer.Option(help="With --corrections: the shipment to improve.")] = "ml/weights",
    steps: int = 1000,
    lr: float = 0.004,
    views_per_photo: int = 6,
    photo_batch: int = 64,
    balance: Annotated[float, typer.Option(help="Draw photos with weight (class count)^-BALANCE: 1 = classes alike.")] = 0.5,
    outlier_weight: Annotated[float, typer.Option(help="Weight of the hats-towards-uniform loss.")] = 0.5,
    shared_photos: Annotated[bool, typer.Option(help="Train on the shared photo set's train split too.")] = True,
    teacher: Annotated[list[str] | None, typer.Option(
        help="Distil from this photo graph on the photos (repeatable; its held-out photos must be this run's).")] = None,
    distill_weight: Annotated[float, typer.Option(help="Share of the photo loss spent matching the teachers.")] = 0.0,
    input_size: Annotated[int, typer.Option(help="28, or 56: the photo graph sees photos at twice the detail.")] = 28,
    seed: int = 0,
) -> None:
    """Adapt a model to home photos, each trained on its own class; or learn from corrections."""
    from ml.adapt import AdaptConfig
    from ml.adapt import adapt as run_adapt

    options = dict(steps=steps, lr=lr, views_per_photo=views_per_photo, photo_batch=photo_batch, balance=balance,
                   outlier_weight=outlier_weight, shared_photos=shared_photos, seed=seed, input_size=input_size)
    source = corrections or photos
    if source is None:
        run_adapt(AdaptConfig(base=base, out_dir=out_dir, teachers=teacher or [], distill_weight=distill_weight,
                              **options))
        return
    from ml.retrain import corrections_config, retrain, totals

    comparison = retrain(corrections_config(source, to, out_dir, **options), to)
    for side in ("before", "after"):
        right, n = totals(comparison[side]["per_class"])
        typer.echo(f"{side}: {comparison[side]['version']}: {right} of {n} held-out photos right " + ", ".join(
            f"{k} {v['right']}/{v['photos']}" for k, v in comparison[side]["per_class"].items()))
    if comparison["shipped"]:
        typer.echo(f"shipped {comparison['after']['version']} to {to}")
    else:
        typer.echo(f"not shipped: fewer right in {', '.join(comparison['worse_classes'])}; the new graph is in "
                   f"{comparison['staged']}")


@app.command()
def swa(
    base_run: Annotated[str, typer.Option(help="A finished `closetchat train` run (its best.pt starts).")] = "runs/live32",
    out_dir: Annotated[str, typer.Option(help="Run folder: checkpoint, weights, model card.")] = "runs/swa",
    cycles: Annotated[int, typer.Option(help="Snapshots averaged: one per cycle.")] = 12,
    cycle_epochs: Annotated[int, typer.Option(help="Epochs per learning-rate cycle.")] = 3,
    lr_max: float = 0.05,
    lr_min: float = 0.0005,
    seed: int = 0,
    train_limit: Annotated[int, typer.Option(help="Train on a seeded subset of this size (0: all).")] = 0,
    dataset_dir: Annotated[str | None, typer.Option(help="IDX folder; default $FASHION_MNIST_DIR.")] = None,
    resume: Annotated[bool, typer.Option(help="Continue from OUT_DIR/last.pt.")] = False,
    device: Annotated[str, typer.Option(help="cpu, or cuda where a GPU is lent.")] = "cpu",
) -> None:
    """Average the weights of a trained run along a cyclical learning rate (SWA), then score the average."""
    from ml.swa import SwaConfig
    from ml.swa import swa as run_swa

    fields = {f.name for f in dataclasses.fields(SwaConfig)}
    run_swa(SwaConfig(**{k: v for k, v in locals().items() if k in fields}), resume=resume)


@app.command()
def evaluate(
    weights: Annotated[str | None, typer.Option(help="Folder with model.onnx/model.pt + model_card.json.")] = None,
    runtime: Annotated[str, typer.Option(help="auto | onnx | torch")] = "auto",
    png: Annotated[str, typer.Option(help="Where to save the confusion matrix image.")] = "runs/confusion.png",
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
) -> None:
    """Score the model on the 10,000 Fashion-MNIST test images."""
    import json

    from ml import Classifier
    from ml.evaluate import confusion_png, evaluate_test_set

    clf = Classifier.load(weights, runtime=runtime, threads=2)
    evaluation = evaluate_test_set(clf)
    path = confusion_png(evaluation, png)
    if as_json:
        typer.echo(json.dumps({"model_version": clf.for_dataset_form.version, **evaluation.as_dict(), "png": str(path)}))
    else:  # the test images are in dataset form: the shipment's graph for that form answers them
        typer.echo(f"model {clf.for_dataset_form.version} ({clf.runtime_name})")
        typer.echo(evaluation.table())
        typer.echo(f"confusion matrix saved to {path}")


@app.command()
def export(
    run_dir: Annotated[str, typer.Argument(help="A finished `closetchat train` run folder.")],
    to: Annotated[str, typer.Option(help="Where the shipped weights go.")] = "ml/weights",
    dataset_run: Annotated[str | None, typer.Option(
        help="A Fashion-MNIST run to answer images already in the dataset's form (shipped in TO/dataset).")] = None,
) -> None:
    """Ship a run: int8 ONNX graph, calibrated temperature, unsure threshold and model card."""
    import json

    from ml.export import export_run

    card = export_run(run_dir, to, dataset_run=dataset_run)
    typer.echo(json.dumps({k: card.get(k) for k in ("version", "test_accuracy", "photo_graph_test_accuracy",
                                                    "dataset_graph", "temperature", "unsure_threshold",
                                                    "unsure_score") if k in card}))
