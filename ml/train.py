"""Training loop: read top to bottom. Options at the top (TrainConfig), one function per phase,
plain checkpoints with resume, early stopping on validation accuracy, a model card at the end."""

from __future__ import annotations

import json
import platform
import random
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from tqdm import tqdm

from ml import data
from ml.augment import random_erase, random_hflip, random_translate
from ml.labels import LABELS
from ml.model import ARCHITECTURE, build_model, count_parameters
from ml.normalization import normalize
from ml.preprocess import upsample


@dataclass
class TrainConfig:
    out_dir: str = "runs/latest"
    epochs: int = 36
    batch_size: int = 256
    width: int = 32
    lr: float = 0.2
    weight_decay: float = 5e-4
    label_smoothing: float = 0.1
    warmup_fraction: float = 0.2
    max_shift: int = 2
    erase_p: float = 0.5
    normalization: str = "dataset"
    patience: int = 8
    validate_from: int = 1  # first epoch validated: a fixed short schedule skips the early ones' cost
    seed: int = 0
    threads: int = 2
    bf16: bool = True
    train_limit: int = 0  # 0: all 54,000 training images; else a seeded subset (smoke tests)
    stop_after: int = 0  # stop this invocation after N epochs (continue later with resume)
    init_from: str | None = None  # start from these weights (a warm restart) instead of random ones
    teachers: list[str] = field(default_factory=list)  # checkpoints to distil from (their mean probs)
    distill_weight: float = 0.0  # share of the loss given to matching the teachers (0: plain labels)
    distill_temperature: float = 2.0
    ema_decay: float = 0.0  # 0: off; else also validate a moving average of the weights, keep the better
    device: str = "cpu"  # "cuda" trains on a GPU where one is lent; the shipped recipe is CPU-sized
    dataset_dir: str | None = None
    command: str = field(default_factory=lambda: command_line(sys.argv))


def command_line(argv: list[str]) -> str:
    """The command as a user would type it: `python -m backend.cli train …` reads `closetchat train …`."""
    program = "closetchat" if argv and argv[0].endswith(("closetchat", "cli.py")) else argv[0] if argv else ""
    return " ".join([program, *argv[1:]])


def training_splits(dataset_dir: str | None, limit: int = 0, seed: int = 0) -> tuple[data.Split, data.Split]:
    """The 54,000 / 6,000 split; with limit, a seeded subset of the training part (smoke tests)."""
    train_split, val_split = data.train_validation_split(data.load_split("train", dataset_dir))
    if limit:
        keep = np.sort(np.random.default_rng(seed).permutation(len(train_split))[:limit])
        train_split = data.Split(train_split.images[keep], train_split.labels[keep])
    return train_split, val_split


def seed_everything(seed: int) -> torch.Generator:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def to_input(images: np.ndarray | torch.Tensor, normalization: str, device: str = "cpu") -> torch.Tensor:
    """uint8 [N,28,28] → normalised float [N,1,28,28] in channels-last layout."""
    x = torch.tensor(np.asarray(images)).to(device).float().div_(255.0).unsqueeze(1)
    return normalize(x, normalization).contiguous(memory_format=torch.channels_last)


def load_weights(path: str | Path) -> dict[str, torch.Tensor]:
    """A state dict from a checkpoint (best.pt / last.pt) or from exported weights (model.pt)."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    state = state.get("model", state)
    return {k: v.float() if v.is_floating_point() else v for k, v in state.items()}


def load_teachers(paths: list[str], device: str) -> list[nn.Module]:
    """Frozen teacher networks; each one's width is read off its first convolution."""
    teachers = []
    for path in paths:
        state = load_weights(path)
        teacher = build_model(state["features.0.0.weight"].shape[0])
        teacher.load_state_dict(state)
        teachers.append(teacher.to(device, memory_format=torch.channels_last).eval().requires_grad_(False))
        print(f"distilling from {path} (width {teacher.width})", flush=True)
    return teachers


