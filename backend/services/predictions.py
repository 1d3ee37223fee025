"""One function answers an image for the chat and the API alike: check, classify, store."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
from sqlmodel import Session

from backend.config import Settings
from backend.errors import ClosetChatError
from backend.models import Prediction, Upload
from backend.services import uploads
from backend.services.inference import InferenceEngine
from backend.services.multipart import IncomingFile
from ml import Prediction as ModelPrediction
from ml import to_fashion_mnist


@dataclass
class Answer:
    """The outcome for one file: a stored prediction, or the error that stopped it."""

    filename: str
    upload: Upload | None = None
    prediction: Prediction | None = None
    error: ClosetChatError | None = None


def check_all(files: list[IncomingFile], settings: Settings) -> list[uploads.CheckedImage | ClosetChatError]:
    out: list[uploads.CheckedImage | ClosetChatError] = []
    for incoming in files:
        try:
            out.append(uploads.check_image(incoming, settings))
        except ClosetChatError as exc:
            incoming.path.unlink(missing_ok=True)
            out.append(exc)
    return out


def classify(checked: list[uploads.CheckedImage], engine: InferenceEngine) -> list[ModelPrediction]:
    if not checked:
        return []
    return engine.predict_arrays(np.stack([to_fashion_mnist(c.image) for c in checked]))


def record(
    session: Session,
    owner: str,
    checked: uploads.CheckedImage,
    result: ModelPrediction,
    model_version: str,
    settings: Settings,
    conversation_id: str | None = None,
) -> tuple[Upload, Prediction]:
    """Store the file and add its Upload and Prediction rows (the caller commits)."""
    upload = uploads.store(session, owner, checked, settings)
    row = Prediction(
        owner=owner,
        upload_id=upload.id,
        conversation_id=conversation_id,
        filename=upload.filename,
        label=result.label,
        label_index=result.index,
        confidence=round(result.confidence, 6),
        probs_json=json.dumps([round(p, 6) for p in result.probs]),
        unsure=result.unsure,
        model_version=model_version,
    )
    session.add(row)
    session.flush()
    return upload, row


def answer_files(
    session: Session,
    owner: str,
    files: list[IncomingFile],
    settings: Settings,
    engine: InferenceEngine,
    conversation_id: str | None = None,
) -> list[Answer]:
    """Check every file, classify the good ones in one batch, store them; errors stay per file."""
    checked_or_errors = check_all(files, settings)
    good = [c for c in checked_or_errors if isinstance(c, uploads.CheckedImage)]
    results = iter(classify(good, engine))
    answers = []
    for incoming, item in zip(files, checked_or_errors, strict=True):
        name = uploads.clean_filename(incoming.filename)
        if isinstance(item, ClosetChatError):
            answers.append(Answer(filename=name, error=item))
            continue
        upload, row = record(session, owner, item, next(results), engine.classifier.version, settings,
                             conversation_id)
        answers.append(Answer(filename=name, upload=upload, prediction=row))
    return answers
