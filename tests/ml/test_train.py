"""A short real training run: the loss falls, checkpoints load, resume continues, export works."""

import json

import pytest
import torch

from ml.model import build_model, count_parameters, widen_stem
from ml.train import TrainConfig, train


def test_shipped_architecture_is_under_two_million_parameters(classifier):
    assert count_parameters(build_model(classifier.card.width)) <= 2_000_000


def test_a_56_px_graph_starts_as_the_28_px_one_it_widens():
    torch.manual_seed(0)
    small = build_model(8).eval()
    for module in small.modules():  # trained-looking batch norms, not the identity they start as
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-1, 1)
            module.running_var.uniform_(0.5, 2)
            module.weight.data.uniform_(0.5, 1.5)
    large = build_model(8, input_size=56).eval()
    large.load_state_dict(widen_stem(small.state_dict()))
    x = torch.randn(4, 1, 28, 28)
    with torch.no_grad():
        expected = small(x)
        assert torch.allclose(large(x.repeat_interleave(2, 2).repeat_interleave(2, 3)), expected, atol=1e-5)


@pytest.mark.slow  # training, the whole test set or a benchmark: CI runs it
def test_short_training_run_learns_and_resumes(tmp_path):
    paused = train(TrainConfig(out_dir=str(tmp_path / "run"), epochs=2, width=8, batch_size=128, lr=0.05,
                               train_limit=3072, threads=2, stop_after=1, validate_from=2))
    assert paused["paused"] and len(paused["history"]) == 1
    assert paused["history"][0]["val_acc"] is None  # before validate_from: not validated
    cfg = TrainConfig(out_dir=str(tmp_path / "run"), epochs=2, width=8, batch_size=128, lr=0.05,
                      train_limit=3072, threads=2, validate_from=2)
    result = train(cfg, resume=True)
    losses = [h["loss"] for h in result["history"]]
    assert losses[1] < losses[0], losses
    assert result["val_accuracy"] > 0.5  # far above chance (0.1) after two tiny epochs
    assert result["best_epoch"] == 2 and result["history"][1]["val_acc"] == result["val_accuracy"]
    model = build_model(8)
    model.load_state_dict(torch.load(tmp_path / "run" / "best.pt", weights_only=True)["model"])
    state = torch.load(tmp_path / "run" / "model.pt", weights_only=True)
    model.load_state_dict({k: v.float() for k, v in state.items()})
    saved = json.loads((tmp_path / "run" / "result.json").read_text())
    assert saved["parameters"] == count_parameters(model) and len(saved["data_sha256"]) == 4
    assert [h["epoch"] for h in result["history"]] == [1, 2]  # epoch 1 before the pause, 2 after
    # every residual branch learned: its last batch norm's scale left the 0 it starts at (a ReLU
    # after that batch norm kept every branch at exactly zero in the models trained before the fix)
    for block in (model.features[3], model.features[6], model.features[9]):
        assert block.body[1][1].weight.abs().max() > 1e-3

    # a warm restart: one gentle epoch from these weights keeps (about) what they knew, far above
    # what one epoch at that learning rate reaches from scratch (checked by hand: ~0.35)
    warm = train(TrainConfig(out_dir=str(tmp_path / "warm"), epochs=1, width=8, batch_size=128, lr=0.005,
                             train_limit=3072, threads=2, init_from=str(tmp_path / "run" / "best.pt")))
    assert warm["val_accuracy"] > result["val_accuracy"] - 0.03, (warm["val_accuracy"], result["val_accuracy"])

    # distillation alone (no label term): the student learns what the teacher knows
    taught = train(TrainConfig(out_dir=str(tmp_path / "taught"), epochs=1, width=8, batch_size=128, lr=0.05,
                               train_limit=3072, threads=2, teachers=[str(tmp_path / "run" / "model.pt")],
                               distill_weight=1.0))
    assert taught["val_accuracy"] > 0.3, taught["val_accuracy"]
    assert taught["config"]["teachers"] == [str(tmp_path / "run" / "model.pt")]

    # a moving average of the weights (of every step's: 3072 images / 128 = 24 steps) is validated
    # beside the weights, and best.pt keeps the one that validated better
    averaged = train(TrainConfig(out_dir=str(tmp_path / "ema"), epochs=1, width=8, batch_size=128, lr=0.05,
                                 train_limit=3072, threads=2, ema_decay=0.9))
    last = torch.load(tmp_path / "ema" / "last.pt", weights_only=False)
    best = torch.load(tmp_path / "ema" / "best.pt", weights_only=True)["model"]
    assert int(last["ema"]["n_averaged"]) == 24
    scores = averaged["history"][0]
    assert scores["val_acc"] == max(scores["val_acc_weights"], scores["val_acc_average"])
    weight = "features.3.body.0.0.weight"
    assert not torch.allclose(last["ema"][f"module.{weight}"], last["model"][weight])
    kept = last["ema"][f"module.{weight}"] if scores["val_acc_average"] >= scores["val_acc_weights"] else last["model"][weight]
    assert torch.equal(best[weight], kept)
    assert averaged["val_accuracy"] > 0.3, averaged["val_accuracy"]


@pytest.mark.slow  # training, the whole test set or a benchmark: CI runs it
def test_weight_averaging_averages_cycle_snapshots_and_resumes(tmp_path):
    from ml.swa import SwaConfig, swa

    base = train(TrainConfig(out_dir=str(tmp_path / "base"), epochs=2, width=8, batch_size=128, lr=0.05,
                             train_limit=3072, threads=2))
    options = dict(base_run=str(tmp_path / "base"), out_dir=str(tmp_path / "swa"), cycle_epochs=1, batch_size=128,
                   lr_max=0.02, lr_min=0.0002, train_limit=3072, threads=2)
    swa(SwaConfig(cycles=1, **options))
    first = torch.load(tmp_path / "swa" / "last.pt", weights_only=False)
    result = swa(SwaConfig(cycles=2, **options), resume=True)  # the second cycle only
    second = torch.load(tmp_path / "swa" / "last.pt", weights_only=False)

    assert [h["cycle"] for h in result["history"]] == [1, 2] and result["epochs_run"] == 2
    weight = "features.3.body.0.0.weight"  # a convolution inside a residual branch
    mean = (first["model"][weight] + second["model"][weight]) / 2
    assert not torch.allclose(first["model"][weight], second["model"][weight])  # the snapshots differ
    assert torch.allclose(second["averaged"][f"module.{weight}"], mean, atol=1e-6)
    assert int(second["averaged"]["n_averaged"]) == 2
    # the average answers about as well as the run it started from, and ships like a train run
    assert result["val_accuracy"] > base["val_accuracy"] - 0.05, (result["val_accuracy"], base["val_accuracy"])
    assert result["config"]["init_from"] == str(tmp_path / "base" / "best.pt")
    model = build_model(8)
    model.load_state_dict({k: v.float() for k, v in torch.load(tmp_path / "swa" / "model.pt").items()})