def distillation_loss(logits: torch.Tensor, teachers: list[nn.Module], x: torch.Tensor, t: float):
    """KL from the teachers' mean tempered probabilities to the student's (Hinton et al. 2015),
    scaled by t² so its gradients keep their size as the temperature changes."""
    with torch.no_grad():
        target = torch.stack([torch.softmax(teacher(x).float() / t, dim=1) for teacher in teachers]).mean(0)
    log_student = torch.log_softmax(logits.float() / t, dim=1)
    return nn.functional.kl_div(log_student, target, reduction="batchmean") * t * t


def sgd(model: nn.Module, lr: float, weight_decay: float) -> torch.optim.SGD:
    """Nesterov SGD with weight decay on weights only (not on biases or batch-norm scales)."""
    decay = [p for p in model.parameters() if p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.ndim <= 1]
    return torch.optim.SGD([{"params": decay, "weight_decay": weight_decay},
                            {"params": no_decay, "weight_decay": 0}], lr=lr, momentum=0.9, nesterov=True)


def make_optimizer(model: nn.Module, cfg: TrainConfig, steps_per_epoch: int):
    optimizer = sgd(model, cfg.lr, cfg.weight_decay)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer,
        max_lr=cfg.lr,
        epochs=cfg.epochs,
        steps_per_epoch=steps_per_epoch,
        pct_start=cfg.warmup_fraction,
        anneal_strategy="linear",
        div_factor=10,
        final_div_factor=100,
    )
    return optimizer, scheduler


def augmented(batch: torch.Tensor, cfg: TrainConfig, generator: torch.Generator) -> torch.Tensor:
    """uint8 [N,28,28] → the training view: shifted, flipped, erased, normalised, channels-last."""
    x = batch.float().div_(255.0).unsqueeze(1)
    x = random_translate(x, cfg.max_shift, generator)
    x = random_hflip(x, generator)
    x = random_erase(x, generator, p=cfg.erase_p)
    return normalize(x, cfg.normalization).contiguous(memory_format=torch.channels_last)


def train_one_epoch(model, optimizer, scheduler, images: torch.Tensor, labels: torch.Tensor, cfg, generator,
                    desc: str, teachers: list[nn.Module] = (), ema: AveragedModel | None = None):
    """One pass over the shuffled training images (uint8, already on the device) with augmentation;
    returns the mean loss. ema, when given, takes in the weights after every step."""
    model.train()
    criterion = nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
    order = torch.randperm(len(labels), generator=generator).to(cfg.device)
    steps = len(labels) // cfg.batch_size  # drop the ragged last batch: BN dislikes tiny ones
    total, bar = torch.zeros((), device=cfg.device), tqdm(range(steps), desc=desc, unit="batch",
                                                          leave=True, mininterval=5)
    for step in bar:
        idx = order[step * cfg.batch_size : (step + 1) * cfg.batch_size]
        x = augmented(images[idx], cfg, generator)
        with torch.autocast(torch.device(cfg.device).type, dtype=torch.bfloat16, enabled=cfg.bf16):
            logits = model(x)
            loss = criterion(logits, labels[idx])
            if teachers and cfg.distill_weight:
                kd = distillation_loss(logits, teachers, x, cfg.distill_temperature)
                loss = (1 - cfg.distill_weight) * loss + cfg.distill_weight * kd
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        if ema is not None:
            ema.update_parameters(model)
        total += loss.detach()
        if step % 20 == 0:
            bar.set_postfix(loss=f"{total.item() / (step + 1):.4f}", lr=f"{scheduler.get_last_lr()[0]:.4f}")
    bar.close()
    return total.item() / max(steps, 1)


