"""Start-up housekeeping: what a crash can leave behind is removed before serving.

A kill -9 between putting an upload's files in place and committing its row leaves files with no
row: removed under file_lock.removing, which waits for every upload in flight (in this worker or a
sibling) to commit, so only a crash's leftovers have no row. An interrupted request leaves a part
file in incoming/: removed when older than a grace period, since a sibling worker may be
streaming one into place right now.
"""

from __future__ import annotations

import time
from pathlib import Path

from sqlmodel import Session, select

from backend.config import Settings
from backend.models import Upload
from backend.services import file_lock


def _files(folder: Path, older_than: float | None = None):
    if not folder.is_dir():
        return
    for path in folder.rglob("*"):
        if path.is_file() and (older_than is None or path.stat().st_mtime < older_than):
            yield path


def sweep(engine, settings: Settings, incoming_grace_seconds: float = 30.0) -> dict[str, int]:
    removed = {"incoming": 0, "orphans": 0}
    for path in _files(settings.incoming_dir, time.time() - incoming_grace_seconds):
        path.unlink(missing_ok=True)
        removed["incoming"] += 1
    with file_lock.removing(settings), Session(engine) as session:
        known = set(session.exec(select(Upload.sha256).distinct()))
        for folder, suffix in ((settings.uploads_dir, ""), (settings.thumbs_dir, ".jpg")):
            for path in _files(folder):
                sha = path.name[: -len(suffix)] if suffix and path.name.endswith(suffix) else path.name
                if sha not in known:
                    path.unlink(missing_ok=True)
                    removed["orphans"] += 1
    return removed
