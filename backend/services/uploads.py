"""Checking an uploaded file is an image we accept, then storing it content-addressed under
data_dir with its thumbnail (made once per distinct image)."""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from PIL import Image

from backend.config import Settings
from backend.errors import BrokenImage, ClosetChatError, EmptyFile, ImageTooLarge, NotAnImage, UploadTooLarge
from backend.models import Upload, new_id
from backend.services.multipart import IncomingFile
from ml import WORK_SIZE, UnreadableImage, flatten_to_rgb, open_image, preprocess

THUMB_SIZE = 320
# formats we serve back as themselves; anything else is kept but served as its JPEG thumbnail
SAFE_TYPES = {"JPEG": "image/jpeg", "MPO": "image/jpeg", "PNG": "image/png", "GIF": "image/gif",
              "WEBP": "image/webp"}


@dataclass
class CheckedImage:
    incoming: IncomingFile
    image: Image.Image  # decoded as the model sees it (JPEGs at reduced scale), EXIF-rotated
    format: str
    width: int  # the photo's full size, upright
    height: int

    @property
    def content_type(self) -> str:
        return SAFE_TYPES.get(self.format, "image/" + self.format.lower())


def clean_filename(name: str) -> str:
    """What we display and export: no path, no control characters, at most 120 characters."""
    name = unicodedata.normalize("NFC", name or "")
    name = re.split(r"[\\/]", name)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip().lstrip(".")
    return (name or "image")[:120]


def read_header(incoming: IncomingFile, settings: Settings) -> Image.Image:
    """The image's format and size from its header alone (nothing decoded): the cheap half of
    check_image, raising the same errors, so a caller can choose where the decoding runs."""
    if incoming.too_large:
        raise UploadTooLarge(f"“{clean_filename(incoming.filename)}” is larger than {settings.max_upload_mb:g} MB")
    if incoming.size == 0:
        raise EmptyFile(f"“{clean_filename(incoming.filename)}” is empty")
    try:
        return preprocess.read_header(incoming.source, max_pixels=settings.max_pixels)
    except UnreadableImage as exc:
        raise _refusal(incoming, exc) from None


def check_image(incoming: IncomingFile, settings: Settings, header: Image.Image | None = None) -> CheckedImage:
    """Raise the matching ClosetChatError unless the file is an image we can classify.

    Decoded once, at the model's working size (as `ml.Classifier` decodes): every route gives one
    photo the same answer, and a photo whose thumbnail already exists is never decoded larger.
    header: what read_header returned for this file, if it was called already."""
    if header is None:
        header = read_header(incoming, settings)
    try:
        image = preprocess.decode(header, draft_size=WORK_SIZE)
    except UnreadableImage as exc:
        raise _refusal(incoming, exc) from None
    width, height = image.info.get("source_size", image.size)
    return CheckedImage(incoming, image, image.format or "JPEG", width, height)


def _refusal(incoming: IncomingFile, exc: UnreadableImage) -> ClosetChatError:
    name = clean_filename(incoming.filename)
    if exc.reason == "too_large":
        return ImageTooLarge(f"“{name}”: {exc}")
    if exc.reason == "unidentified" and not _looks_like_image(incoming):
        return NotAnImage(f"“{name}” is not an image we accept: send a JPEG, PNG, WebP, GIF or HEIC photo")
    return BrokenImage(f"“{name}” looks damaged or cut short; try sending it again")


_MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a", b"BM", b"II*\x00", b"MM\x00*")


def _looks_like_image(incoming: IncomingFile) -> bool:
    """An image signature that Pillow could not open means a damaged image, not a wrong type."""
    if incoming.data is not None:
        head = incoming.data[:16]
    else:
        with open(incoming.path, "rb") as fh:
            head = fh.read(16)
    return head.startswith(_MAGIC) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP") or head[4:8] == b"ftyp"


def _shard(root: Path, sha256: str, suffix: str) -> Path:
    return Path(_shard_name(root, sha256, suffix))


def _shard_name(root: Path, sha256: str, suffix: str) -> str:
    """The file's path as a string: a chat send checks two of them twice (already_placed), which took
    2.9k Python bytecodes with Paths built each time and takes 0.3k so."""
    return f"{root}/{sha256[:2]}/{sha256}{suffix}"


def upload_path(settings: Settings, upload: Upload) -> Path:
    return _shard(settings.uploads_dir, upload.sha256, "")


def thumb_path(settings: Settings, upload: Upload) -> Path:
    return _shard(settings.thumbs_dir, upload.sha256, ".jpg")


def _fsync_replace(src: Path, dst: Path) -> None:
    """Move into place durably: data flushed before the rename, the rename flushed after."""
    with open(src, "rb+") as fh:
        os.fsync(fh.fileno())
    dst.parent.mkdir(parents=True, exist_ok=True)
    os.replace(src, dst)
    dir_fd = os.open(dst.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def make_thumbnail(checked: CheckedImage, path: Path) -> None:
    """The JPEG thumbnail, made once per distinct image. JPEGs were decoded small for the model,
    so they are decoded again at thumbnail scale; other formats were decoded whole."""
    if path.exists():
        return
    thumb = checked.image
    if checked.format == "JPEG":
        thumb = open_image(checked.incoming.source, draft_size=THUMB_SIZE)
    if thumb.mode not in ("RGB", "L"):
        thumb = flatten_to_rgb(thumb)
    thumb = thumb.copy()
    thumb.thumbnail((THUMB_SIZE, THUMB_SIZE), Image.Resampling.BILINEAR, reducing_gap=2.0)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    thumb.save(tmp, "JPEG", quality=82)
    _fsync_replace(tmp, path)


def place_files(checked: CheckedImage, settings: Settings) -> None:
    """Put the file and its thumbnail in place, durably, before any database row points at them.

    Done outside the database transaction so a slow disk never holds SQLite's write lock; a
    crash after this and before the commit leaves files with no row, which the start-up sweep
    removes. The thumbnail comes first: it may need the upload, which the move then takes away.
    """
    sha256 = checked.incoming.sha256
    make_thumbnail(checked, _shard(settings.thumbs_dir, sha256, ".jpg"))
    target = _shard(settings.uploads_dir, sha256, "")
    if target.exists():
        if checked.incoming.on_disk:
            checked.incoming.path.unlink(missing_ok=True)
        return
    if checked.incoming.data is not None:  # kept in memory by the form reader: write it out first
        with checked.incoming.open_on_disk() as fh:
            fh.write(checked.incoming.data)
    _fsync_replace(checked.incoming.path, target)


def already_placed(checked: CheckedImage, settings: Settings) -> bool:
    """Whether place_files would find both files in place and have nothing to write or remove: the
    same bytes (by their SHA-256) were stored before, and these are held in memory, not on disk."""
    sha256 = checked.incoming.sha256
    return (not checked.incoming.on_disk and os.path.exists(_shard_name(settings.uploads_dir, sha256, ""))
            and os.path.exists(_shard_name(settings.thumbs_dir, sha256, ".jpg")))


def new_row(owner: str, checked: CheckedImage, now: datetime) -> dict:
    """The Upload row's column values for files already placed, not yet written (see
    backend.services.predictions.build_rows for why values, not an Upload)."""
    incoming = checked.incoming
    return {"id": new_id(), "owner": owner, "sha256": incoming.sha256, "filename": clean_filename(incoming.filename),
            "content_type": checked.content_type, "size_bytes": incoming.size, "width": checked.width,
            "height": checked.height, "created_at": now}
