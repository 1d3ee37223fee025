"""Read-only shapes handed to templates and JSON: what a stored prediction means to a reader."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property

from backend.models import Prediction
from ml import LABELS


@dataclass(frozen=True)
class UploadView:
    """What a thread shows of a photo: the links to it and its name."""

    id: str
    filename: str


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
        return cls(
            id=row.id, filename=row.filename, label=row.label, index=row.label_index,
            confidence=row.confidence, probs_json=row.probs_json, unsure=row.unsure,
            corrected_label=row.corrected_label, model_version=row.model_version,
            upload_id=row.upload_id, conversation_id=row.conversation_id, created_at=row.created_at, k=k,
        )

    @classmethod
    def of_values(cls, values: dict, k: int = 3) -> PredictionView:
        """From a Prediction row's column values (a prediction just made, not read back)."""
        return cls(
            id=values["id"], filename=values["filename"], label=values["label"], index=values["label_index"],
            confidence=values["confidence"], probs_json=values["probs_json"], unsure=values["unsure"],
            corrected_label=values["corrected_label"], model_version=values["model_version"],
            upload_id=values["upload_id"], conversation_id=values["conversation_id"],
            created_at=values["created_at"], k=k,
        )

    # parsed only when shown: a history page of fifty rows shows neither
    @cached_property
    def probs(self) -> tuple[float, ...]:
        return tuple(json.loads(self.probs_json))

    @cached_property
    def top_k(self) -> tuple[tuple[str, float], ...]:
        probs = self.probs
        order = sorted(range(len(probs)), key=lambda i: -probs[i])[: self.k]
        return tuple((LABELS[i], probs[i]) for i in order)