@torch.inference_mode()
def predict_logits(model, images: np.ndarray, normalization: str, bf16: bool = False, tta: bool = True):
    """Logits for uint8 images, batched; with tta, averaged with the horizontally flipped view.
    Runs on the model's device in float32; returns a CPU tensor."""
    model.eval()
    device = next(model.parameters()).device
    out = []
    for start in range(0, len(images), 1000):
        x = to_input(upsample(np.asarray(images[start : start + 1000]), model.input_size), normalization, device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            logits = model(x).float()
            if tta:
                logits = (logits + model(x.flip(3)).float()) / 2
        out.append(logits.cpu())
    return torch.cat(out)


def accuracy(model, split: data.Split, normalization: str, tta: bool = True, bf16: bool = False) -> float:
    logits = predict_logits(model, split.images, normalization, bf16=bf16, tta=tta)
    return float((logits.argmax(1).numpy() == split.labels).mean())


def machine_line(device: str) -> str:
    """Where a run trained, for the model card: CPU threads, or the GPU's name."""
    where = (torch.cuda.get_device_name(device) if torch.device(device).type == "cuda"
             else f"{torch.get_num_threads()} threads")
    return f"{platform.machine()} {where}, torch {torch.__version__}"


def save_checkpoint(path: Path, **state) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(path)  # atomic: a crash mid-write never leaves a broken checkpoint


def moving_average(model: nn.Module, decay: float) -> AveragedModel | None:
    """An exponential moving average of the weights and batch-norm statistics (as timm's ModelEmaV2):
    in a short schedule the average of the last few hundred steps generalises better than the last."""
    if not decay:
        return None
    return AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)


def best_of(model: nn.Module, ema: AveragedModel | None, val_split: data.Split, cfg: TrainConfig):
    """Validation accuracy of the weights and, with a moving average, of the average too: the better
    of the two on validation is the one kept (bf16: half the fp32 cost)."""
    scores = {"weights": accuracy(model, val_split, cfg.normalization, bf16=cfg.bf16)}
    if ema is None:
        return scores["weights"], model, scores
    scores["average"] = accuracy(ema.module, val_split, cfg.normalization, bf16=cfg.bf16)
    if scores["average"] >= scores["weights"]:
        return scores["average"], ema.module, scores
    return scores["weights"], model, scores


def train(cfg: TrainConfig, resume: bool = False) -> dict:
    """Train, keep the best validation checkpoint, evaluate it on test, write weights + card."""
    torch.set_num_threads(cfg.threads)
    generator = seed_everything(cfg.seed)
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    train_split, val_split = training_splits(cfg.dataset_dir, cfg.train_limit, cfg.seed)

    model = build_model(cfg.width)
    if cfg.init_from:
        model.load_state_dict(load_weights(cfg.init_from))
        print(f"starting from the weights in {cfg.init_from}", flush=True)
    model = model.to(cfg.device, memory_format=torch.channels_last)
    ema = moving_average(model, cfg.ema_decay)
    teachers = load_teachers(cfg.teachers, cfg.device)
    if torch.device(cfg.device).type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed input size: let cuDNN pick its fastest kernels
    train_images = torch.from_numpy(train_split.images).to(cfg.device)  # once, not every epoch
    train_labels = torch.from_numpy(train_split.labels).to(cfg.device)
    steps = len(train_split) // cfg.batch_size
    optimizer, scheduler = make_optimizer(model, cfg, steps)
    history, best_acc, best_epoch, start_epoch, elapsed = [], -1.0, 0, 0, 0.0
    last = out / "last.pt"
    if resume and last.exists():
        state = torch.load(last, map_location="cpu", weights_only=False)
        if state["config"]["epochs"] != cfg.epochs:
            raise ValueError(f"{last} was started with --epochs {state['config']['epochs']}; resume with the same")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        if ema is not None:
            ema.load_state_dict(state["ema"])
        generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        history, best_acc, best_epoch = state["history"], state["best_acc"], state["best_epoch"]
        start_epoch, elapsed = state["epoch"] + 1, state["elapsed"]
        print(f"resumed from {last} at epoch {start_epoch + 1}", flush=True)

    for epoch in range(start_epoch, cfg.epochs):
        t0 = time.perf_counter()
        loss = train_one_epoch(
            model, optimizer, scheduler, train_images, train_labels, cfg, generator,
            f"epoch {epoch + 1}/{cfg.epochs}", teachers, ema,
        )
        validate = epoch + 1 >= cfg.validate_from or epoch + 1 == cfg.epochs
        val_acc, scored, scores = best_of(model, ema, val_split, cfg) if validate else (None, model, {})
        elapsed += time.perf_counter() - t0
        history.append({"epoch": epoch + 1, "loss": round(loss, 5),
                        "val_acc": round(val_acc, 5) if validate else None, "elapsed_s": round(elapsed, 1),
                        **({f"val_acc_{name}": round(v, 5) for name, v in scores.items()} if "average" in scores else {})})
        shown = f"val_acc {val_acc:.4f}" if validate else "not validated"
        shown += f" (weights {scores['weights']:.4f}, moving average {scores['average']:.4f})" if "average" in scores else ""
        print(f"epoch {epoch + 1}: loss {loss:.4f} {shown} elapsed {elapsed:.0f}s", flush=True)
        if validate and val_acc > best_acc:
            best_acc, best_epoch = val_acc, epoch + 1
            save_checkpoint(out / "best.pt", model=scored.state_dict(), epoch=epoch, val_acc=val_acc)
        save_checkpoint(
            last, model=model.state_dict(), optimizer=optimizer.state_dict(),
            scheduler=scheduler.state_dict(), generator=generator.get_state(),
            torch_rng=torch.get_rng_state(), history=history, best_acc=best_acc,
            best_epoch=best_epoch, epoch=epoch, elapsed=elapsed, config=asdict(cfg),
            **({"ema": ema.state_dict()} if ema is not None else {}),
        )
        if validate and epoch + 1 - max(best_epoch, cfg.validate_from - 1) >= cfg.patience:
            print(f"early stop: no validation gain for {cfg.patience} epochs", flush=True)
            break
        if cfg.stop_after and epoch + 1 - start_epoch >= cfg.stop_after and epoch + 1 < cfg.epochs:
            print(f"paused after epoch {epoch + 1}; continue with --resume", flush=True)
            return {"paused": True, "history": history}

    model.load_state_dict(load_weights(out / "best.pt"))
    return write_run(model, out, RunSummary(cfg.width, cfg.normalization, history, best_epoch, best_acc, elapsed,
                                            len(train_split), asdict(cfg), cfg.device, cfg.dataset_dir))


