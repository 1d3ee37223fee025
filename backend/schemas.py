"""What the JSON API returns: public shapes, never the table rows themselves."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from backend.models import Prediction
from backend.services.views import PredictionView
from ml import LABELS


class TopK(BaseModel):
    label: str
    score: float


class PredictionPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": {
        "id": "4f0c2b0e9d1a4c7e8b6a5d4c3b2a1f0e", "filename": "sneaker.jpg", "label": "Sneaker", "index": 7,
        "confidence": 0.97, "probs": [0.0, 0.0, 0.0, 0.0, 0.0, 0.02, 0.0, 0.97, 0.0, 0.01],
        "top_k": [{"label": "Sneaker", "score": 0.97}, {"label": "Sandal", "score": 0.02},
                  {"label": "Ankle boot", "score": 0.01}],
        "unsure": False, "corrected_label": None, "model_version": "closetnet-w32-0123abcd",
        "conversation_id": None, "created_at": "2026-11-24T18:00:00Z", "kind": "prediction"}})

    kind: Literal["prediction"] = Field("prediction", description="A stored prediction (see `results`)")
    id: str
    filename: str
    label: str
    index: int
    confidence: float
    probs: list[float] = Field(description="Ten probabilities in Fashion-MNIST class order")
    top_k: list[TopK]
    unsure: bool = Field(description="True when the image doesn't look like one of the ten classes")
    corrected_label: str | None
    model_version: str
    conversation_id: str | None
    created_at: datetime

    @classmethod
    def of(cls, row: Prediction, k: int = 3) -> PredictionPublic:
        view = PredictionView.of(row, k)  # its probabilities and top k, as the pages show them
        return cls(id=row.id, filename=row.filename, label=row.label, index=row.label_index,
                   confidence=row.confidence, probs=list(view.probs),
                   top_k=[TopK(label=label, score=score) for label, score in view.top_k], unsure=row.unsure,
                   corrected_label=row.corrected_label, model_version=row.model_version,
                   conversation_id=row.conversation_id, created_at=row.created_at)


class Classification(BaseModel):
    """An answer not kept (`?store=false`): the same fields as a prediction but no id, no image."""

    kind: Literal["classification"] = "classification"
    filename: str
    label: str
    index: int
    confidence: float
    probs: list[float] = Field(description="Ten probabilities in Fashion-MNIST class order")
    top_k: list[TopK]
    unsure: bool
    model_version: str

    @classmethod
    def of(cls, filename: str, result, k: int = 3) -> Classification:
        """From the model's answer (ml.Prediction), its top k taken from all ten probabilities."""
        probs = list(result.probs)
        order = sorted(range(len(probs)), key=lambda i: -probs[i])[:k]
        return cls(filename=filename, label=result.label, index=result.index, confidence=result.confidence, probs=probs,
                   top_k=[TopK(label=LABELS[i], score=probs[i]) for i in order], unsure=result.unsure,
                   model_version=result.model_version)


class FileError(BaseModel):
    kind: Literal["error"] = "error"
    filename: str
    status: int
    detail: str


class ValidationIssue(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ErrorBody(BaseModel):
    """Every error's body: a sentence a person can act on, or for a malformed request FastAPI's list
    of what was wrong where."""

    model_config = ConfigDict(json_schema_extra={"example": {"detail": "“notes.txt” is not an image"}})

    detail: str | list[ValidationIssue]


class BatchResult(BaseModel):
    """One entry per file sent, in order: a prediction (a classification when not stored) or that
    file's error, told apart by `kind` (an OpenAPI discriminator, so generated clients type them)."""

    results: list[Annotated[PredictionPublic | Classification | FileError, Field(discriminator="kind")]]


class PredictionPage(BaseModel):
    items: list[PredictionPublic]
    total: int
    page: int
    per_page: int
    pages: int


class FeedbackIn(BaseModel):
    label: str = Field(description="The right class, one of the ten Fashion-MNIST names",
                       examples=["Sneaker"])


class SeedPrediction(BaseModel):
    """The seed system's response, kept compatible (label, probs), with a little more."""

    model_config = ConfigDict(json_schema_extra={"example": {
        "label": "Sneaker", "probs": [0.0, 0.0, 0.0, 0.0, 0.0, 0.02, 0.0, 0.97, 0.0, 0.01], "index": 7,
        "confidence": 0.97, "unsure": False, "model_version": "closetnet-w32-0123abcd"}})

    label: str
    probs: list[float]
    index: int
    confidence: float
    unsure: bool
    model_version: str


class ModelInfo(BaseModel):
    version: str
    classes: list[str]
    architecture: str
    parameters: int
    test_accuracy: float | None
    temperature: float
    unsure_threshold: float
    unsure_score: str = Field(description="what the threshold cuts: energy (T·logsumexp(logits/T)) or max_probability")
    runtime: str
    card: dict
    dataset_graph: dict | None = Field(None, description="the graph for images already in Fashion-MNIST form "
                                       "(28×28 gray on dark); photos go to the main one")
