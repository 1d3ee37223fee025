"""The record of past predictions: filtered, sorted, paginated queries shared by the history
page and the JSON API, plus the figures behind the charts and the exports."""

from __future__ import annotations

import csv
import io
import json
import shutil
import zipfile
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Integer, cast, func
from sqlalchemy import delete as sa_delete
from sqlmodel import Session, col, select

from backend.core.config import Settings
from backend.core.errors import BadForm, NotFound
from backend.models import Feedback, Message, Prediction, Upload
from backend.services import revisions, storage
from backend.services.blobs import CHUNK
from ml import LABELS

SORTS = {
    "newest": col(Prediction.created_at).desc(),
    "oldest": col(Prediction.created_at).asc(),
    "confidence": col(Prediction.confidence).desc(),
    "least_confident": col(Prediction.confidence).asc(),
}
MAX_PER_PAGE = 200
CONFIDENCE_BINS = 10


@dataclass
class Filters:
    label: str | None = None
    unsure: bool | None = None
    corrected: bool | None = None
    date_from: date | None = None
    date_to: date | None = None
    sort: str = "newest"
    page: int = 1
    per_page: int = 50
    by_correction: bool = False  # label matches a prediction's corrected class where it has one (History)

    def validate(self) -> Filters:
        if self.label and self.label not in LABELS:
            raise BadForm(f"unknown class “{self.label}”")
        if self.sort not in SORTS:
            raise BadForm(f"sort must be one of {', '.join(SORTS)}")
        if self.page < 1 or not 1 <= self.per_page <= MAX_PER_PAGE:
            raise BadForm(f"page starts at 1 and per_page is 1 to {MAX_PER_PAGE}")
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise BadForm("the start date is after the end date")
        if date.max in (self.date_from, self.date_to):  # the day after it, where the range ends, overflows
            raise BadForm(f"dates go up to {date.max - timedelta(days=1)}")
        return self

    def where(self, owner: str) -> list:
        clauses = [Prediction.owner == owner]
        if self.label:
            shown = func.coalesce(Prediction.corrected_label, Prediction.label) if self.by_correction else Prediction.label
            clauses.append(shown == self.label)
        if self.unsure is not None:
            clauses.append(Prediction.unsure == self.unsure)
        if self.corrected is not None:
            clauses.append(col(Prediction.corrected_label).is_not(None) if self.corrected
                           else col(Prediction.corrected_label).is_(None))
        if self.date_from:
            clauses.append(Prediction.created_at >= datetime.combine(self.date_from, time.min, UTC))
        if self.date_to:
            end = datetime.combine(self.date_to + timedelta(days=1), time.min, UTC)
            clauses.append(Prediction.created_at < end)
        return clauses


@dataclass
class Page:
    items: list[Prediction]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def search(session: Session, owner: str, filters: Filters, total: int | None = None) -> Page:
    """One page of rows; pass total when it is already known (from summary) to skip the count."""
    filters.validate()
    where = filters.where(owner)
    if total is None:
        total = session.exec(select(func.count()).select_from(Prediction).where(*where)).one()
    rows = session.exec(
        select(Prediction).where(*where).order_by(SORTS[filters.sort], col(Prediction.id))
        .offset((filters.page - 1) * filters.per_page).limit(filters.per_page)
    ).all()
    return Page(list(rows), int(total), filters.page, filters.per_page)


def upload_of(session: Session, prediction: Prediction) -> Upload:
    upload = session.get(Upload, prediction.upload_id)
    if upload is None:
        raise NotFound("the image of this prediction is gone")
    return upload


def delete(session: Session, owner: str, ids: list[str], settings: Settings) -> int:
    """Delete the owner's predictions with these ids, their chat bubbles, uploads and files. Ids
    that are not the owner's are ignored, never revealed."""
    rows = session.exec(select(Prediction).where(Prediction.owner == owner, col(Prediction.id).in_(ids))).all()
    if not rows:
        return 0
    pred_ids = [r.id for r in rows]
    # a photo asked again has several answers: it goes (file, photo bubble) with its last one
    kept = set(session.exec(select(Prediction.upload_id).where(
        col(Prediction.upload_id).in_({r.upload_id for r in rows}), col(Prediction.id).not_in(pred_ids))))
    upload_ids = {r.upload_id for r in rows} - kept
    session.exec(sa_delete(Message).where(col(Message.prediction_id).in_(pred_ids)))
    session.exec(sa_delete(Message).where(col(Message.upload_id).in_(upload_ids)))
    session.exec(sa_delete(Feedback).where(col(Feedback.prediction_id).in_(pred_ids)))
    session.exec(sa_delete(Prediction).where(col(Prediction.id).in_(pred_ids)))
    gone = session.exec(select(Upload).where(col(Upload.id).in_(upload_ids))).all()
    for upload in gone:
        session.delete(upload)
    revisions.touch(session, owner)
    session.commit()
    storage.remove(settings, gone)  # each upload's own files: no other row uses them
    return len(rows)


