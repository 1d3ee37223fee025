"""The inference API the web app and outside checks use: load once, predict batches.

Two interchangeable runtimes: ONNX Runtime (the fast default, ~1 ms a photo) and PyTorch (the
reference). Both run the same weights and agree within 1e-4; tests hold them to it.

A shipment may hold two graphs: the photo graph (the folder itself, adapted to home photos) and,
in its `dataset/` subfolder, a Fashion-MNIST graph for images already in the dataset's form (28×28,
gray, dark background). Adapting to photos costs a model this small Fashion-MNIST accuracy, so each
input goes to the graph made for its kind; which one is decided from the image alone.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from ml.labels import LABELS
from ml.normalization import network_input
from ml.preprocess import is_fashion_mnist_form, to_fashion_mnist

WEIGHTS_DIR = Path(__file__).parent / "weights"
DATASET_GRAPH_DIR = "dataset"  # the subfolder of a shipment with the graph for dataset-form images
TOP_K = 3
# At or above this calibrated probability an answer is said plainly ("That's a Sneaker"); below it,
# and above the card's unsure cut, it is hedged ("Probably a Sneaker"). Probabilities are calibrated
# on held-out photos, so "sure" means at least 9 answers in 10 of this confidence are right.
SURE_CONFIDENCE = 0.9


def certainty(confidence: float, unsure: bool) -> str:
    """How an answer is said: "unsure" (probably not one of the ten), "probably", or "sure"."""
    if unsure:
        return "unsure"
    return "sure" if confidence >= SURE_CONFIDENCE else "probably"


@dataclass(frozen=True)
class Prediction:
    label: str
    index: int
    confidence: float
    probs: tuple[float, ...]  # ten calibrated probabilities, Fashion-MNIST index order
    top_k: tuple[tuple[str, float], ...]
    unsure: bool  # "this doesn't look like one of the ten garments I know"
    familiarity: float = 0.0  # the score `unsure` cuts: higher looks more like the garments trained on
    model_version: str = ""  # the graph that answered

    @property
    def certainty(self) -> str:
        return certainty(self.confidence, self.unsure)


@dataclass
class ModelCard:
    version: str
    width: int
    normalization: str
    temperature: float = 1.0
    unsure_threshold: float = 0.0
    unsure_score: str = "max_probability"  # or "energy": see familiarity()
    tta: bool = True
    tta_gate: float | None = None  # skip the flipped view when the first view's top-two margin is this wide
    figures: dict = field(default_factory=dict)

    @classmethod
    def read(cls, path: Path) -> ModelCard:
        raw = json.loads(path.read_text())
        return cls(
            version=raw["version"],
            width=raw["width"],
            normalization=raw["normalization"],
            temperature=raw.get("temperature", 1.0),
            unsure_threshold=raw.get("unsure_threshold", 0.0),
            unsure_score=raw.get("unsure_score", "max_probability"),
            tta=raw.get("tta", True),
            tta_gate=raw.get("tta_gate"),
            figures=raw,
        )


class TorchRuntime:
    def __init__(self, weights: Path, width: int, threads: int) -> None:
        import torch

        from ml.model import build_model

        self._torch = torch
        torch.set_num_threads(threads)
        state = torch.load(weights, map_location="cpu", weights_only=True)
        self.model = build_model(width)
        self.model.load_state_dict({k: v.float() for k, v in state.items()})
        self.model.eval()

    def __call__(self, x: np.ndarray) -> np.ndarray:
        with self._torch.inference_mode():
            return self.model(self._torch.from_numpy(x)).numpy()


class OnnxRuntime:
    def __init__(self, path: Path, threads: int) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.input = self.session.get_inputs()[0].name

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input: x})[0]


class Classifier:
    """Fashion-MNIST classifier over photos or 28×28 arrays. Thread-safe, no autograd."""

    labels: tuple[str, ...] = LABELS

    def __init__(self, card: ModelCard, runtime, name: str, dataset_graph: Classifier | None = None) -> None:
        self.card = card
        self.version = card.version
        self.runtime_name = name
        self._run = runtime
        self._lock = threading.Lock()  # the torch runtime shares one module between threads
        self.dataset_graph = dataset_graph  # answers dataset-form images when the shipment has one

    @classmethod
    def load(cls, path: str | Path | None = None, runtime: str = "auto", threads: int = 1,
             with_dataset_graph: bool = True) -> Classifier:
        """Load weights from a folder holding model.pt/model.onnx and model_card.json, and its
        dataset/ graph when there is one (with_dataset_graph=False: this folder's graph alone)."""
        folder = Path(path) if path else WEIGHTS_DIR
        card = ModelCard.read(folder / "model_card.json")
        onnx_path = folder / "model.onnx"
        if runtime == "auto":
            runtime = "onnx" if onnx_path.exists() and _has_onnxruntime() else "torch"
        dataset_graph = None
        if with_dataset_graph and (folder / DATASET_GRAPH_DIR / "model_card.json").exists():
            dataset_graph = cls.load(folder / DATASET_GRAPH_DIR, runtime, threads, with_dataset_graph=False)
        if runtime == "onnx":
            return cls(card, OnnxRuntime(onnx_path, threads), "onnx", dataset_graph)
        return cls(card, TorchRuntime(folder / "model.pt", card.width, threads), "torch", dataset_graph)

    @property
    def for_dataset_form(self) -> Classifier:
        """The graph that answers images already in Fashion-MNIST form."""
        return self.dataset_graph or self

    @property
    def versions(self) -> dict[str, str]:
        """The graphs this classifier answers with, by the kind of input they take."""
        return {"photos": self.version, "dataset_form": self.for_dataset_form.version}

    def logits(self, x: np.ndarray) -> np.ndarray:
        """uint8 [N,28,28] → raw logits [N,10]. With flip averaging on, images whose first view is not
        clearly decided (top-two margin under the card's tta_gate) get the mirrored view too and the
        mean of both; clear ones keep the first view's logits (the same answers on validation, at
        about half the cost: see ml.calibrate.choose_tta_gate)."""
        return self._logits_and_probabilities(x)[0]

    def _logits_and_probabilities(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """logits(), and the calibrated probabilities when the flip gate computed them on these very
        logits (no image needed its second view), so that assess() need not compute them again."""
        batch = self._normalized(x)
        if len(batch) == 0:
            return np.zeros((0, len(self.labels)), dtype=np.float32), None
        out = np.array(self._infer(batch), dtype=np.float32)
        if not self.card.tta:
            return out, None
        probs = self._probabilities_of(out)
        again = self._undecided(probs)
        if not again.any():
            return out, probs
        flipped = self._infer(np.ascontiguousarray(batch[again][..., ::-1]))
        out[again] = (out[again] + flipped) / 2
        return out, None

    def _probabilities_of(self, logits: np.ndarray) -> np.ndarray:
        return softmax(logits / self.card.temperature)

    def view_logits(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Logits of the image and of its mirror image, both for every image (for calibration)."""
        batch = self._normalized(x)
        return self._infer(batch), self._infer(np.ascontiguousarray(batch[..., ::-1]))

    def needs_second_view(self, logits: np.ndarray) -> np.ndarray:
        """Which images the mirrored view is still run for: all, or those under the card's gate."""
        return self._undecided(self._probabilities_of(logits))

    def _undecided(self, probs: np.ndarray) -> np.ndarray:
        """needs_second_view, from the calibrated probabilities."""
        if self.card.tta_gate is None:
            return np.ones(len(probs), dtype=bool)
        return top_two_margin(probs) < self.card.tta_gate

    def _normalized(self, x: np.ndarray) -> np.ndarray:
        if x.ndim != 3 or x.shape[1:] != (28, 28):
            raise ValueError(f"expected uint8 [N,28,28], got {x.dtype} {list(x.shape)}")
        return network_input(x, self.card.normalization)

    def _infer(self, batch: np.ndarray) -> np.ndarray:
        if self.runtime_name == "torch":
            with self._lock:
                return self._run(batch)
        return self._run(batch)

    def predict_arrays(self, x: np.ndarray) -> np.ndarray:
        """Calibrated probabilities [N,10] for images already in Fashion-MNIST form (the dataset graph's)."""
        return self.for_dataset_form.probabilities(x)

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        """Calibrated probabilities [N,10] from this graph, whatever the shipment holds."""
        return self._calibrated(x)[1]

    def assess(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Calibrated probabilities [N,10] and familiarity [N] from one forward pass."""
        logits, probs = self._calibrated(x)
        return probs, familiarity(logits, self.card.temperature, self.card.unsure_score)

    def _calibrated(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Logits and calibrated probabilities, the flip gate's softmax reused where it still holds."""
        logits, probs = self._logits_and_probabilities(np.asarray(x, dtype=np.uint8))
        return logits, probs if probs is not None else self._probabilities_of(logits)

    def predict_explained(self, x: np.ndarray) -> list[Prediction]:
        """28×28 arrays → one Prediction each, from this graph."""
        probs, familiar = self.assess(x)
        return [self.explain(p, f) for p, f in zip(probs, familiar, strict=True)]

    def predict_routed(self, x: np.ndarray, dataset_form: np.ndarray) -> list[Prediction]:
        """28×28 arrays → one Prediction each: those whose source image was already in dataset form
        from the dataset graph, converted photos from this one (one forward pass per graph)."""
        dataset_form = np.asarray(dataset_form, dtype=bool)
        if self.dataset_graph is None or not dataset_form.any():
            return self.predict_explained(x)
        if dataset_form.all():
            return self.dataset_graph.predict_explained(x)
        out: list[Prediction | None] = [None] * len(x)
        for graph, rows in ((self.dataset_graph, np.flatnonzero(dataset_form)), (self, np.flatnonzero(~dataset_form))):
            for i, answer in zip(rows, graph.predict_explained(x[rows]), strict=True):
                out[i] = answer
        return out

    def predict(self, images: list[Image.Image]) -> list[Prediction]:
        """Images (photos of any size or mode, or dataset-form images) → one Prediction each."""
        if not images:
            return []
        dataset_form = [is_fashion_mnist_form(img) for img in images]
        return self.predict_routed(np.stack([to_fashion_mnist(img) for img in images]), np.array(dataset_form))

    def explain(self, probs: np.ndarray, familiar: float) -> Prediction:
        order = np.argsort(-probs)[:TOP_K].tolist()
        values = tuple(probs.tolist())  # Python floats, as float() makes them, in one call
        index = order[0]
        return Prediction(
            label=self.labels[index],
            index=index,
            confidence=values[index],
            probs=values,
            top_k=tuple((self.labels[i], values[i]) for i in order),
            unsure=bool(familiar < self.card.unsure_threshold),
            familiarity=float(familiar),
            model_version=self.version,
        )


def familiarity(logits: np.ndarray, temperature: float, score: str) -> np.ndarray:
    """How much each image looks like the garments the model knows; below the card's threshold
    the answer is "unsure". score "energy" is T·logsumexp(logits/T), the negative free energy of Liu et
    al. 2020: it keeps the logits' overall size, which softmax throws away, and on the photos held
    out of adaptation it separated hats from garments better than the top probability did."""
    z = logits / temperature
    if score == "energy":
        top = z.max(axis=1)
        return temperature * (top + np.log(np.exp(z - top[:, None]).sum(axis=1)))
    return softmax(z).max(axis=1)


def top_two_margin(probs: np.ndarray) -> np.ndarray:
    """Highest minus second-highest probability, per row."""
    top = np.partition(probs, -2, axis=1)[:, -2:]
    return top[:, 1] - top[:, 0]


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _has_onnxruntime() -> bool:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True
