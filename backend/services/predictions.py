"""One function answers an image for the chat and the API alike: check, classify, store."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property, partial

import numpy as np
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from backend import group_commit
from backend.compiled_statements import CompiledWrite, Writes
from backend.config import Settings
from backend.errors import ClosetChatError
from backend.loop_commits import LoopCommits
from backend.metrics import Metrics
from backend.models import Prediction, Upload, new_id, utcnow
from backend.services import file_lock, offload, revisions, uploads
from backend.services.inference import InferenceEngine
from backend.services.multipart import IncomingFile
from backend.services.views import PredictionView
from ml import Prediction as ModelPrediction
from ml import is_fashion_mnist_form, to_fashion_mnist


@dataclass
class Answer:
    """The outcome for one file: a prediction to store, or the error that stopped it. The rows are
    column values (build_rows says why); `view` is the prediction as pages and JSON show it."""

    filename: str
    upload: dict | None = None
    prediction: dict | None = None
    error: ClosetChatError | None = None

    @cached_property
    def view(self) -> PredictionView:
        return PredictionView.of_values(self.prediction)


def check_all(files: list[IncomingFile], settings: Settings) -> list[uploads.CheckedImage | ClosetChatError]:
    out: list[uploads.CheckedImage | ClosetChatError] = []
    for incoming in files:
        try:
            out.append(uploads.check_image(incoming, settings))
        except ClosetChatError as exc:
            incoming.path.unlink(missing_ok=True)
            out.append(exc)
    return out


def classify(checked: list[uploads.CheckedImage], engine: InferenceEngine, inline: bool = False) -> list[ModelPrediction]:
    """Answers for checked images: batched with other requests' (blocking, from a worker thread), or
    inline, right here (on the event loop, for one small image: see backend.services.offload)."""
    if not checked:
        return []
    arrays = np.stack([to_fashion_mnist(c.image) for c in checked])
    dataset_form = np.array([is_fashion_mnist_form(c.image) for c in checked])
    if inline:
        return engine.predict_inline(arrays, dataset_form)
    return engine.predict_arrays(arrays, dataset_form)


@dataclass
class Prepared:
    """One file after the work that needs no database: checked and classified."""

    filename: str
    checked: uploads.CheckedImage | None = None
    result: ModelPrediction | None = None
    error: ClosetChatError | None = None


def prepare_files(files: list[IncomingFile], settings: Settings, engine: InferenceEngine) -> list[Prepared]:
    """Check every file and classify the good ones in one batch. Their files are put in place
    later, by files_placed, around the rows' commit."""
    checked_or_errors = check_all(files, settings)
    good = [c for c in checked_or_errors if isinstance(c, uploads.CheckedImage)]
    results = iter(classify(good, engine))
    prepared = []
    for incoming, item in zip(files, checked_or_errors, strict=True):
        name = uploads.clean_filename(incoming.filename)
        if isinstance(item, ClosetChatError):
            prepared.append(Prepared(filename=name, error=item))
            continue
        prepared.append(Prepared(filename=name, checked=item, result=next(results)))
    return prepared


def prepare_inline(files: list[IncomingFile], settings: Settings, engine: InferenceEngine) -> list[Prepared] | None:
    """prepare_files for a request of one small JPEG held in memory, done right here on the event
    loop as POST /fashion-mnist does (backend.services.offload says what is small); None when the
    work belongs in a worker thread, there to be done by prepare_files."""
    if len(files) != 1 or not offload.header_may_be_read_on_loop(files[0]):
        return None
    incoming = files[0]
    name = uploads.clean_filename(incoming.filename)
    try:
        header = uploads.read_header(incoming, settings)
        if not offload.small_enough_for_loop(header):
            return None
        checked = uploads.check_image(incoming, settings, header)
    except ClosetChatError as exc:  # held in memory: no file to remove
        return [Prepared(filename=name, error=exc)]
    return [Prepared(filename=name, checked=checked, result=classify([checked], engine, inline=True)[0])]


