"""Image files: one file and one thumbnail per upload, named by the upload's id, kept in the store
settings name (backend.services.blobs: DATA_DIR's folder by default, or an S3-compatible bucket).

An upload's files are stored (renamed into place on disk, acknowledged by the bucket) before its
row is committed, so an acknowledged photo always has its image. No file is shared between rows, so
deleting a row removes its own files and nothing else, and no lock between requests, worker
processes or hosts is needed. A crash (or a bucket that fails) between the files and the commit
leaves files with no row: `closetchat sweep` removes those once they are older than a grace period,
far longer than any request takes.

Images from a bucket are streamed through the app rather than handed out as presigned URLs: every
request is owner-checked as it is for the folder, a revoked share link stops at once (a presigned URL
lives until it expires), page URLs stay stable so browsers keep the immutable cache, and the bucket
never has to be reachable from browsers (docker-compose keeps it on the internal network).
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from PIL import Image
from sqlmodel import Session, select
from starlette.responses import FileResponse, Response, StreamingResponse

from backend.core.config import Settings
from backend.core.errors import NotFound
from backend.models import Upload
from backend.services.blobs import CHUNK, LocalFolder, StorageUnavailable, store_for
from backend.services.decoding import decode_bounded
from backend.services.uploads import SAFE_TYPES
from ml import flatten_to_rgb

THUMB_SIZE = 320
log = logging.getLogger("closetchat.storage")


def _key(folder: str, name: str, suffix: str = "") -> str:
    return f"{folder}/{name[:2]}/{name}{suffix}"


def _upload_keys(upload: Upload) -> tuple[str, str]:
    """The file as sent: named by id; uploads stored before files were named by id, by content hash."""
    return _key("uploads", upload.id), _key("uploads", upload.sha256)


def _thumb_keys(upload: Upload) -> tuple[str, str]:
    return _key("thumbs", upload.id, ".jpg"), _key("thumbs", upload.sha256, ".jpg")


def upload_path(settings: Settings, upload: Upload) -> Path:
    """The file as sent, in the local folder (tests and tools that look at DATA_DIR)."""
    key, legacy = _upload_keys(upload)
    path = settings.data_dir / key
    return path if path.exists() else settings.data_dir / legacy


def thumb_path(settings: Settings, upload: Upload) -> Path:
    key, legacy = _thumb_keys(upload)
    path = settings.data_dir / key
    return path if path.exists() else settings.data_dir / legacy


def _thumbnail_jpeg(checked, upload: Upload, settings: Settings) -> bytes:
    thumb = checked.image
    if checked.format == "JPEG":  # decoded small for the model: decode again at thumbnail scale
        thumb = decode_bounded(checked.incoming.source, settings, THUMB_SIZE, upload.filename)
    if thumb.mode not in ("RGB", "L"):
        thumb = flatten_to_rgb(thumb)
    thumb = thumb.copy()
    thumb.thumbnail((THUMB_SIZE, THUMB_SIZE), Image.Resampling.BILINEAR, reducing_gap=2.0)
    out = io.BytesIO()
    thumb.save(out, "JPEG", quality=82)
    return out.getvalue()


def place(checked, upload: Upload, settings: Settings) -> None:
    """Store the upload's thumbnail and file, durably, before its row is committed; raises
    StorageUnavailable (a 503) when the bucket does not take them.
    checked: the uploads.CheckedImage the row was made from."""
    store = store_for(settings)
    incoming = checked.incoming
    store.put_bytes(_key("thumbs", upload.id, ".jpg"), _thumbnail_jpeg(checked, upload, settings))
    if store.put_file(_key("uploads", upload.id), incoming.source, move=True):
        incoming.on_disk = False  # moved: nothing left for the form's cleanup


def remove(settings: Settings, uploads: list[Upload]) -> None:
    """Remove the files of uploads whose rows are gone (committed), or were never committed. A
    bucket that is down leaves them behind, without a row: the sweep removes them later."""
    keys = [key for upload in uploads for key in (_key("uploads", upload.id), _key("thumbs", upload.id, ".jpg"))]
    try:
        store_for(settings).delete(keys)
    except StorageUnavailable:
        log.warning("photo storage did not answer: %d files left for `closetchat sweep`", len(keys))


def open_upload(settings: Settings, upload: Upload) -> BinaryIO:
    """The file as sent, as a stream (close it); FileNotFoundError when it is gone."""
    store = store_for(settings)
    key, legacy = _upload_keys(upload)
    try:
        return store.open(key)
    except FileNotFoundError:
        return store.open(legacy)


def source(settings: Settings, upload: Upload) -> bytes | Path:
    """The file as sent, for decoding again (what the model saw, asking again): its path in the
    folder, else its bytes (at most the upload cap: a decoder needs to seek)."""
    store = store_for(settings)
    if isinstance(store, LocalFolder):
        return upload_path(settings, upload)
    try:
        with open_upload(settings, upload) as fh:
            return fh.read()
    except FileNotFoundError:
        raise NotFound("the image of this prediction is gone") from None


def sweep(engine, settings: Settings, grace_seconds: float) -> dict[str, int]:
    """Remove files no row points at (in the folder or the bucket) and this host's part files of
    interrupted requests, older than grace_seconds: a younger file may belong to an upload about
    to commit."""
    cutoff = time.time() - grace_seconds
    removed = {"incoming": 0, "orphans": 0}
    incoming = settings.incoming_dir
    for path in (p for p in incoming.rglob("*") if p.is_file()) if incoming.is_dir() else ():
        if path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)
            removed["incoming"] += 1
    with Session(engine) as session:
        known = {name for row in session.exec(select(Upload.id, Upload.sha256)) for name in row}
    store = store_for(settings)
    for folder in ("uploads", "thumbs"):
        orphans = [blob.key for blob in store.listing(folder)
                   if blob.key.rsplit("/", 1)[-1].removesuffix(".jpg") not in known and blob.modified < cutoff]
        store.delete(orphans)
        removed["orphans"] += len(orphans)
    return removed


def copy(source: LocalFolder, target) -> dict[str, int]:
    """Copy every upload and thumbnail from a local folder to target (a bucket), streamed a file
    at a time; nothing is removed from the folder. An object already in target with the same size is skipped: files never change once
    stored, so a second run (or one resumed after an interruption) copies only what is missing."""
    counts = {"copied": 0, "skipped": 0}
    for folder in ("uploads", "thumbs"):
        there = {blob.key: blob.size for blob in target.listing(folder)}
        for blob in source.listing(folder):
            if there.get(blob.key) == blob.size:
                counts["skipped"] += 1
                continue
            target.put_file(blob.key, source.path(blob.key))
            counts["copied"] += 1
    return counts


# Uploads never change once stored (a new photo is a new upload), so browsers may keep them.
_IMAGE_HEADERS = {"Cache-Control": "private, max-age=31536000, immutable", "Content-Disposition": "inline"}


def image_response(settings: Settings, upload: Upload, thumbnail: bool = False) -> Response:
    """The one way an upload is served, to the chat and the API alike: the file as sent when
    browsers show its type safely, else (or when asked) its JPEG thumbnail. From the folder as a
    file response, from a bucket streamed a chunk at a time (never whole in memory)."""
    original = not thumbnail and upload.content_type in SAFE_TYPES.values()
    media_type = upload.content_type if original else "image/jpeg"
    store = store_for(settings)
    if isinstance(store, LocalFolder):
        path = upload_path(settings, upload) if original else thumb_path(settings, upload)
        return FileResponse(path, media_type=media_type, headers=_IMAGE_HEADERS)
    key, legacy = _upload_keys(upload) if original else _thumb_keys(upload)
    try:
        try:
            body = store.open(key)
        except FileNotFoundError:
            body = store.open(legacy)
    except FileNotFoundError:
        raise NotFound("this image is gone") from None
    return StreamingResponse(_chunks(body), media_type=media_type, headers=_IMAGE_HEADERS)


def _chunks(body) -> Iterator[bytes]:
    try:
        while chunk := body.read(CHUNK):
            yield chunk
    finally:
        body.close()
