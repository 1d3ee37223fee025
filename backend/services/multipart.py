"""Streaming multipart/form-data reader with limits enforced while the bytes arrive.

Starlette's request.form() spools files to the system temp folder with no size limit; this
reader writes each file part straight into data_dir/incoming, hashing as it goes, stops
keeping a part at the per-file cap, and aborts the request at the total cap, so a 1 GB body
costs neither memory nor disk. Parts kept in memory are reserved from the process's
UploadMemory as they arrive; when it has no room they continue on disk (#28).
"""

from __future__ import annotations

import hashlib
import io
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl

from python_multipart.multipart import MultipartParseError, MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

from backend.core.errors import BadForm, RequestTooLarge, TooManyFiles
from backend.services.upload_memory import Lease, UploadMemory, default_pool

FIELD_LIMIT = 64 * 1024  # bytes in one text field; longer messages are refused by the caller
# text parts in one form (the chat sends two or three): 1.6M tiny fields once took 56 s of the
# event loop's CPU (a part's headers are capped by python-multipart itself)
MAX_FIELDS = 32
FORM_OVERHEAD = 1024 * 1024
# file bytes a form keeps in memory before the rest goes to disk: a few phone photos, checked
# without a round trip through the disk
SPOOL_BYTES = 1024 * 1024


@dataclass
class IncomingFile:
    field: str
    filename: str
    path: Path
    size: int = 0
    too_large: bool = False
    sha256: str = ""
    data: bytes | None = None  # the bytes themselves when kept in memory (within the form's budget)
    on_disk: bool = False  # bytes were written to path (which cleanup then removes)
    _hash: hashlib._Hash = field(default_factory=hashlib.sha256, repr=False)

    @property
    def source(self) -> bytes | Path:
        """What to decode: the bytes in memory, else the file on disk."""
        return self.data if self.data is not None else self.path

    def open_on_disk(self):
        """The file at path, opened for writing (its folder made if it went missing)."""
        self.on_disk = True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return open(self.path, "wb")


@dataclass
class IncomingForm:
    fields: dict[str, list[str]] = field(default_factory=dict)
    files: list[IncomingFile] = field(default_factory=list)
    oversized_fields: set[str] = field(default_factory=set)
    # this request's share of the process's upload memory (what its files keep in .data)
    _lease: Lease | None = field(default=None, repr=False)

    def first(self, name: str, default: str = "") -> str:
        values = self.fields.get(name)
        return values[0] if values else default

    def cleanup(self) -> None:
        """Remove whatever temp files are still in incoming/ (moved ones are gone already); a
        form kept in memory costs no file system call. Its upload memory is given back."""
        for item in self.files:
            if item.on_disk:
                item.path.unlink(missing_ok=True)
        if self._lease is not None:
            self._lease.release()


