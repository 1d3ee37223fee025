"""Adapting the Fashion-MNIST model to home photos, each photo trained on its own class.

The shared photo set's train split, converted by the same preprocessing the app uses, is mixed
into Fashion-MNIST batches. Every photo is trained towards its own class (a photo between two
classes towards the pair: -log of their summed probability). An earlier version trained each
folder towards a set of "allowed" classes, and the model learned one class per folder (every
shoe an "Ankle boot"). Classes are sampled towards balance (a sandal is as rare as 1 photo in 50),
hats are trained towards the uniform distribution (outlier exposure, Hendrycks et al. 2019) so
the app can say "not one of the ten I know", and a stratified fifth of the train photos is held
out to calibrate and choose on: the validation split stays a check, not a tuning set.

Extra labelled photos (a History corrections zip, or a folder with one subfolder per class) join
the photos trained on; a fifth of them is held out too, so `closetchat adapt` can compare the
shipment before and after on photos neither saw.
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
from PIL import Image, ImageEnhance
from torch import nn
from tqdm import tqdm

from ml import data, photos
from ml.augment import random_erase, random_hflip, random_translate
from ml.labelled import LabelledImage, read_labelled
from ml.model import build_model, widen_stem
from ml.normalization import normalize
from ml.preprocess import to_fashion_mnist, upsample, work_size
from ml.train import accuracy, command_line, distillation_loss, load_teachers, machine_line, save_checkpoint, seed_everything, sgd

ADAPT_FOLDERS = photos.SCORED_FOLDERS + photos.OUTLIER_FOLDERS


@dataclass
class AdaptConfig:
    base: str = "ml/weights/dataset"  # a shipment folder (model_card.json) or a training run (result.json)
    out_dir: str = "runs/adapted"
    steps: int = 1000
    fashion_batch: int = 192
    photo_batch: int = 64
    lr: float = 0.004
    weight_decay: float = 5e-4
    outlier_weight: float = 0.5
    balance: float = 0.5  # a photo is drawn with weight (its class's photo count)^-balance: 1 = classes alike
    freeze_bn: bool = True  # keep Fashion-MNIST's batch-norm statistics: photos must not shift them
    held_out_fraction: float = 0.2
    views_per_photo: int = 6
    extra: str | None = None  # labelled photos to add: a corrections zip or a folder of class folders
    teachers: list[str] = field(default_factory=list)  # photo graphs to distil from on the photos (their mean probs)
    distill_weight: float = 0.0  # share of the photo loss given to matching the teachers
    distill_temperature: float = 2.0
    input_size: int = 28  # 56: the photo graph sees photos at twice the detail (ml.model.widen_stem)
    shared_photos: bool = True  # train on the shared photo set's train split too (when it is there)
    seed: int = 0
    threads: int = 2
    bf16: bool = True
    command: str = field(default_factory=lambda: command_line(sys.argv))


def shared_photos() -> list[LabelledImage]:
    return [LabelledImage(p.relative(), p.classes, path=p.path) for p in photos.list_photos("train", folders=ADAPT_FOLDERS)]


def stratified_hold_out(items: list[LabelledImage], fraction: float, seed: int) -> tuple[list, list]:
    """(train, held out): the same fraction of every class held out, outliers counted as one class.
    A class with two or more items keeps at least one back, so a small corrections zip still has
    photos to judge the new graph on."""
    rng = np.random.default_rng(seed)
    held = set()
    for cls in sorted({i.own_class for i in items}):
        members = [k for k, i in enumerate(items) if i.own_class == cls]
        count = round(len(members) * fraction)
        if fraction > 0 and len(members) >= 2:
            count = max(1, count)
        held.update(rng.permutation(members)[:count].tolist())
    return [i for k, i in enumerate(items) if k not in held], [i for k, i in enumerate(items) if k in held]


def augmented_view(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A plausible other shot of the same garment: cropped a little, turned a few degrees, lit differently."""
    w, h = img.size
    fx, fy = rng.uniform(0.75, 1.0, 2)
    left, top = rng.uniform(0, 1 - fx) * w, rng.uniform(0, 1 - fy) * h
    view = img.convert("RGB").crop((int(left), int(top), int(left + fx * w), int(top + fy * h)))
    corner = view.getpixel((0, 0))
    view = view.rotate(float(rng.uniform(-12, 12)), resample=Image.Resampling.BILINEAR, fillcolor=corner)
    view = ImageEnhance.Brightness(view).enhance(float(rng.uniform(0.75, 1.25)))
    return ImageEnhance.Contrast(view).enhance(float(rng.uniform(0.75, 1.25)))


