"""One image sent as the whole request body (`curl --data-binary @shirt.jpg -H 'Content-Type:
image/jpeg'`), the way many HTTP clients and serving APIs upload a file, beside multipart forms.

The body streams in under the per-file cap (413 as soon as it is passed, nothing kept beyond it) and
becomes the same IncomingFile a multipart part does, so checking, classifying and storing are shared.
The filename comes from a Content-Disposition header when the client sends one.
"""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

from python_multipart.multipart import parse_options_header
from starlette.requests import ClientDisconnect, Request

from backend.core.errors import BadForm, UploadTooLarge
from backend.services.multipart import IncomingFile, IncomingForm, read_form

RAW_TYPES = (b"application/octet-stream",)  # besides image/*
DEFAULT_NAME = "upload"


def is_raw_upload(request: Request) -> bool:
    content_type, _ = parse_options_header(request.headers.get("content-type", ""))
    return content_type.startswith(b"image/") or content_type in RAW_TYPES


def body_filename(request: Request) -> str:
    _, params = parse_options_header(request.headers.get("content-disposition", ""))
    name = params.get(b"filename") or b""
    return name.decode("utf-8", "replace") or DEFAULT_NAME


async def read_raw(request: Request, incoming_dir: Path, max_file_bytes: int, field: str) -> IncomingForm:
    """The body as one file of the given form field, held in memory (at most max_file_bytes)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_file_bytes:
        raise UploadTooLarge(f"the image is larger than {max_file_bytes / (1024 * 1024):g} MB")
    body, digest = bytearray(), hashlib.sha256()
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > max_file_bytes:
                raise UploadTooLarge(f"the image is larger than {max_file_bytes / (1024 * 1024):g} MB")
            digest.update(chunk)
    except ClientDisconnect:
        raise BadForm("the upload was interrupted") from None
    upload = IncomingFile(field=field, filename=body_filename(request), path=incoming_dir / f"{uuid.uuid4().hex}.part",
                          size=len(body), sha256=digest.hexdigest(), data=bytes(body))
    return IncomingForm(files=[upload])


async def read_upload(request: Request, incoming_dir: Path, max_file_bytes: int, max_files: int, field: str,
                      memory_budget: int | None = None) -> IncomingForm:
    """A multipart form, or a raw image body as that form's one file in `field`."""
    if is_raw_upload(request):
        return await read_raw(request, incoming_dir, max_file_bytes, field)
    if memory_budget is None:
        return await read_form(request, incoming_dir, max_file_bytes, max_files)
    return await read_form(request, incoming_dir, max_file_bytes, max_files, memory_budget=memory_budget)