class _Collector:
    def __init__(self, incoming_dir: Path, max_file_bytes: int, max_files: int, memory_budget: int,
                 pool: UploadMemory) -> None:
        self.lease = pool.lease()
        self.form = IncomingForm(_lease=self.lease)
        self.memory_left = memory_budget  # file bytes this form may still keep in memory
        self._part_memory = 0  # bytes of the current part reserved from the process's upload memory
        self.incoming_dir = incoming_dir
        self.max_file_bytes = max_file_bytes
        self.max_files = max_files
        self._header_field = b""
        self._header_value = b""
        self._headers: dict[bytes, bytes] = {}
        self._file: IncomingFile | None = None
        self._handle = None
        self._field_name: str | None = None
        self._field_value = bytearray()
        self._field_too_big = False
        self._fields = 0  # text parts so far

    def callbacks(self) -> dict:
        return {
            "on_part_begin": self.on_part_begin,
            "on_header_field": lambda d, s, e: setattr(self, "_header_field", self._header_field + d[s:e]),
            "on_header_value": lambda d, s, e: setattr(self, "_header_value", self._header_value + d[s:e]),
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
        }

    def on_part_begin(self) -> None:
        self._headers = {}
        self._file, self._field_name = None, None
        self._part_memory = 0
        self._field_value = bytearray()
        self._field_too_big = False

    def on_header_end(self) -> None:
        self._headers[self._header_field.lower()] = self._header_value
        self._header_field, self._header_value = b"", b""

    def on_headers_finished(self) -> None:
        disposition, params = parse_options_header(self._headers.get(b"content-disposition", b""))
        if disposition != b"form-data" or b"name" not in params:
            raise BadForm("a form part has no name")
        name = params[b"name"].decode("utf-8", "replace")
        if b"filename" in params:
            if len(self.form.files) >= self.max_files:
                raise TooManyFiles(f"too many files: at most {self.max_files} in one request")
            filename = params[b"filename"].decode("utf-8", "replace")
            path = self.incoming_dir / f"{uuid.uuid4().hex}.part"
            self._file = IncomingFile(field=name, filename=filename, path=path)
            self.form.files.append(self._file)
            self._handle = io.BytesIO() if self.memory_left > 0 else self._file.open_on_disk()
        else:
            self._fields += 1
            if self._fields > MAX_FIELDS:
                raise BadForm(f"too many form fields: at most {MAX_FIELDS}")
            self._field_name = name

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        if self._file is not None:
            self._file.size += len(chunk)
            if self._file.size > self.max_file_bytes:
                if not self._file.too_large:  # stop keeping it; the rest is read and dropped
                    self._file.too_large = True
                    self._handle.close()
                    self._file.path.unlink(missing_ok=True)
                    self._give_back_part()
                return
            self._file._hash.update(chunk)
            if isinstance(self._handle, io.BytesIO):
                if len(chunk) <= self.memory_left and self.lease.take(len(chunk)):
                    self.memory_left -= len(chunk)
                    self._part_memory += len(chunk)
                else:  # over this form's memory budget or the process's: the file continues on disk
                    self.memory_left = 0
                    kept, self._handle = self._handle.getvalue(), self._file.open_on_disk()
                    self._handle.write(kept)
                    del kept
                    self._give_back_part()
            self._handle.write(chunk)
        elif len(self._field_value) + len(chunk) <= FIELD_LIMIT:
            self._field_value += chunk
        else:
            self._field_too_big = True

    def _give_back_part(self) -> None:
        self.lease.give_back(self._part_memory)
        self._part_memory = 0

    def on_part_end(self) -> None:
        if self._file is not None:
            if not self._file.too_large:
                if isinstance(self._handle, io.BytesIO):
                    self._file.data = self._handle.getvalue()
                self._handle.close()
                self._file.sha256 = self._file._hash.hexdigest()
            self._handle = None
        elif self._field_name is not None:
            if self._field_too_big:
                self.form.oversized_fields.add(self._field_name)
            else:
                value = self._field_value.decode("utf-8", "replace")
                self.form.fields.setdefault(self._field_name, []).append(value)

    def abort(self) -> None:
        if self._handle is not None and not self._handle.closed:
            self._handle.close()
        self.form.cleanup()


async def read_form(
    request: Request, incoming_dir: Path, max_file_bytes: int, max_files: int, memory_budget: int = SPOOL_BYTES,
    pool: UploadMemory | None = None,
) -> IncomingForm:
    """Parse a multipart body from the stream; raise a ClosetChatError on anything malformed.

    Files stay in memory while the form's file bytes fit memory_budget and continue on disk in
    data_dir/incoming past it, so a form of phone photos costs at most that much memory (a
    store-nothing endpoint passes the per-file cap to keep its one file in memory whole). The
    bytes kept are also reserved from pool, the process's upload memory (backend.services.
    upload_memory): when it has no room, files continue on disk too. form.cleanup() gives them back.
    """
    content_type, params = parse_options_header(request.headers.get("content-type", ""))
    max_total = max_files * max_file_bytes + FORM_OVERHEAD
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_total:
        raise RequestTooLarge(f"the request is larger than {max_total // (1024 * 1024)} MB")
    if content_type == b"application/x-www-form-urlencoded":
        return await _read_urlencoded(request)
    if content_type != b"multipart/form-data" or not params.get(b"boundary"):
        raise BadForm("send the image as multipart/form-data")
    collector = _Collector(incoming_dir, max_file_bytes, max_files, memory_budget, pool or default_pool())
    parser = MultipartParser(params[b"boundary"], collector.callbacks())
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > max_total:
                raise RequestTooLarge(f"the request is larger than {max_total // (1024 * 1024)} MB")
            parser.write(chunk)
        parser.finalize()
    except MultipartParseError as exc:
        collector.abort()
        raise BadForm(f"malformed multipart body: {exc}") from exc
    except ClientDisconnect:
        collector.abort()
        raise BadForm("the upload was interrupted") from None
    except BaseException:
        collector.abort()
        raise
    if collector._handle is not None and not collector._handle.closed:
        collector.abort()
        raise BadForm("the upload ended in the middle of a file")
    return collector.form


async def _read_urlencoded(request: Request) -> IncomingForm:
    """A text-only form post (no files): small, so read whole within the field limit."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > FIELD_LIMIT * 4:
            raise RequestTooLarge("that message is too long")
    form = IncomingForm()
    try:
        pairs = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except ValueError:
        raise BadForm(f"too many form fields: at most {MAX_FIELDS}") from None
    for name, value in pairs:
        if len(value) > FIELD_LIMIT:
            form.oversized_fields.add(name)
        else:
            form.fields.setdefault(name, []).append(value)
    return form
