"""TorchServe's inference API, for clients written against it: GET /ping, and POST
/predictions/fashion-mnist with the image as the raw body (`curl -T shirt.jpg`) or a multipart field
`data` or `file`, answered as TorchServe's image classifier does: the top five classes and their
probabilities, {"Ankle boot": 0.97, ...}. Stateless; errors as {"code", "type", "message"} like
TorchServe's."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from backend.api.routes.open_inference import MODEL
from backend.core.deps import EngineDep, SettingsDep
from backend.core.errors import BadForm, ClosetChatError
from backend.services.predictions import classify
from backend.services.raw_body import read_raw, read_upload
from backend.services.upload_memory import upload_memory

router = APIRouter(tags=["torchserve"])
TOP = 5


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"code": status, "type": "InferenceError" if status < 500 else "InternalServerError",
                         "message": message}, status_code=status)


@router.get("/ping", summary="Health (TorchServe)")
async def ping(request: Request):
    healthy = getattr(request.app.state, "inference", None) is not None
    return JSONResponse({"status": "Healthy" if healthy else "Unhealthy"}, status_code=200 if healthy else 503)


@router.put("/predictions/{name}", include_in_schema=False)  # `curl -T`; one operation id in the schema
@router.post("/predictions/{name}", summary="Classify one image (TorchServe): the top 5 classes")
async def torchserve_predict(name: str, request: Request, settings: SettingsDep, engine: EngineDep):
    if name != MODEL:
        return _error(404, f"Model not found: {name}")
    try:
        if request.headers.get("content-type", "").startswith("multipart/form-data"):
            form = await read_upload(request, settings.incoming_dir, settings.max_upload_bytes, 1, "data",
                                     memory_budget=settings.max_upload_bytes, pool=upload_memory(settings))
        else:  # `curl -T` sends no type, `--data-binary` a form's: TorchServe reads any other body as the image
            form = await read_raw(request, settings.incoming_dir, settings.max_upload_bytes, "data",
                                  pool=upload_memory(settings))
        try:
            files = [f for f in form.files if f.field in ("data", "file")]
            if not files:
                raise BadForm("send the image as the body, or in the multipart field “data”")
            answer = (await run_in_threadpool(classify, files[:1], settings, engine))[0]
        finally:
            form.cleanup()
        if answer.error is not None:
            raise answer.error
    except ClosetChatError as exc:
        return _error(exc.status_code, exc.message)
    probs = answer.result.probs
    order = sorted(range(len(probs)), key=lambda i: -probs[i])[:TOP]
    return {engine.classifier.labels[i]: probs[i] for i in order}
