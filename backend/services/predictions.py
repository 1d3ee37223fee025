"""One path answers images for the chat and the API alike: check, classify, then store the
files and the rows in one commit."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
from sqlmodel import Session

from backend.core.config import Settings
from backend.core.db import get_owned
from backend.core.errors import BadForm, ClosetChatError
from backend.models import Conversation, Feedback, Message, Prediction, Upload, utcnow
from backend.services import decoding, explain, quota, rate_limit, revisions, storage, uploads
from backend.services.inference import InferenceEngine
from backend.services.multipart import IncomingFile
from ml import LABELS, is_fashion_mnist_form, to_fashion_mnist
from ml import Prediction as ModelPrediction


@dataclass
class Answer:
    """One file's outcome: checked and classified (with its rows once made by make_rows), or the
    error that stopped it."""

    filename: str
    checked: uploads.CheckedImage | None = None
    result: ModelPrediction | None = None
    error: ClosetChatError | None = None
    upload: Upload | None = None
    prediction: Prediction | None = None


def classify(files: list[IncomingFile], settings: Settings, engine: InferenceEngine) -> list[Answer]:
    """Check every file and classify the good ones in one batch (blocking: call from a thread).
    Files are decoded one after another under one pixel cap for the request."""
    answers = []
    pixels = decoding.RequestPixels(settings.max_request_pixels)
    for incoming in files:
        name = uploads.clean_filename(incoming.filename)
        try:
            answers.append(Answer(name, checked=uploads.check_image(incoming, settings, pixels)))
        except ClosetChatError as exc:
            answers.append(Answer(name, error=exc))
    good = [a for a in answers if a.checked is not None]
    if good:
        arrays = np.stack([to_fashion_mnist(a.checked.image) for a in good])
        dataset_form = np.array([is_fashion_mnist_form(a.checked.image) for a in good])
        for answer, result in zip(good, engine.predict_arrays(arrays, dataset_form), strict=True):
            answer.result = result
    return answers


def make_rows(answers: list[Answer], owner: str, conversation_id: str | None = None) -> list[Answer]:
    """Give every classified answer its Upload and Prediction rows (not yet stored); returns those."""
    made = []
    for answer in answers:
        if answer.result is None:
            continue
        result = answer.result
        answer.upload = upload = uploads.new_upload(owner, answer.checked)
        answer.prediction = Prediction(
            owner=owner, upload_id=upload.id, conversation_id=conversation_id, filename=upload.filename,
            label=result.label, label_index=result.index, confidence=round(result.confidence, 6),
            probs_json=json.dumps([round(p, 6) for p in result.probs]), unsure=result.unsure,
            model_version=result.model_version)  # the graph that answered
        made.append(answer)
    return made


def store(session: Session, owner: str, answers: list[Answer], settings: Settings,
          conversation: Conversation | None = None, messages: list[Message] = ()) -> None:
    """Write the answers' files, then commit their rows, with a conversation and its messages if
    given, in one transaction. A commit that fails removes the files written for it. Past the
    owner's photos a minute (rate_limit) or stored bytes (quota), nothing is written."""
    stored = [a for a in answers if a.prediction is not None]
    rate_limit.PHOTOS.take(owner, len(stored), settings.photos_per_minute)
    quota.STORED.reserve(session, owner, sum(a.upload.size_bytes for a in stored), settings.storage_per_owner_mb)
    try:
        for answer in stored:
            storage.place(answer.checked, answer.upload, settings)
        # rows before the rows that point at them: the models declare no relationship() to order them
        parents = ([conversation] if conversation else []) + [a.upload for a in stored]
        for rows in (parents, [a.prediction for a in stored], messages):
            session.add_all(rows)
            session.flush()
        if stored:
            revisions.touch(session, owner)
        session.commit()
    except BaseException:
        session.rollback()
        storage.remove(settings, [a.upload for a in stored])
        raise


def create(session: Session, owner: str, files: list[IncomingFile], settings: Settings,
           engine: InferenceEngine) -> list[Answer]:
    """The API's upload: every file answered, the good ones stored together."""
    answers = classify(files, settings, engine)
    if make_rows(answers, owner):
        store(session, owner, answers, settings)
    return answers


def get(session: Session, owner: str, prediction_id: str) -> Prediction:
    return get_owned(session, Prediction, prediction_id, owner, "prediction")


def give_feedback(session: Session, owner: str, prediction_id: str, label: str) -> Prediction:
    """Record a correction (every one is kept) and mark the prediction with the latest."""
    if label not in LABELS:
        raise BadForm(f"unknown class “{label}”; choose one of: {', '.join(LABELS)}")
    row = get(session, owner, prediction_id)
    row.corrected_label = None if label == row.label else label
    session.add_all([row, Feedback(prediction_id=row.id, owner=owner, correct_label=label)])
    revisions.touch(session, owner)
    session.commit()
    return row


def ask_again(session: Session, owner: str, prediction_id: str, settings: Settings,
              engine: InferenceEngine) -> Prediction:
    """The same stored photo answered by the model serving now: a new prediction (the old one is
    kept, with any correction), and in its conversation a new reply. Blocking: call from a thread.
    Counted against the owner's photos per minute like a photo sent."""
    old = get(session, owner, prediction_id)
    upload = get_owned(session, Upload, old.upload_id, owner, "image")
    rate_limit.PHOTOS.take(owner, 1, settings.photos_per_minute)
    pixels, dataset_form = explain.model_input(storage.source(settings, upload))
    result = engine.predict_arrays(pixels[None], np.array([dataset_form]))[0]
    new = Prediction(owner=owner, upload_id=upload.id, conversation_id=old.conversation_id, filename=old.filename,
                     label=result.label, label_index=result.index, confidence=round(result.confidence, 6),
                     probs_json=json.dumps([round(p, 6) for p in result.probs]), unsure=result.unsure,
                     model_version=result.model_version)
    session.add(new)
    session.flush()
    conversation = session.get(Conversation, old.conversation_id) if old.conversation_id else None
    if conversation is not None:
        session.add(Message(conversation_id=conversation.id, role="assistant", kind="prediction", prediction_id=new.id))
        conversation.updated_at = utcnow()
        session.add(conversation)
    revisions.touch(session, owner)
    session.commit()
    session.refresh(new)
    return new
