"""Start-up housekeeping: what a crash can leave behind is removed before serving.

A kill -9 between moving a file into place and committing its row leaves a file with no row;
an interrupted request leaves a part file in incoming/. Both are swept here, but only when
older than a grace period, so a sibling worker's upload in flight is never touched.
"""

from __future__ import annotations

import time
from pathlib import Path

from sqlmodel import Session, select

from backend.config import Settings
from backend.models import Upload


def _old_files(folder: Path, older_than: float):
    if not folder.is_dir():
        return
    for path in folder.rglob("*"):
        if path.is_file() and path.stat().st_mtime < older_than:
            yield path


def sweep(engine, settings: Settings, grace_seconds: float = 30.0) -> dict[str, int]:
    cutoff = time.time() - grace_seconds
    removed = {"incoming": 0, "orphans": 0}
    for path in _old_files(settings.incoming_dir, cutoff):
        path.unlink(missing_ok=True)
        removed["incoming"] += 1
    with Session(engine) as session:
        known = set(session.exec(select(Upload.sha256).distinct()))
    for folder, suffix in ((settings.uploads_dir, ""), (settings.thumbs_dir, ".jpg")):
        for path in _old_files(folder, cutoff):
            sha = path.name[: -len(suffix)] if suffix and path.name.endswith(suffix) else path.name
            if sha not in known:
                path.unlink(missing_ok=True)
                removed["orphans"] += 1
    return removed
