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
from backend.services import offload, uploads
from backend.services.multipart import read_form
from backend.services.predictions import classify

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

        header = None
        if offload.header_may_be_read_on_loop(files[0]):
            header = uploads.read_header(files[0], settings)  # a small JPEG's: nothing decoded yet

        def work(inline: bool = False):
            return classify([uploads.check_image(files[0], settings, header)], engine, inline=inline)[0]

        if header is not None and offload.small_enough_for_loop(header):
            result = work(inline=True)
        else:
            result = await run_in_threadpool(work)
    finally:
        form.cleanup()
    answer = SeedPrediction(label=result.label, probs=list(result.probs), index=result.index,
                            confidence=result.confidence, unsure=result.unsure,
                            model_version=result.model_version)
    # serialised here: a returned model is validated and dumped again by FastAPI (about 2% of this
    # route's CPU); response_model still documents the shape
    return Response(answer.model_dump_json(), media_type="application/json")