@dataclass
class Summary:
    """What the charts show for a filtered history: the total, per class, per tenth of confidence."""

    total: int
    class_counts: dict[str, int]
    confidence_bins: list[int]


def cached_summary(session: Session, owner: str, filters: Filters, cache: revisions.RevisionCache) -> Summary:
    """summary(), kept per worker until the owner's predictions change: paging, sorting and
    reloading reuse it, and with thousands of rows it is most of the page's database time."""
    key = (filters.label, filters.unsure, filters.corrected, filters.date_from, filters.date_to, filters.by_correction)
    return cache.get_or_compute(session, owner, key, lambda: summary(session, owner, filters))


def summary(session: Session, owner: str, filters: Filters) -> Summary:
    """One grouped query (label × confidence tenth) read from the (owner, label, confidence)
    index, folded into both charts and the total."""
    scaled = Prediction.confidence * CONFIDENCE_BINS
    # SQLite truncates a cast to integer; PostgreSQL rounds it, so floor there
    bucket = cast(scaled, Integer) if session.get_bind().dialect.name == "sqlite" else func.floor(scaled)
    rows = session.exec(
        select(Prediction.label, bucket, func.count()).where(*filters.where(owner)).group_by(Prediction.label, bucket)
    ).all()
    counts, bins = dict.fromkeys(LABELS, 0), [0] * CONFIDENCE_BINS
    for label, b, n in rows:
        counts[label] = counts.get(label, 0) + int(n)
        bins[min(max(int(b), 0), CONFIDENCE_BINS - 1)] += int(n)
    return Summary(sum(bins), counts, bins)


EXPORT_FIELDS = ["id", "created_at", "filename", "label", "confidence", "unsure", "corrected_label",
                 "model_version", "conversation_id", *[f"p_{label}" for label in LABELS]]


def _export_row(row: Prediction) -> dict:
    out = {"id": row.id, "created_at": row.created_at.isoformat(), "filename": row.filename,
           "label": row.label, "confidence": round(row.confidence, 6), "unsure": row.unsure,
           "corrected_label": row.corrected_label or "", "model_version": row.model_version,
           "conversation_id": row.conversation_id or ""}
    out.update({f"p_{label}": p for label, p in zip(LABELS, row.probs, strict=True)})
    return out


def _all(session: Session, owner: str, filters: Filters):
    return session.exec(select(Prediction).where(*filters.where(owner)).order_by(SORTS[filters.sort])).all()


def export_csv(session: Session, owner: str, filters: Filters) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=EXPORT_FIELDS)
    writer.writeheader()
    for row in _all(session, owner, filters):
        record = _export_row(row)
        # keep spreadsheet apps from running user-supplied names as formulas
        record["filename"] = spreadsheet_safe(record["filename"])
        writer.writerow(record)
    return buffer.getvalue()


def spreadsheet_safe(text: str) -> str:
    """A user's text as a CSV cell no spreadsheet runs as a formula (=HYPERLINK(...) and the like)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def export_json(session: Session, owner: str, filters: Filters) -> str:
    return json.dumps([_export_row(r) for r in _all(session, owner, filters)], indent=1)


def export_corrections_zip(session: Session, owner: str, settings: Settings) -> bytes:
    """A dataset for retraining: every corrected image under <class>/ and a labels.csv."""
    rows = session.exec(
        select(Prediction, Upload).join(Upload, Prediction.upload_id == Upload.id)
        .where(Prediction.owner == owner, col(Prediction.corrected_label).is_not(None))
        .order_by(col(Prediction.created_at))
    ).all()
    buffer = io.BytesIO()
    labels = io.StringIO()
    writer = csv.writer(labels)
    writer.writerow(["file", "label", "predicted", "original_filename", "prediction_id"])
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for prediction, upload in rows:
            try:
                source = storage.open_upload(settings, upload)
            except FileNotFoundError:
                continue
            folder = prediction.corrected_label.replace("/", "-").replace(" ", "_")
            ext = {"image/jpeg": ".jpg", "image/png": ".png", "image/gif": ".gif", "image/webp": ".webp"}.get(
                upload.content_type, ".img")
            name = f"{folder}/{prediction.id}{ext}"
            with source, archive.open(name, "w") as out:  # a chunk at a time, from the folder or the bucket
                shutil.copyfileobj(source, out, CHUNK)
            writer.writerow([name, prediction.corrected_label, prediction.label, spreadsheet_safe(upload.filename),
                             prediction.id])
        archive.writestr("labels.csv", labels.getvalue())
    return buffer.getvalue()
