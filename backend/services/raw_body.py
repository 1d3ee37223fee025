"""One image sent as the whole request body (`curl --data-binary @shirt.jpg -H 'Content-Type:
image/jpeg'`), the way many HTTP clients and serving APIs upload a file, beside multipart forms.

The body streams in under the per-file cap (413 as soon as it is passed, nothing kept beyond it) and
becomes the same IncomingFile a multipart part does, so checking, classifying and storing are shared.
The filename comes from a Content-Disposition header when the client sends one. The body is kept in
memory while the process's upload memory has room (backend.services.upload_memory), else it
continues on disk in data_dir/incoming (#28: stalled raw uploads held 5 MB each, without a bound).
"""

from __future__ import annotations

import uuid
from pathlib import Path

from python_multipart.multipart import parse_options_header
from starlette.requests import ClientDisconnect, Request

from backend.core.errors import BadForm, UploadTooLarge
from backend.services.multipart import IncomingFile, IncomingForm, read_form
from backend.services.upload_memory import Lease, UploadMemory, default_pool

RAW_TYPES = (b"application/octet-stream",)  # besides image/*
DEFAULT_NAME = "upload"


def is_raw_upload(request: Request) -> bool:
    content_type, _ = parse_options_header(request.headers.get("content-type", ""))
    return content_type.startswith(b"image/") or content_type in RAW_TYPES


def body_filename(request: Request) -> str:
    _, params = parse_options_header(request.headers.get("content-disposition", ""))
    name = params.get(b"filename") or b""
    return name.decode("utf-8", "replace") or DEFAULT_NAME


async def read_raw(request: Request, incoming_dir: Path, max_file_bytes: int, field: str,
                   pool: UploadMemory | None = None) -> IncomingForm:
    """The body as one file of the given form field (at most max_file_bytes): in memory while pool
    has room, else on disk at its path. form.cleanup() gives back both."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_file_bytes:
        raise UploadTooLarge(f"the image is larger than {max_file_bytes / (1024 * 1024):g} MB")
    upload = IncomingFile(field=field, filename=body_filename(request), path=incoming_dir / f"{uuid.uuid4().hex}.part")
    form = IncomingForm(files=[upload], _lease=(pool or default_pool()).lease())
    sink = _Sink(upload, form._lease)
    try:
        async for chunk in request.stream():
            upload.size += len(chunk)
            if upload.size > max_file_bytes:
                raise UploadTooLarge(f"the image is larger than {max_file_bytes / (1024 * 1024):g} MB")
            upload._hash.update(chunk)
            sink.write(chunk)
        sink.finish()
    except BaseException as exc:  # refused, client gone, cancelled: nothing kept, nothing held
        sink.close()
        form.cleanup()
        if isinstance(exc, ClientDisconnect):
            raise BadForm("the upload was interrupted") from None
        raise
    upload.sha256 = upload._hash.hexdigest()
    return form


class _Sink:
    """Where a raw body goes: memory while the lease has room, then the file at upload.path."""

    def __init__(self, upload: IncomingFile, lease: Lease) -> None:
        self.upload, self.lease = upload, lease
        self.body: bytearray | None = bytearray()
        self.handle = None

    def write(self, chunk: bytes) -> None:
        if self.body is not None:
            if self.lease.take(len(chunk)):
                self.body += chunk
                return
            self.handle = self.upload.open_on_disk()  # no room in memory: what came so far, then the rest
            self.handle.write(self.body)
            self.body = None
            self.lease.release()
        self.handle.write(chunk)

    def finish(self) -> None:
        if self.body is not None:
            self.upload.data = bytes(self.body)
            self.body = None
        self.close()

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()


async def read_upload(request: Request, incoming_dir: Path, max_file_bytes: int, max_files: int, field: str,
                      memory_budget: int | None = None, pool: UploadMemory | None = None) -> IncomingForm:
    """A multipart form, or a raw image body as that form's one file in `field`."""
    if is_raw_upload(request):
        return await read_raw(request, incoming_dir, max_file_bytes, field, pool=pool)
    if memory_budget is None:
        return await read_form(request, incoming_dir, max_file_bytes, max_files, pool=pool)
    return await read_form(request, incoming_dir, max_file_bytes, max_files, memory_budget=memory_budget, pool=pool)
