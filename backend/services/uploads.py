"""Checking that an uploaded file is an image we accept, and the Upload row it becomes
(backend.services.storage keeps its files)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from PIL import Image

from backend.core.config import Settings
from backend.core.errors import BrokenImage, ClosetChatError, EmptyFile, ImageTooLarge, NotAnImage, UploadTooLarge
from backend.models import Upload
from backend.services.decoding import RequestPixels, decode_bounded
from backend.services.multipart import IncomingFile
from ml import WORK_SIZE, UnreadableImage

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


def check_image(incoming: IncomingFile, settings: Settings, pixels: RequestPixels | None = None) -> CheckedImage:
    """Raise the matching ClosetChatError unless the file is an image we can classify.

    The header is read first (size and pixel caps, nothing decoded), then the image is decoded
    once at the model's working size, as `ml.Classifier` decodes: every route gives one photo
    the same answer. Decoding runs under the request's pixel cap (pixels) and the server's
    memory budget (backend.services.decoding)."""
    name = clean_filename(incoming.filename)
    if incoming.too_large:
        raise UploadTooLarge(f"“{name}” is larger than {settings.max_upload_mb:g} MB")
    if incoming.size == 0:
        raise EmptyFile(f"“{name}” is empty")
    try:
        image = decode_bounded(incoming.source, settings, WORK_SIZE, name, pixels)
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


def new_upload(owner: str, checked: CheckedImage) -> Upload:
    """The Upload row for a checked image; its files are written by storage.place before it commits."""
    incoming = checked.incoming
    return Upload(owner=owner, sha256=incoming.sha256, filename=clean_filename(incoming.filename),
                  content_type=checked.content_type, size_bytes=incoming.size, width=checked.width,
                  height=checked.height)
