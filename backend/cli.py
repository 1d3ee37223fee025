"""`closetchat` command line: serve the app, train and evaluate the model, classify files."""

from __future__ import annotations

import dataclasses
from typing import Annotated

import typer

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)


@app.callback()
def main() -> None:
    """ClosetChat: what garment is this?"""


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
    base_run: Annotated[str, typer.Option(help="A finished `closetchat train` run.")] = "runs/w32",
    out_dir: str = "runs/adapted",
    steps: int = 800,
    lr: float = 0.02,
    views_per_photo: int = 3,
    photo_batch: int = 64,
    freeze_bn: bool = True,
    outlier_weight: Annotated[float, typer.Option(help="Weight of the hats-towards-uniform loss.")] = 0.5,
    seed: int = 0,
) -> None:
    """Adapt a trained model to home photos (shared clothing-photos train split)."""
    from ml.adapt import AdaptConfig
    from ml.adapt import adapt as run_adapt

    run_adapt(AdaptConfig(base_run=base_run, out_dir=out_dir, steps=steps, lr=lr, photo_batch=photo_batch,
                          views_per_photo=views_per_photo, freeze_bn=freeze_bn, outlier_weight=outlier_weight,
                          seed=seed))


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
def blend(
    base_run: Annotated[str, typer.Argument(help="The Fashion-MNIST run.")],
    adapted_run: Annotated[str, typer.Argument(help="Its photo-adapted run.")],
    alpha: Annotated[float, typer.Option(help="0: base, 1: adapted.")] = 0.5,
    out_dir: str = "runs/blended",
) -> None:
    """Interpolate base and adapted weights (WiSE-FT) to trade test accuracy for photo accuracy."""
    from ml.adapt import blend as run_blend

    run_blend(base_run, adapted_run, alpha, out_dir)
    typer.echo(f"blended weights in {out_dir}")


@app.command()
def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes (each loads the model).")] = 1,
    reload: bool = False,
    access_log: Annotated[bool, typer.Option(help="Log a line per request.")] = True,
    log_level: Annotated[str, typer.Option(help="critical | error | warning | info | debug")] = "info",
) -> None:
    """Run the web app (uvicorn backend.main:app) with the CLOSETCHAT_* settings; several workers
    each get their own SO_REUSEPORT socket (backend/serving.py)."""
    options = {"proxy_headers": True, "server_header": False, "access_log": access_log, "log_level": log_level}
    if reload:
        import uvicorn

        uvicorn.run("backend.main:app", host=host, port=port, reload=True, **options)
        return
    from backend import serving

    serving.run(host, port, workers, **options)


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


@app.command()
def predict(
    paths: Annotated[list[str], typer.Argument(help="Image files to classify.")],
    url: Annotated[str | None, typer.Option(help="A running ClosetChat server; default: the local model.")] = None,
    api_key: Annotated[str | None, typer.Option(envvar="CLOSETCHAT_API_KEY", help="Key for --url.")] = None,
) -> None:
    """Classify image files; one JSON line per file (errors included) on standard output."""
    import json
    from pathlib import Path

    if url:
        import httpx

        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        with httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=60) as client:
            for path in paths:
                try:
                    data = Path(path).read_bytes()
                except OSError as exc:
                    typer.echo(json.dumps({"path": path, "error": str(exc)}))
                    continue
                r = client.post("/api/v1/predictions", files=[("files", (Path(path).name, data))])
                body = r.json()
                entry = body.get("results", [body])[0]
                typer.echo(json.dumps({"path": path, **entry} if r.status_code < 300 or "results" in body
                                      else {"path": path, "status": r.status_code, "detail": body.get("detail")}))
        return

    from ml import Classifier, UnreadableImage, open_image

    clf = Classifier.load()
    for path in paths:
        if not Path(path).is_file():
            typer.echo(json.dumps({"path": path, "error": "no such file"}))
            continue
        try:
            result = clf.predict([open_image(path)])[0]
        except (UnreadableImage, OSError) as exc:
            typer.echo(json.dumps({"path": path, "error": str(exc)}))
            continue
        typer.echo(json.dumps({"path": path, "label": result.label, "index": result.index,
                               "confidence": round(result.confidence, 6), "unsure": result.unsure,
                               "probs": [round(p, 6) for p in result.probs],
                               "top_k": [{"label": name, "score": round(s, 6)} for name, s in result.top_k],
                               "model_version": clf.version}))


if __name__ == "__main__":
    app()
