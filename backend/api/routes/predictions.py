"""/api/v1/predictions: classify images in bulk and read, correct or delete what you sent."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse, JSONResponse, Response

from backend.core.deps import ApiOwner, EngineDep, SessionDep, SettingsDep, UploadForm
from backend.core.errors import BadForm
from backend.schemas import BatchResult, Classification, ErrorBody, FeedbackIn, FileError, PredictionPage, PredictionPublic
from backend.services import history, predictions, storage

router = APIRouter(prefix="/api/v1/predictions", tags=["predictions"])


def multipart_body(field: str, many: bool, cap: int | None = None, raw: bool = True) -> dict:
    """The request body as OpenAPI should show it (the route reads the stream itself): a multipart
    form, or one image as the whole body (backend/services/raw_body.py). The raw body is listed as
    application/octet-stream only, though any image/* type is read the same: client generators
    (openapi-python-client) skip an operation's media types they do not know, image/* among them."""
    binary = {"type": "string", "format": "binary"}
    schema = {"type": "array", "items": binary, "minItems": 1, **({"maxItems": cap} if cap else {})} if many else binary
    content = {"multipart/form-data": {"schema": {"type": "object", "required": [field], "properties": {field: schema}}}}
    if raw:
        content["application/octet-stream"] = {"schema": binary}
    return {"requestBody": {"required": True, "content": content}}


ERRORS = {status: {"model": ErrorBody, "description": description} for status, description in {
    401: "Missing or unknown API key (only when CLOSETCHAT_API_KEYS is set)",
    404: "No such prediction for this key",
    413: "A file over the size cap, or too many files",
    415: "Not an image",
    422: "Broken, empty or oversized (pixel count) image, or a malformed form",
}.items()}
StoreQuery = Annotated[bool, Query(description="false: classify only; nothing is kept (kind `classification`, no id)")]
TopKQuery = Annotated[int, Query(ge=1, le=10, description="How many classes `top_k` lists, best first (1 to 10)")]


@router.post(
    "",
    response_model=BatchResult,
    summary="Classify 1 to 16 images",
    description="Multipart field `files`, repeated for several images (at most 16 by default, "
    "`CLOSETCHAT_MAX_FILES`; each at most `CLOSETCHAT_MAX_UPLOAD_MB`, 5 MB), or one image as the whole "
    "body (`Content-Type: image/jpeg`, `image/png`... or `application/octet-stream`). One entry per file in "
    "order: a prediction, or that file's error; the others are still answered. When no file could "
    "be answered the status is the first error's (4xx) and `detail` says why.",
    openapi_extra=multipart_body("files", many=True, cap=16),
    responses=ERRORS,
)
def create_predictions(form: UploadForm, session: SessionDep, owner: ApiOwner, settings: SettingsDep,
                       engine: EngineDep, top_k: TopKQuery = 3, store: StoreQuery = True):
    files = [f for f in form.files if f.field == "files"]
    if not files:
        raise BadForm("send one or more images in the multipart field “files”")
    if store:
        answers = predictions.create(session, owner, files, settings, engine)
    else:
        answers = predictions.classify(files, settings, engine)
    results = [_entry(a, top_k) for a in answers]
    body = BatchResult(results=results).model_dump(mode="json")
    if not any(a.result for a in answers):
        first = answers[0].error
        return JSONResponse({"detail": first.message, **body}, status_code=first.status_code)
    return body


def _entry(answer: predictions.Answer, top_k: int) -> PredictionPublic | Classification | FileError:
    if answer.prediction is not None:
        return PredictionPublic.of(answer.prediction, top_k)
    if answer.result is not None:
        return Classification.of(answer.filename, answer.result, top_k)
    return FileError(filename=answer.filename, status=answer.error.status_code, detail=answer.error.message)


@router.get("", response_model=PredictionPage, summary="List your predictions, newest first")
def list_predictions(
    session: SessionDep,
    owner: ApiOwner,
    label: Annotated[str | None, Query(description="Only this class")] = None,
    unsure: bool | None = None,
    corrected: bool | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    sort: Literal["newest", "oldest", "confidence", "least_confident"] = "newest",
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=history.MAX_PER_PAGE)] = 50,
    top_k: TopKQuery = 3,
):
    filters = history.Filters(label=label, unsure=unsure, corrected=corrected, date_from=date_from,
                              date_to=date_to, sort=sort, page=page, per_page=per_page)
    result = history.search(session, owner, filters)
    return PredictionPage(items=[PredictionPublic.of(r, top_k) for r in result.items], total=result.total,
                          page=result.page, per_page=result.per_page, pages=result.pages)


@router.get("/{prediction_id}", response_model=PredictionPublic, responses={404: ERRORS[404]})
def get_prediction(prediction_id: str, session: SessionDep, owner: ApiOwner, top_k: TopKQuery = 3):
    return PredictionPublic.of(predictions.get(session, owner, prediction_id), top_k)


@router.get("/{prediction_id}/image", response_class=FileResponse, responses={
    200: {"content": {"image/jpeg": {}, "image/png": {}, "image/gif": {}, "image/webp": {}},
          "description": "The image as sent (JPEG thumbnail for formats browsers can't show)"},
    404: ERRORS[404]})
def get_image(prediction_id: str, session: SessionDep, owner: ApiOwner, settings: SettingsDep):
    upload = history.upload_of(session, predictions.get(session, owner, prediction_id))
    return storage.image_response(settings, upload)


@router.delete("/{prediction_id}", status_code=204, responses={404: ERRORS[404]})
def delete_prediction(prediction_id: str, session: SessionDep, owner: ApiOwner, settings: SettingsDep):
    predictions.get(session, owner, prediction_id)
    history.delete(session, owner, [prediction_id], settings)
    return Response(status_code=204)


@router.post("/{prediction_id}/feedback", response_model=PredictionPublic,
             responses={404: ERRORS[404], 422: {"model": ErrorBody, "description": "Unknown class"}})
def post_feedback(prediction_id: str, body: FeedbackIn, session: SessionDep, owner: ApiOwner, top_k: TopKQuery = 3):
    """Record the right class for a prediction; every correction is kept, the latest shows."""
    return PredictionPublic.of(predictions.give_feedback(session, owner, prediction_id, body.label), top_k)