def files_in_place(prepared: list[Prepared], settings: Settings) -> bool:
    """Whether every accepted file and its thumbnail are stored already, from the same bytes sent
    before, so that placing them would write nothing (backend.loop_writes)."""
    return all(uploads.already_placed(item.checked, settings) for item in prepared if item.checked is not None)


async def store(session: Session, loop_commits: LoopCommits, prepared: list[Prepared], writes: Writes,
                settings: Settings, metrics: Metrics) -> None:
    """Commit a request's rows from the event loop: there, with the other requests' that reach their
    commit in the same turn of the loop (backend.loop_commits), when no file needs writing and nothing
    is in the way; else by place_and_commit in a worker thread, which puts the files in place and
    waits for its turn."""
    # a new photo: no lock taken here, its files go to a thread
    if files_in_place(prepared, settings) and await loop_commits.commit(writes, partial(files_in_place, prepared, settings)):
        metrics.writes.labels("event loop").inc()
        return
    metrics.writes.labels("worker thread").inc()
    await run_in_threadpool(place_and_commit, session, prepared, writes, settings)


def place_and_commit(session: Session, prepared: list[Prepared], writes: Writes, settings: Settings) -> None:
    """Put the files in place and commit the rows, waiting as long as that takes (a worker thread's way)."""
    with files_placed(prepared, settings):
        group_commit.write(session, writes)


@contextmanager
def files_placed(prepared: list[Prepared], settings: Settings) -> Iterator[None]:
    """Put the accepted files and thumbnails in place, then commit their rows inside this block:
    it holds file_lock.placing throughout, so no sweep or delete takes a file before its row exists."""
    with file_lock.placing(settings):
        for item in prepared:
            if item.checked is not None:
                uploads.place_files(item.checked, settings)
        yield


def build_rows(owner: str, prepared: list[Prepared], conversation_id: str | None = None) -> list[Answer]:
    """The Upload and Prediction rows for prepared files, made (ids included) but not written.

    Column values, not Upload and Prediction objects: these rows are only inserted and shown, and
    constructing a SQLModel table object (SQLAlchemy's attribute events on every field) was about an
    eighth of a chat send's worker-thread CPU (cProfile, sequential sends). tests/backend/test_chat.py
    holds the values to every column of both tables."""
    answers = []
    now = utcnow()
    for item in prepared:
        if item.error is not None:
            answers.append(Answer(filename=item.filename, error=item.error))
            continue
        upload = uploads.new_row(owner, item.checked, now)
        result = item.result
        row = {"id": new_id(), "owner": owner, "upload_id": upload["id"], "conversation_id": conversation_id,
               "filename": upload["filename"], "label": result.label, "label_index": result.index,
               "confidence": round(result.confidence, 6), "probs_json": json.dumps([round(p, 6) for p in result.probs]),
               "unsure": result.unsure, "corrected_label": None,
               "model_version": result.model_version,  # the graph that answered
               "created_at": now}
        answers.append(Answer(filename=item.filename, upload=upload, prediction=row))
    return answers


_INSERT_UPLOADS = CompiledWrite.insert(Upload.__table__)
_INSERT_PREDICTIONS = CompiledWrite.insert(Prediction.__table__)


@dataclass(frozen=True)
class RowsToWrite:
    """The column values of the stored answers' uploads and predictions, made before the write
    turn (every worker queues for it); an INSERT for each table, however many files."""

    owner: str
    uploads: list[dict]
    predictions: list[dict]

    @classmethod
    def of(cls, owner: str, answers: list[Answer]) -> RowsToWrite:
        stored = [a for a in answers if a.prediction is not None]
        return cls(owner, [a.upload for a in stored], [a.prediction for a in stored])

    def writes(self) -> Writes:
        """Inserts compiled once (backend.compiled_statements), and the owner's revision raised: the
        ORM's unit of work cost more than the writes (a chat send's write turn: 2.1 → 1.5 ms)."""
        if not self.predictions:
            return Writes()
        return Writes(((_INSERT_UPLOADS, self.uploads), (_INSERT_PREDICTIONS, self.predictions))) + \
            revisions.touching(self.owner)