def photo_views(items: list[LabelledImage], views: int, rng: np.random.Generator,
                size: int = 28) -> tuple[np.ndarray, np.ndarray]:
    """Each photo converted `views` times: as it is, then augmented; and whose view each one is."""
    arrays, owners = [], []
    for i, item in enumerate(tqdm(items, desc="converting photos", mininterval=5)):
        img = item.open(draft_size=work_size(size))
        arrays.append(to_fashion_mnist(img, size))
        arrays.extend(to_fashion_mnist(augmented_view(img, rng), size) for _ in range(views - 1))
        owners.extend([i] * views)
    return np.stack(arrays), np.array(owners)


def sampling_weights(items: list[LabelledImage], balance: float) -> np.ndarray:
    own = np.array([i.own_class for i in items])
    counts = {c: int((own == c).sum()) for c in set(own.tolist())}
    weights = np.array([counts[c] ** -balance for c in own], dtype=np.float64)
    return weights / weights.sum()


def photo_loss(logits: torch.Tensor, right: torch.Tensor, outlier_weight: float) -> torch.Tensor:
    """-log P(one of the photo's right classes); cross-entropy to uniform for outliers."""
    log_probs = F.log_softmax(logits.float(), dim=1)
    is_outlier = right.sum(1) == 0
    fit = -torch.logsumexp(log_probs.masked_fill(right == 0, -1e4), dim=1)
    uniform = -log_probs.mean(dim=1)
    return torch.where(is_outlier, outlier_weight * uniform, fit).mean()


def load_base(folder: Path) -> tuple[dict, dict]:
    """Float weights and the facts a result needs, from a shipment folder or a training run."""
    state = {k: v.float() for k, v in torch.load(folder / "model.pt", weights_only=True).items()}
    if (folder / "result.json").exists():
        return state, json.loads((folder / "result.json").read_text())
    card = json.loads((folder / "model_card.json").read_text())
    base = card.get("base_run", {})
    return state, {
        **{k: card[k] for k in ("architecture", "width", "parameters", "normalization", "data_sha256")},
        **{k: card["training"][k] for k in ("epochs_run", "best_epoch", "train_seconds", "train_images",
                                              "config", "machine", "history")},
        "val_accuracy": base.get("val_accuracy", card["validation"]["accuracy"]),
        "test_accuracy": base.get("test_accuracy", card.get("photo_graph_test_accuracy", card["test_accuracy"])),
        "shipment": card["version"],
        **({"warm_start": card["training"]["warm_start"]} if "warm_start" in card["training"] else {}),
    }


def photo_objective(logits: torch.Tensor, x: torch.Tensor, right: torch.Tensor, teachers: list[nn.Module],
                    cfg: AdaptConfig) -> torch.Tensor:
    """The photo part of a batch's loss: each photo towards its own class (photo_loss), blended,
    when distilling, with the teachers' answers on the same views, which say more than one label."""
    loss = photo_loss(logits, right, cfg.outlier_weight)
    if not teachers:
        return loss
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg.bf16):
        kd = distillation_loss(logits, teachers, x, cfg.distill_temperature)
    return (1 - cfg.distill_weight) * loss + cfg.distill_weight * kd


def start_model(state: dict, base: dict, size: int) -> nn.Module:
    """The network to adapt: the base's own, or a 28-px base behind the 56-px stem (ml.model.widen_stem)."""
    base_size = base.get("input_size", 28)
    model = build_model(base["width"], size).to(memory_format=torch.channels_last)
    if size == base_size:
        model.load_state_dict(state)
    elif (base_size, size) == (28, 56):
        model.load_state_dict(widen_stem(state))
    else:
        raise SystemExit(f"a {base_size}-px base cannot be adapted at {size} px")
    return model


