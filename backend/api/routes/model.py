"""GET /api/v1/model: which model answers, and its figures from the model card (and, where the
shipment has one, the graph that answers images already in Fashion-MNIST form)."""

from __future__ import annotations

from fastapi import APIRouter

from backend.core.deps import EngineDep
from backend.schemas import ModelInfo

router = APIRouter(prefix="/api/v1/model", tags=["model"])

CARD_KEYS = ("version", "architecture", "parameters", "normalization", "tta", "tta_gate", "temperature",
             "unsure_threshold", "unsure_score", "test_accuracy", "validation", "photos", "test_unsure_rate",
             "quantization", "exported_at")


@router.get("", response_model=ModelInfo)
def model_info(engine: EngineDep):
    clf = engine.classifier
    card = clf.card.figures
    per_class = card.get("test", {}).get("per_class")
    return ModelInfo(
        version=clf.version, classes=list(clf.labels), architecture=card.get("architecture", ""),
        parameters=card.get("parameters", 0), test_accuracy=card.get("test_accuracy"),
        temperature=clf.card.temperature, unsure_threshold=clf.card.unsure_threshold,
        unsure_score=clf.card.unsure_score, runtime=clf.runtime_name,
        card={**{k: card[k] for k in CARD_KEYS if k in card}, "test_per_class": per_class},
        dataset_graph=_graph_summary(clf.dataset_graph) if clf.dataset_graph else None,
    )


def _graph_summary(graph) -> dict:
    """The graph that answers images already in Fashion-MNIST form, in brief."""
    card = graph.card.figures
    return {"version": graph.version, "temperature": graph.card.temperature,
            "unsure_threshold": graph.card.unsure_threshold, "tta_gate": graph.card.tta_gate,
            **{k: card[k] for k in ("test_accuracy", "validation", "quantization") if k in card}}
