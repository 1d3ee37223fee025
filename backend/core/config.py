"""All settings in one object, read from CLOSETCHAT_* environment variables (or passed in by
tests). Every path the app writes derives from data_dir."""

from __future__ import annotations

import os
import re
import secrets
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CLOSETCHAT_", env_file=None, extra="ignore", frozen=True)

    data_dir: Path = Path("./var")
    # where photos and thumbnails are kept: empty = DATA_DIR (one host); s3://bucket/prefix = an
    # S3-compatible bucket several hosts share (endpoint, region and keys: the usual AWS_* variables)
    storage_url: str = ""
    database_url: str | None = None  # default: SQLite file in data_dir
    max_upload_mb: float = 5.0  # per file
    max_files: int = 16  # per request, chat and API alike
    max_pixels: int = 40_000_000  # decompression-bomb cap, checked before decoding
    # decoded pixels one request may cost in all (JPEGs count at their reduced decoding scale)
    max_request_pixels: int = 100_000_000
    # bytes of full-size decoding in flight in one server process (backend.services.decoding)
    decode_budget_mb: int = 384
    decode_wait_seconds: float = 10.0  # a decode waiting longer for room gets a 503
    # upload bytes all requests of one server process may keep in memory while they arrive; past it
    # files continue on disk in incoming/ (backend.services.upload_memory)
    upload_memory_mb: float = 128
    photos_per_minute: int = 120  # one browser or API key, per server process; 0: no limit (local mode: none)
    storage_per_owner_mb: float = 1024  # uploads one browser or API key may keep; 0: no limit (local mode: none)
    db_pool_size: int = 20  # connections kept; as many again may be opened under load (SQLite)
    # how long a request waits for a free database connection before it gets a 503 with Retry-After
    db_pool_timeout: float = 3.0
    max_text_chars: int = 2000
    secret_key: str | None = None  # default: generated once, kept in data_dir/secret_key
    api_keys: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # origins (comma-separated, or *) whose pages may call the JSON API and the seed routes; empty: none
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Host names the server answers to (comma-separated, or *); empty: in local mode loopback names,
    # IP addresses and single-label names (backend.core.hosts), with API keys any
    allowed_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # with API keys, /metrics and /docs (+ /openapi.json) need a key too unless these say otherwise
    public_metrics: bool = False
    public_docs: bool = False
    model_dir: Path | None = None  # default: the weights shipped in ml/weights
    inference_threads: int = 1
    max_batch: int = 32  # micro-batching: most images in one forward pass
    # micro-batching: how long the batcher waits for company once it has taken what was queued.
    # 0: under load requests queue while a pass runs and share the next; alone, none is kept waiting
    max_wait_ms: float = 0.0
    migrate_on_start: bool = True
    drain_seconds: float = 0.0  # on SIGTERM: /readyz says 503 and serving goes on this long (backend/core/draining.py)
    sweep_grace_seconds: float = 3600.0  # `closetchat sweep` spares files younger than this (uploads in flight)
    cookie_secure: bool = False  # set true behind HTTPS
    history_page_size: int = 50

    @field_validator("api_keys", "cors_origins", "allowed_hosts", mode="before")
    @classmethod
    def _split_keys(cls, value):
        if isinstance(value, str):
            return [k.strip() for k in value.split(",") if k.strip()]
        return value

    @field_validator("storage_url")
    @classmethod
    def _bucket_url(cls, value: str) -> str:
        """A mistyped URL stops the start, not every upload later."""
        if value and not re.fullmatch(r"s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9](/.*)?", value):
            raise ValueError(f"CLOSETCHAT_STORAGE_URL: expected s3://bucket/prefix (or empty), got {value!r}")
        return value

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'closetchat.db').resolve()}"

    @cached_property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"

    @cached_property
    def thumbs_dir(self) -> Path:
        return self.data_dir / "thumbs"

    @cached_property
    def incoming_dir(self) -> Path:
        """Where request bodies stream to before they are checked; same filesystem as uploads."""
        return self.data_dir / "incoming"

    def ensure_dirs(self) -> None:
        """The data folders, readable by this user only (0700): they hold everyone's photos, the
        database and the cookie-signing secret, and were world-readable under the usual umask."""
        for folder in (self.data_dir, self.uploads_dir, self.thumbs_dir, self.incoming_dir):
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            self.data_dir.chmod(0o700)  # also a data dir made before, or by someone else's mkdir
        except PermissionError:  # not ours (a mounted volume): its owner decides
            pass

    def resolved_secret(self) -> str:
        """The signing secret; generated once into data_dir. Workers starting together race to
        create it: os.link is atomic and refuses to overwrite, so all of them read the winner's."""
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / "secret_key"
        if not path.exists():
            self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            tmp = self.data_dir / f".secret_key.{os.getpid()}.{secrets.token_hex(4)}"
            with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as fh:
                fh.write(secrets.token_urlsafe(32))  # 0600 from the start: never readable by others
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass
            finally:
                tmp.unlink(missing_ok=True)
        return path.read_text().strip()


@lru_cache
def get_settings() -> Settings:
    return Settings()