@dataclass
class RunSummary:
    """What a finished run's card says about how it trained (train and swa share the card format)."""
    width: int
    normalization: str
    history: list
    best_epoch: int
    val_accuracy: float
    train_seconds: float
    train_images: int
    config: dict
    device: str = "cpu"
    dataset_dir: str | None = None
    epochs_run: int | None = None  # when the history is not one entry per epoch (swa: one per cycle)


def write_run(model: nn.Module, out: Path, run: RunSummary) -> dict:
    """Score the chosen weights on the test set once, write model.pt (half precision) + result.json."""
    test_split = data.load_split("test", run.dataset_dir)
    test_logits = predict_logits(model, test_split.images, run.normalization)
    test_pred = test_logits.argmax(1).numpy()
    per_class = {
        LABELS[c]: round(float((test_pred[test_split.labels == c] == c).mean()), 4) for c in range(10)
    }
    result = {
        "architecture": ARCHITECTURE,
        "width": run.width,
        "parameters": count_parameters(model),
        "normalization": run.normalization,
        "epochs_run": run.epochs_run or len(run.history),
        "best_epoch": run.best_epoch,
        "train_seconds": round(run.train_seconds, 1),
        "val_accuracy": round(run.val_accuracy, 5),
        "test_accuracy": round(float((test_pred == test_split.labels).mean()), 5),
        "test_accuracy_no_tta": round(accuracy(model, test_split, run.normalization, tta=False), 5),
        "test_per_class": per_class,
        "train_images": run.train_images,
        "data_sha256": data.checksums(run.dataset_dir),
        "history": run.history,
        "config": run.config,
        "machine": machine_line(run.device),
    }
    torch.save({k: v.cpu().half() if v.is_floating_point() else v.cpu() for k, v in model.state_dict().items()},
               out / "model.pt")
    (out / "result.json").write_text(json.dumps(result, indent=2))
    print(json.dumps({k: result[k] for k in ("val_accuracy", "test_accuracy", "train_seconds")}),
          flush=True)
    return result
