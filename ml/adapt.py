"""Adapting a Fashion-MNIST model to home photos (issue: real photos).

The shared photo set's train split, converted by the same preprocessing the app uses, is mixed
into Fashion-MNIST batches. A folder that fits several classes is a set of allowed labels: its
loss is -log of the probability mass on that set. Hats (none of the ten) are trained towards the
uniform distribution (outlier exposure, Hendrycks et al. 2019), which is what lets the app say
"not one of the ten I know". A fifth of the train photos is held out of training to choose the
unsure threshold, so the validation split stays a check, not a tuning set.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from ml import data, photos
from ml.augment import random_erase, random_hflip, random_translate
from ml.labels import LABELS
from ml.model import build_model
from ml.normalization import normalize
from ml.preprocess import open_image, to_fashion_mnist
from ml.train import accuracy, command_line, save_checkpoint, seed_everything, sgd

ADAPT_FOLDERS = ("t-shirt", "pants", "dress", "shoes", "outwear", "shirt", "hat")


@dataclass
class AdaptConfig:
    base_run: str = "runs/w32"
    out_dir: str = "runs/adapted"
    steps: int = 800
    fashion_batch: int = 192
    photo_batch: int = 64
    lr: float = 0.02
    weight_decay: float = 5e-4
    outlier_weight: float = 0.5
    freeze_bn: bool = True  # keep Fashion-MNIST's batch-norm statistics: photos must not shift them
    calibration_fraction: float = 0.2
    views_per_photo: int = 3
    seed: int = 0
    threads: int = 2
    bf16: bool = True
    command: str = field(default_factory=lambda: command_line(sys.argv))


def photo_views(photo_list, views: int, rng: np.random.Generator) -> tuple[np.ndarray, list[int]]:
    """Each photo converted `views` times: as is, and with random crops that keep most of it."""
    arrays, owners = [], []
    for i, p in enumerate(tqdm(photo_list, desc="converting photos", mininterval=5)):
        img = open_image(p.path)
        arrays.append(to_fashion_mnist(img))
        owners.append(i)
        w, h = img.size
        for _ in range(views - 1):
            fx, fy = rng.uniform(0.8, 1.0, 2)
            left, top = rng.uniform(0, 1 - fx) * w, rng.uniform(0, 1 - fy) * h
            crop = img.crop((int(left), int(top), int(left + fx * w), int(top + fy * h)))
            arrays.append(to_fashion_mnist(crop))
            owners.append(i)
    return np.stack(arrays), owners


def allowed_mask(photo_list) -> np.ndarray:
    mask = np.zeros((len(photo_list), len(LABELS)), dtype=np.float32)
    for i, p in enumerate(photo_list):
        for c in p.allowed:
            mask[i, c] = 1.0
    return mask  # an all-zero row is an outlier (hat)


def set_loss(logits: torch.Tensor, allowed: torch.Tensor, outlier_weight: float) -> torch.Tensor:
    """-log P(label in allowed set) for fitting photos; cross-entropy to uniform for outliers."""
    log_probs = F.log_softmax(logits.float(), dim=1)
    is_outlier = allowed.sum(1) == 0
    fit = -torch.logsumexp(log_probs.masked_fill(allowed == 0, -1e4), dim=1)
    uniform = -log_probs.mean(dim=1)
    return torch.where(is_outlier, outlier_weight * uniform, fit).mean()


def split_for_calibration(photo_list, fraction: float, seed: int):
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(photo_list))
    n_cal = int(len(photo_list) * fraction)
    cal = sorted(order[:n_cal].tolist())
    fit = sorted(order[n_cal:].tolist())
    return [photo_list[i] for i in fit], [photo_list[i] for i in cal]


def adapt(cfg: AdaptConfig) -> dict:
    torch.set_num_threads(cfg.threads)
    generator = seed_everything(cfg.seed)
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    base = json.loads((Path(cfg.base_run) / "result.json").read_text())
    model = build_model(base["width"]).to(memory_format=torch.channels_last)
    state = torch.load(Path(cfg.base_run) / "model.pt", weights_only=True)
    model.load_state_dict({k: v.float() for k, v in state.items()})
    normalization = base["normalization"]

    train_split, val_split = data.train_validation_split(data.load_split("train"))
    fit_photos, cal_photos = split_for_calibration(
        photos.list_photos("train", folders=ADAPT_FOLDERS), cfg.calibration_fraction, cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    photo_x, owners = photo_views(fit_photos, cfg.views_per_photo, rng)
    photo_allowed = allowed_mask(fit_photos)[owners]
    print(f"{len(fit_photos)} photos ({len(photo_x)} views) to adapt on, {len(cal_photos)} held out", flush=True)

    optimizer = sgd(model, cfg.lr, cfg.weight_decay)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=cfg.lr, total_steps=cfg.steps,
                                                    pct_start=0.1, anneal_strategy="cos")
    criterion = nn.CrossEntropyLoss(label_smoothing=0.1)
    fashion_images = torch.from_numpy(train_split.images)
    fashion_labels = torch.from_numpy(train_split.labels)
    photo_images = torch.from_numpy(photo_x)
    photo_targets = torch.from_numpy(photo_allowed)

    def prepare(x):
        x = x.float().div_(255.0).unsqueeze(1)
        x = random_translate(x, 2, generator)
        x = random_hflip(x, generator)
        x = random_erase(x, generator, p=0.3)
        return normalize(x, normalization).contiguous(memory_format=torch.channels_last)

    model.train()
    if cfg.freeze_bn:
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.eval()  # use (and keep) the running statistics; the affine weights still learn
    started = time.perf_counter()
    bar = tqdm(range(cfg.steps), desc="adapting", mininterval=10)
    running = []
    for step in bar:
        fi = torch.randint(0, len(fashion_images), (cfg.fashion_batch,), generator=generator)
        pi = torch.randint(0, len(photo_images), (cfg.photo_batch,), generator=generator)
        x = prepare(torch.cat([fashion_images[fi], photo_images[pi]]))
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg.bf16):
            logits = model(x)
        loss = criterion(logits[: cfg.fashion_batch].float(), fashion_labels[fi]) + set_loss(
            logits[cfg.fashion_batch :], photo_targets[pi], cfg.outlier_weight)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        running.append(loss.item())
        if step % 25 == 0:
            bar.set_postfix(loss=f"{np.mean(running[-25:]):.4f}")
    elapsed = time.perf_counter() - started
    model.eval()
    val_acc = accuracy(model, val_split, normalization)
    print(f"adapted in {elapsed:.0f}s; Fashion-MNIST validation accuracy {val_acc:.4f}", flush=True)
    save_checkpoint(out / "best.pt", model=model.state_dict(), val_acc=val_acc)
    torch.save({k: v.half() for k, v in model.state_dict().items()}, out / "model.pt")

    test_split = data.load_split("test")
    result = dict(base)
    result.update({
        "val_accuracy": round(val_acc, 5),
        "test_accuracy": round(accuracy(model, test_split, normalization), 5),
        "base_run": {k: base[k] for k in ("val_accuracy", "test_accuracy", "epochs_run", "train_seconds")},
        "adaptation": {**asdict(cfg), "seconds": round(elapsed, 1), "photos": len(fit_photos),
                       "views": len(photo_x), "calibration_photos": [str(p.path.relative_to(photos.photos_dir()))
                                                                     for p in cal_photos]},
    })
    (out / "result.json").write_text(json.dumps(result, indent=2))
    print(json.dumps({k: result[k] for k in ("val_accuracy", "test_accuracy")}), flush=True)
    return result


def mix_weights(base: dict, adapted: dict, alpha: float) -> dict:
    """(1-alpha)·base + alpha·adapted for floating-point tensors (float32); others from adapted."""
    return {k: ((1 - alpha) * base[k].float() + alpha * adapted[k].float())
            if base[k].is_floating_point() else adapted[k] for k in base}


def blend(base_run: str | Path, adapted_run: str | Path, alpha: float, out_dir: str | Path) -> dict:
    """Weight-space ensembling (WiSE-FT, Wortsman et al. 2022): (1-alpha)·base + alpha·adapted.

    Fine-tuning on photos trades Fashion-MNIST accuracy for photo accuracy; interpolating the
    weights walks along that trade, and alpha is chosen on validation data (Fashion-MNIST
    validation and the held-out calibration photos), never on the test sets.
    """
    base_run, adapted_run, out = Path(base_run), Path(adapted_run), Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    base = torch.load(base_run / "model.pt", weights_only=True)
    adapted = torch.load(adapted_run / "model.pt", weights_only=True)
    mixed = {k: v.half() if v.is_floating_point() else v for k, v in mix_weights(base, adapted, alpha).items()}
    torch.save(mixed, out / "model.pt")
    result = json.loads((adapted_run / "result.json").read_text())
    result["adaptation"]["blend"] = {"alpha": alpha, "base_run": str(base_run), "adapted_run": str(adapted_run)}
    (out / "result.json").write_text(json.dumps(result, indent=2))
    return result
