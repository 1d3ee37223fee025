"""The read shape of a stored prediction for templates and JSON, built from its row."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property

from backend.models import Prediction
from ml import LABELS, certainty


@dataclass(frozen=True)
class PredictionView:
    id: str
    filename: str
    label: str
    index: int
    confidence: float
    probs_json: str
    unsure: bool
    corrected_label: str | None
    model_version: str
    upload_id: str
    conversation_id: str | None
    created_at: object
    k: int = 3

    @classmethod
    def of(cls, row: Prediction, k: int = 3) -> PredictionView:
        return cls(id=row.id, filename=row.filename, label=row.label, index=row.label_index,
                   confidence=row.confidence, probs_json=row.probs_json, unsure=row.unsure,
                   corrected_label=row.corrected_label, model_version=row.model_version, upload_id=row.upload_id,
                   conversation_id=row.conversation_id, created_at=row.created_at, k=k)

    @property
    def certainty(self) -> str:
        """"sure", "probably" or "unsure": how the reply words this answer."""
        return certainty(self.confidence, self.unsure)

    # parsed only when shown: a history page of fifty rows shows neither
    @cached_property
    def probs(self) -> tuple[float, ...]:
        return tuple(json.loads(self.probs_json))

    @cached_property
    def ranked(self) -> tuple[tuple[str, float], ...]:
        """All ten classes, most likely first."""
        probs = self.probs
        return tuple((LABELS[i], probs[i]) for i in sorted(range(len(probs)), key=lambda i: -probs[i]))

    @property
    def top_k(self) -> tuple[tuple[str, float], ...]:
        return self.ranked[: self.k]
