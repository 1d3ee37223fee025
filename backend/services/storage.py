"""Image files on disk: one file and one thumbnail per upload, named by the upload's id.

An upload's files are written and synced before its row is committed, so an acknowledged photo
always has its image. No file is shared between rows, so deleting a row removes its own files
and nothing else, and no lock between requests or worker processes is needed. A crash between
the files and the commit leaves files with no row: `closetchat sweep` removes those once they are
older than a grace period, far longer than any request takes.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from PIL import Image
from sqlmodel import Session, select
from starlette.responses import FileResponse

from backend.core.config import Settings
from backend.models import Upload
from backend.services.decoding import decode_bounded
from backend.services.uploads import SAFE_TYPES
from ml import flatten_to_rgb

THUMB_SIZE = 320


def _path(root: Path, name: str, suffix: str = "") -> Path:
    return root / name[:2] / f"{name}{suffix}"


def upload_path(settings: Settings, upload: Upload) -> Path:
    """The file as sent. Uploads stored before files were named by id are found by content hash."""
    path = _path(settings.uploads_dir, upload.id)
    return path if path.exists() else _path(settings.uploads_dir, upload.sha256)


def thumb_path(settings: Settings, upload: Upload) -> Path:
    path = _path(settings.thumbs_dir, upload.id, ".jpg")
    return path if path.exists() else _path(settings.thumbs_dir, upload.sha256, ".jpg")


def _sync_into_place(tmp: Path, target: Path) -> None:
    """Data flushed before the rename, the rename flushed after: durable once this returns."""
    with open(tmp, "rb+") as fh:
        os.fsync(fh.fileno())
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp, target)
    dir_fd = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def place(checked, upload: Upload, settings: Settings) -> None:
    """Write the upload's thumbnail and file, durably, before its row is committed.
    checked: the uploads.CheckedImage the row was made from."""
    incoming = checked.incoming
    thumb = checked.image
    if checked.format == "JPEG":  # decoded small for the model: decode again at thumbnail scale
        thumb = decode_bounded(incoming.source, settings, THUMB_SIZE, upload.filename)
    if thumb.mode not in ("RGB", "L"):
        thumb = flatten_to_rgb(thumb)
    thumb = thumb.copy()
    thumb.thumbnail((THUMB_SIZE, THUMB_SIZE), Image.Resampling.BILINEAR, reducing_gap=2.0)
    settings.incoming_dir.mkdir(parents=True, exist_ok=True)
    tmp = settings.incoming_dir / f"{upload.id}.thumb.part"
    thumb.save(tmp, "JPEG", quality=82)
    _sync_into_place(tmp, _path(settings.thumbs_dir, upload.id, ".jpg"))
    if incoming.data is not None:  # kept in memory by the form reader: write it out first
        with incoming.open_on_disk() as fh:
            fh.write(incoming.data)
    _sync_into_place(incoming.path, _path(settings.uploads_dir, upload.id))
    incoming.on_disk = False  # moved: nothing left for the form's cleanup


def remove(settings: Settings, uploads: list[Upload]) -> None:
    """Remove the files of uploads whose rows are gone (committed)."""
    for upload in uploads:
        _path(settings.uploads_dir, upload.id).unlink(missing_ok=True)
        _path(settings.thumbs_dir, upload.id, ".jpg").unlink(missing_ok=True)


def _files(folder: Path):
    return (path for path in folder.rglob("*") if path.is_file()) if folder.is_dir() else ()


def sweep(engine, settings: Settings, grace_seconds: float) -> dict[str, int]:
    """Remove files no row points at and part files of interrupted requests, older than
    grace_seconds: a younger file may belong to an upload about to commit."""
    cutoff = time.time() - grace_seconds
    removed = {"incoming": 0, "orphans": 0}
    for path in _files(settings.incoming_dir):
        if path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)
            removed["incoming"] += 1
    with Session(engine) as session:
        known = {name for row in session.exec(select(Upload.id, Upload.sha256)) for name in row}
    for folder in (settings.uploads_dir, settings.thumbs_dir):
        for path in _files(folder):
            name = path.name.removesuffix(".jpg")
            if name not in known and path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
                removed["orphans"] += 1
    return removed


# Uploads never change once stored (a new photo is a new upload), so browsers may keep them.
_IMAGE_HEADERS = {"Cache-Control": "private, max-age=31536000, immutable", "Content-Disposition": "inline"}


def image_response(settings: Settings, upload: Upload, thumbnail: bool = False) -> FileResponse:
    """The one way an upload is served, to the chat and the API alike: the file as sent when
    browsers show its type safely, else (or when asked) its JPEG thumbnail."""
    if not thumbnail and upload.content_type in SAFE_TYPES.values():
        return FileResponse(upload_path(settings, upload), media_type=upload.content_type, headers=_IMAGE_HEADERS)
    return FileResponse(thumb_path(settings, upload), media_type="image/jpeg", headers=_IMAGE_HEADERS)
