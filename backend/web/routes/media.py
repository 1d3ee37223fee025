"""The photos a browser's chat and History show: thumbnails, originals and the 28×28 image the
model was given, owner-checked."""

from __future__ import annotations

import io

from fastapi import APIRouter, Response
from PIL import Image

from backend.core.db import get_owned
from backend.core.deps import BrowserOwner, SessionDep, SettingsDep
from backend.models import Upload
from backend.services import storage
from ml import open_image, to_fashion_mnist

router = APIRouter(tags=["media"], include_in_schema=False)


@router.get("/media/{upload_id}/thumb")
def thumbnail(upload_id: str, session: SessionDep, owner: BrowserOwner, settings: SettingsDep):
    return storage.image_response(settings, get_owned(session, Upload, upload_id, owner, "image"), thumbnail=True)


@router.get("/media/{upload_id}/image")
def original(upload_id: str, session: SessionDep, owner: BrowserOwner, settings: SettingsDep):
    return storage.image_response(settings, get_owned(session, Upload, upload_id, owner, "image"))


@router.get("/media/{upload_id}/model-input")
def model_input(upload_id: str, session: SessionDep, owner: BrowserOwner, settings: SettingsDep):
    """What the model saw: the stored photo decoded and brought to Fashion-MNIST form as the
    answer was made (the same open_image and to_fashion_mnist), made only when asked for."""
    upload = get_owned(session, Upload, upload_id, owner, "image")
    pixels = to_fashion_mnist(open_image(storage.upload_path(settings, upload)))
    out = io.BytesIO()
    Image.fromarray(pixels, "L").save(out, "PNG")
    return Response(out.getvalue(), media_type="image/png",
                    headers={"Cache-Control": "private, max-age=86400", "Content-Disposition": "inline"})
