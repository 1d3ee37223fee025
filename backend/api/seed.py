"""POST /fashion-mnist: the seed system's endpoint, kept compatible ({label, probs}).

Stateless and fast: it stores nothing (use /api/v1/predictions to keep a record). A small image
is classified on the event loop, anything bigger in the thread pool (backend.services.offload).
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from backend.api.predictions import ERRORS, multipart_body
from backend.deps import EngineDep, SettingsDep
from backend.errors import BadForm
from backend.schemas import SeedPrediction
from backend.services.multipart import read_form
from backend.services.predictions import prepare_files, prepare_inline

router = APIRouter(tags=["seed-compatible"])


@router.post("/fashion-mnist", response_model=SeedPrediction, summary="Classify one image (seed API)",
             openapi_extra=multipart_body("file", many=False), responses=ERRORS)
async def fashion_mnist(request: Request, settings: SettingsDep, engine: EngineDep):
    form = await read_form(request, settings.incoming_dir, settings.max_upload_bytes, 1,
                           memory_budget=settings.max_upload_bytes)
    try:
        files = [f for f in form.files if f.field == "file"]
        if not files:
            raise BadForm("send the image in the multipart field “file”")

        # a small JPEG on the event loop, anything else in the thread pool (backend.services.offload)
        prepared = prepare_inline(files, settings, engine) or await run_in_threadpool(prepare_files, files, settings, engine)
    finally:
        form.cleanup()
    if prepared[0].error is not None:
        raise prepared[0].error
    result = prepared[0].result
    answer = SeedPrediction(label=result.label, probs=list(result.probs), index=result.index,
                            confidence=result.confidence, unsure=result.unsure,
                            model_version=result.model_version)
    # serialised here: a returned model is validated and dumped again by FastAPI (about 2% of this
    # route's CPU); response_model still documents the shape
    return Response(answer.model_dump_json(), media_type="application/json")
