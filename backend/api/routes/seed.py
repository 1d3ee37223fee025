"""POST /fashion-mnist and POST /models/fashion-mnist: the seed system's endpoints (the second is
its newer path), kept compatible ({label, probs}); with or without a trailing slash, answered where
asked rather than redirected (a 307 makes some clients drop the body or the method).

Stateless: it stores nothing (use /api/v1/predictions to keep a record).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from backend.api.routes.predictions import ERRORS, multipart_body
from backend.core.deps import EngineDep, SettingsDep
from backend.core.errors import BadForm
from backend.schemas import SeedPrediction
from backend.services.predictions import classify
from backend.services.raw_body import read_upload
from backend.services.upload_memory import upload_memory

router = APIRouter(tags=["seed-compatible"])
# the seed's old and new paths, as its clients post, with their OpenAPI operation ids
PATHS = {"/fashion-mnist": "fashion_mnist", "/models/fashion-mnist": "models_fashion_mnist"}


async def fashion_mnist(request: Request, settings: SettingsDep, engine: EngineDep):
    """Classify one image, multipart field `file` or the raw body (Content-Type image/*); nothing is stored."""
    form = await read_upload(request, settings.incoming_dir, settings.max_upload_bytes, 1, "file",
                             memory_budget=settings.max_upload_bytes, pool=upload_memory(settings))
    try:
        files = [f for f in form.files if f.field == "file"]
        if not files:
            raise BadForm("send the image in the multipart field “file”")
        answer = (await run_in_threadpool(classify, files, settings, engine))[0]
    finally:
        form.cleanup()
    if answer.error is not None:
        raise answer.error
    result = answer.result
    return SeedPrediction(label=result.label, probs=list(result.probs), index=result.index,
                          confidence=result.confidence, unsure=result.unsure, model_version=result.model_version)


def _add_routes() -> None:
    """Both paths, each also with a trailing slash (kept out of the schema). The schema shows the seed's
    own multipart contract only: openapi-python-client 0.29 writes a client that fails to import for an
    operation whose only parameter is a body of two media types; the raw body is still read here."""
    options = {"methods": ["POST"], "response_model": SeedPrediction, "summary": "Classify one image (seed API)",
               "openapi_extra": multipart_body("file", many=False, raw=False), "responses": ERRORS}
    for path, operation in PATHS.items():
        router.add_api_route(path, fashion_mnist, operation_id=operation, **options)
        router.add_api_route(path + "/", fashion_mnist, include_in_schema=False, **options)


_add_routes()
