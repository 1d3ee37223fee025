"""Read-only shapes handed to templates and JSON: what a stored prediction means to a reader."""

from __future__ import annotations

from dataclasses import dataclass

from backend.models import Prediction
from ml import LABELS


@dataclass(frozen=True)
class PredictionView:
    id: str
    filename: str
    label: str
    index: int
    confidence: float
    probs: tuple[float, ...]
    top_k: tuple[tuple[str, float], ...]
    unsure: bool
    corrected_label: str | None
    model_version: str
    upload_id: str
    conversation_id: str | None
    created_at: object

    @classmethod
    def of(cls, row: Prediction, k: int = 3) -> PredictionView:
        probs = tuple(row.probs)
        order = sorted(range(len(probs)), key=lambda i: -probs[i])[:k]
        return cls(
            id=row.id, filename=row.filename, label=row.label, index=row.label_index,
            confidence=row.confidence, probs=probs,
            top_k=tuple((LABELS[i], probs[i]) for i in order), unsure=row.unsure,
            corrected_label=row.corrected_label, model_version=row.model_version,
            upload_id=row.upload_id, conversation_id=row.conversation_id, created_at=row.created_at,
        )
