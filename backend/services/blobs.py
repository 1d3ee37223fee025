"""Where image files live: a folder on this host (the default) or an S3-compatible bucket, behind one
small interface so that backend.services.storage names files and this module only keeps bytes.

Keys are relative paths ("uploads/ab/abcd...", "thumbs/ab/abcd....jpg"): in the folder they are the
paths under DATA_DIR as they always were, in a bucket they follow the URL's prefix. Several hosts
share photos only through a bucket (a folder is one host's; its files are renamed into place, no
lock needed since no file is shared between rows).
"""

from __future__ import annotations

import io
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO, Protocol
from urllib.parse import urlparse

from backend.core.errors import ServiceBusy

CHUNK = 64 * 1024  # bytes a streamed download reads at a time


class StorageUnavailable(ServiceBusy):
    """The bucket did not answer (down, unreachable, overloaded): nothing was stored, retry later."""

    headers = {"Retry-After": "5"}


@dataclass(frozen=True)
class Blob:
    key: str
    size: int
    modified: float  # seconds since the epoch


class Store(Protocol):
    def put_bytes(self, key: str, data: bytes) -> None:
        """Store small bytes made here (a thumbnail), whole or not at all."""

    def put_file(self, key: str, source: bytes | Path, move: bool = False) -> bool:
        """Store an incoming file, whole or not at all, without reading it into memory. move: the
        folder may rename source into place (it is the caller's part file). True when source
        was moved away (nothing left to clean up)."""

    def open(self, key: str) -> BinaryIO:
        """A readable stream of the object; FileNotFoundError when there is none."""

    def delete(self, keys: list[str]) -> None:
        """Remove these objects; missing ones are no error."""

    def listing(self, folder: str) -> Iterator[Blob]:
        """Every object under folder/ (e.g. "uploads")."""


