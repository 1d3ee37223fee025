"""`closetchat` command line: serve the app, train and evaluate the model, classify files."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Optional

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
    patience: Annotated[int, typer.Option(help="Stop after this many epochs without validation gain.")] = 8,
    seed: int = 0,
    threads: int = 2,
    bf16: Annotated[bool, typer.Option(help="bfloat16 autocast (fast on AVX-512 BF16 CPUs).")] = True,
    train_limit: Annotated[int, typer.Option(help="Train on a seeded subset of this size (0: all).")] = 0,
    dataset_dir: Annotated[Optional[str], typer.Option(help="IDX folder; default $FASHION_MNIST_DIR.")] = None,
    stop_after: Annotated[int, typer.Option(help="Pause after this many epochs (0: run to the end).")] = 0,
    resume: Annotated[bool, typer.Option(help="Continue from OUT_DIR/last.pt.")] = False,
) -> None:
    """Train the classifier on Fashion-MNIST (54,000 train / 6,000 validation)."""
    from ml.train import TrainConfig, train as run_training

    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    cfg = TrainConfig(**{k: v for k, v in locals().items() if k in fields})
    run_training(cfg, resume=resume)


if __name__ == "__main__":
    app()
