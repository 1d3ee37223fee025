"""Read-only shapes handed to templates and JSON: what a stored prediction means to a reader."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property, partial

from backend.models import Prediction
from ml import LABELS, certainty


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
        return cls._from(partial(getattr, row), k)

    @classmethod
    def of_values(cls, values: dict, k: int = 3) -> PredictionView:
        """From a Prediction row's column values (a prediction just made, not read back)."""
        return cls._from(values.__getitem__, k)

    @classmethod
    def _from(cls, column: Callable[[str], object], k: int) -> PredictionView:
        return cls(
            id=column("id"), filename=column("filename"), label=column("label"), index=column("label_index"),
            confidence=column("confidence"), probs_json=column("probs_json"), unsure=column("unsure"),
            corrected_label=column("corrected_label"), model_version=column("model_version"),
            upload_id=column("upload_id"), conversation_id=column("conversation_id"),
            created_at=column("created_at"), k=k,
        )

    @property
    def certainty(self) -> str:
        """"sure", "probably" or "unsure": how the reply words this answer."""
        return certainty(self.confidence, self.unsure)

    # parsed only when shown: a history page of fifty rows shows neither
    @cached_property
    def probs(self) -> tuple[float, ...]:
        return tuple(json.loads(self.probs_json))

    @cached_property
    def top_k(self) -> tuple[tuple[str, float], ...]:
        probs = self.probs
        order = sorted(range(len(probs)), key=lambda i: -probs[i])[: self.k]
        return tuple((LABELS[i], probs[i]) for i in order)