class LocalFolder:
    """Files under root (DATA_DIR): written to incoming/ first and renamed into place, so a file is
    whole before the row that points at it commits.

    Not fsync'd: the database runs WAL with synchronous=NORMAL, which keeps a commit through a
    process crash (kill -9) but not through a power cut, and a file in the page cache keeps the
    same promise. Four fsyncs an upload (file, thumbnail, their folders) cost 1-2 ms each on this
    disk and more when uploads queue behind each other, and bought nothing the row did not lose
    anyway."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.incoming = root / "incoming"

    def path(self, key: str) -> Path:
        return self.root / key

    def _part(self, key: str) -> Path:
        """A new part file in incoming/ for key, renamed into place once written."""
        self.incoming.mkdir(parents=True, exist_ok=True)
        return self.incoming / f"{Path(key).name}.{uuid.uuid4().hex[:8]}.part"

    def put_bytes(self, key: str, data: bytes) -> None:
        tmp = self._part(key)
        tmp.write_bytes(data)
        _into_place(tmp, self.path(key))

    def put_file(self, key: str, source: bytes | Path, move: bool = False) -> bool:
        if isinstance(source, bytes):
            self.put_bytes(key, source)
        elif move:
            _into_place(source, self.path(key))
            return True
        else:
            tmp = self._part(key)
            shutil.copyfile(source, tmp)
            _into_place(tmp, self.path(key))
        return False

    def open(self, key: str) -> BinaryIO:
        return open(self.path(key), "rb")

    def delete(self, keys: list[str]) -> None:
        for key in keys:
            self.path(key).unlink(missing_ok=True)

    def listing(self, folder: str) -> Iterator[Blob]:
        base = self.root / folder
        if not base.is_dir():
            return
        for path in base.rglob("*"):
            if path.is_file():
                stat = path.stat()
                yield Blob(path.relative_to(self.root).as_posix(), stat.st_size, stat.st_mtime)


def _into_place(tmp: Path, target: Path) -> None:
    """An atomic rename: readers see the whole file or none."""
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp, target)


class S3Bucket:
    """Objects in an S3-compatible bucket through boto3 (the `s3` extra). Endpoint, region and
    credentials come from the usual AWS variables (AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY) or boto3's other sources. An acknowledged PUT is durable, so a row
    committed after it always has its object. Short timeouts and few retries: a bucket that is down
    becomes a 503 within seconds rather than a request hanging for minutes."""

    def __init__(self, url: str) -> None:
        try:
            import boto3
            from boto3.s3.transfer import TransferConfig
            from botocore.config import Config
        except ImportError:  # pragma: no cover - the serve profile without the extra
            raise RuntimeError("an s3:// storage URL needs boto3: pip install 'closetchat[s3]'") from None
        parsed = urlparse(url)
        if parsed.scheme != "s3" or not parsed.netloc:
            raise ValueError(f"not an s3://bucket/prefix URL: {url!r}")
        self.bucket = parsed.netloc
        self.prefix = parsed.path.strip("/") + "/" if parsed.path.strip("/") else ""
        config = Config(connect_timeout=3, read_timeout=20, retries={"mode": "standard", "max_attempts": 2})
        self.client = boto3.client("s3", config=config)
        # uploads run in the request's worker thread already; one stream at a time, read as sent
        self.transfer = TransferConfig(use_threads=False)

    def _key(self, key: str) -> str:
        return self.prefix + key

    def put_bytes(self, key: str, data: bytes) -> None:
        with _unavailable_as_503():
            self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data)

    def put_file(self, key: str, source: bytes | Path, move: bool = False) -> bool:
        with _unavailable_as_503():
            if isinstance(source, bytes):
                self.client.upload_fileobj(io.BytesIO(source), self.bucket, self._key(key), Config=self.transfer)
            else:  # streamed from the part file; the form's cleanup removes it afterwards
                with open(source, "rb") as fh:
                    self.client.upload_fileobj(fh, self.bucket, self._key(key), Config=self.transfer)
        return False

    def open(self, key: str) -> BinaryIO:
        with _unavailable_as_503():
            return self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"]

    def delete(self, keys: list[str]) -> None:
        for start in range(0, len(keys), 1000):  # DeleteObjects takes at most 1000 keys
            batch = [{"Key": self._key(k)} for k in keys[start:start + 1000]]
            if batch:
                with _unavailable_as_503():
                    self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})

    def listing(self, folder: str) -> Iterator[Blob]:
        """A bucket not made yet lists nothing (SeaweedFS and MinIO make it on the first upload
        with admin keys: `storage copy` into a fresh one works)."""
        from botocore.exceptions import ClientError

        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self._key(folder) + "/")
        try:
            with _unavailable_as_503():
                for page in pages:
                    for item in page.get("Contents", ()):
                        yield Blob(item["Key"][len(self.prefix):], item["Size"], item["LastModified"].timestamp())
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "NoSuchBucket":
                raise


class _unavailable_as_503:
    """botocore's failures as ours: a missing object is FileNotFoundError, a bucket that cannot be
    reached or answers 5xx is StorageUnavailable (503 with Retry-After); anything else (denied, no
    such bucket) stays an error to fix, a 500."""

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        if exc is None:
            return False
        from botocore.exceptions import BotoCoreError, ClientError

        if isinstance(exc, ClientError):
            code = exc.response.get("Error", {}).get("Code", "")
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if code in ("NoSuchKey", "404", "NotFound"):
                raise FileNotFoundError(str(exc)) from None
            if status >= 500 or code in ("SlowDown", "ServiceUnavailable", "RequestTimeout"):
                raise StorageUnavailable("photo storage is not answering; try again in a moment") from exc
            return False
        if isinstance(exc, BotoCoreError):  # connection refused, timeouts, DNS
            raise StorageUnavailable("photo storage is not answering; try again in a moment") from exc
        return False


@lru_cache(maxsize=32)
def _store(url: str, data_dir: Path) -> Store:
    return S3Bucket(url) if url else LocalFolder(data_dir)


def store_for(settings) -> Store:
    """The store settings name (CLOSETCHAT_STORAGE_URL, else DATA_DIR), one per process (boto3's
    client is thread-safe and keeps its connections)."""
    return _store(settings.storage_url, settings.data_dir)
