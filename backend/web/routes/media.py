"""The photos a browser's chat and History show: thumbnails and originals, owner-checked."""

from __future__ import annotations

from fastapi import APIRouter

from backend.core.db import get_owned
from backend.core.deps import BrowserOwner, SessionDep, SettingsDep
from backend.models import Upload
from backend.services import storage

router = APIRouter(tags=["media"], include_in_schema=False)


@router.get("/media/{upload_id}/thumb")
def thumbnail(upload_id: str, session: SessionDep, owner: BrowserOwner, settings: SettingsDep):
    return storage.image_response(settings, get_owned(session, Upload, upload_id, owner, "image"), thumbnail=True)


@router.get("/media/{upload_id}/image")
def original(upload_id: str, session: SessionDep, owner: BrowserOwner, settings: SettingsDep):
    return storage.image_response(settings, get_owned(session, Upload, upload_id, owner, "image"))