def photo_teachers(cfg: AdaptConfig, held_items: list[LabelledImage]) -> list[nn.Module]:
    """The graphs to distil from. Each must be a 28-px photo graph whose adaptation held out the
    very photos this run holds out: a teacher that trained on them would leak them into the figures
    chosen on."""
    if bool(cfg.teachers) != (cfg.distill_weight > 0):
        raise SystemExit("distillation needs both --teacher and a --distill-weight above 0")
    if cfg.teachers and cfg.input_size != 28:
        raise SystemExit("distillation is from 28-px photo graphs to a 28-px one")
    held = sorted(i.name for i in held_items)
    for path in cfg.teachers:
        result = Path(path).parent / "result.json"
        theirs = json.loads(result.read_text()).get("adaptation", {}).get("held_out") if result.exists() else None
        if theirs is None or sorted(theirs) != held:
            raise SystemExit(f"{path}: its run's result.json must show the same held-out photos as this run")
    return load_teachers(cfg.teachers, "cpu")


def adapt(cfg: AdaptConfig) -> dict:
    torch.set_num_threads(cfg.threads)
    generator = seed_everything(cfg.seed)
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    state, base = load_base(Path(cfg.base))
    size = cfg.input_size
    model = start_model(state, base, size)
    normalization = base["normalization"]

    train_split, val_split = data.train_validation_split(data.load_split("train"))
    fit_items, held_items = stratified_hold_out(
        shared_photos() if cfg.shared_photos and photos.available() else [], cfg.held_out_fraction, cfg.seed)
    extra_fit, extra_held = [], []
    if cfg.extra:
        extra_fit, extra_held = stratified_hold_out(read_labelled(cfg.extra), cfg.held_out_fraction, cfg.seed)
    fit_items += extra_fit
    if not fit_items:
        raise SystemExit(f"no photos to adapt on: shared photos not found at {photos.photos_dir()} and no --extra")
    teachers = photo_teachers(cfg, held_items + extra_held)  # refused before the photos are converted
    rng = np.random.default_rng(cfg.seed)
    photo_x, owners = photo_views(fit_items, cfg.views_per_photo, rng, size)
    photo_right = torch.from_numpy(photos.right_classes(fit_items).astype(np.float32))
    draw = torch.from_numpy(sampling_weights(fit_items, cfg.balance))
    print(f"{len(fit_items)} photos ({len(photo_x)} views) to adapt on, {len(held_items) + len(extra_held)} held out",
          flush=True)

    optimizer = sgd(model, cfg.lr, cfg.weight_decay)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=cfg.lr, total_steps=cfg.steps,
                                                    pct_start=0.1, anneal_strategy="cos")
    criterion = nn.CrossEntropyLoss(label_smoothing=0.1)
    fashion_images = torch.from_numpy(upsample(train_split.images, size))  # at the graph's size, once
    fashion_labels = torch.from_numpy(train_split.labels)
    views = torch.from_numpy(photo_x).view(len(fit_items), cfg.views_per_photo, size, size)

    def prepare(x):
        x = x.float().div_(255.0).unsqueeze(1)
        x = random_translate(x, 2 * size // 28, generator)
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
        pi = torch.multinomial(draw, cfg.photo_batch, replacement=True, generator=generator)
        vi = torch.randint(0, cfg.views_per_photo, (cfg.photo_batch,), generator=generator)
        x = prepare(torch.cat([fashion_images[fi], views[pi, vi]]))
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg.bf16):
            logits = model(x)
        loss = criterion(logits[: cfg.fashion_batch].float(), fashion_labels[fi]) + photo_objective(
            logits[cfg.fashion_batch :], x[cfg.fashion_batch :], photo_right[pi], teachers, cfg)
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

    result = {k: v for k, v in base.items() if k not in ("adaptation", "base_run")}
    result.update({
        "input_size": size,
        "val_accuracy": round(val_acc, 5),
        "test_accuracy": round(accuracy(model, data.load_split("test"), normalization), 5),
        "base_run": {k: base[k] for k in ("val_accuracy", "test_accuracy", "epochs_run", "train_seconds")},
        "adaptation": {**asdict(cfg), "seconds": round(elapsed, 1), "machine": machine_line("cpu"),
                       "photos": len(fit_items), "extra_photos": len(extra_fit), "views": len(photo_x),
                       "held_out": [i.name for i in held_items],
                       "extra_held_out": [i.name for i in extra_held]},
    })
    (out / "result.json").write_text(json.dumps(result, indent=2))
    print(json.dumps({k: result[k] for k in ("val_accuracy", "test_accuracy")}), flush=True)
    return result
