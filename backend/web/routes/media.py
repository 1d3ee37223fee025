"""The photos a browser's chat and History show: thumbnails, originals, and for an answer the
28×28 image the model was given and a map of what moved it; all owner-checked."""

from __future__ import annotations

from fastapi import APIRouter, Response

from backend.core.db import get_owned
from backend.core.deps import BrowserOwner, EngineDep, SessionDep, SettingsDep
from backend.models import Prediction, Upload
from backend.services import explain, storage

router = APIRouter(tags=["media"], include_in_schema=False)


@router.get("/media/{upload_id}/thumb")
def thumbnail(upload_id: str, session: SessionDep, owner: BrowserOwner, settings: SettingsDep):
    return storage.image_response(settings, get_owned(session, Upload, upload_id, owner, "image"), thumbnail=True)


@router.get("/media/{upload_id}/image")
def original(upload_id: str, session: SessionDep, owner: BrowserOwner, settings: SettingsDep):
    return storage.image_response(settings, get_owned(session, Upload, upload_id, owner, "image"))


_MADE_HEADERS = {"Cache-Control": "private, max-age=86400", "Content-Disposition": "inline"}


@router.get("/media/{upload_id}/model-input")
def model_input(upload_id: str, session: SessionDep, owner: BrowserOwner, settings: SettingsDep):
    """What the model saw: the stored photo decoded and brought to Fashion-MNIST form as the
    answer was made (the same open_image and to_fashion_mnist), made only when asked for."""
    upload = get_owned(session, Upload, upload_id, owner, "image")
    pixels, _ = explain.model_input(storage.source(settings, upload))
    return Response(explain.png(pixels), media_type="image/png", headers=_MADE_HEADERS)


@router.get("/predictions/{prediction_id}/heatmap")
def heatmap(prediction_id: str, session: SessionDep, owner: BrowserOwner, settings: SettingsDep,
            engine: EngineDep):
    """What moved the answer: the model input with, in red, where covering it cost the answered
    class most (by the model serving now), made only when asked for."""
    prediction = get_owned(session, Prediction, prediction_id, owner, "prediction")
    upload = get_owned(session, Upload, prediction.upload_id, owner, "image")
    pixels, dataset_form = explain.model_input(storage.source(settings, upload))
    heat = explain.occlusion(engine, pixels, dataset_form, prediction.label_index)
    return Response(explain.png(pixels, heat), media_type="image/png", headers=_MADE_HEADERS)
