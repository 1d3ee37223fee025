"""The Open Inference Protocol v2 (KServe, Triton): clients written for those servers, Triton's own
`tritonclient` among them, classify here unchanged. One model, `fashion-mnist`, takes encoded images
(BYTES, one file each) or Fashion-MNIST pixels (UINT8 [N,28,28]) and answers `probs` (FP32 [N,10])
and `label` (BYTES [N]). Stateless, like the seed routes; errors as the protocol's {"error": ...}."""

from __future__ import annotations

import uuid

import numpy as np
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from backend.core.deps import ApiOwner, EngineDep, SettingsDep
from backend.core.errors import BadForm, ClosetChatError, RequestTooLarge, ServiceBusy
from backend.services import tensors
from backend.services.multipart import IncomingFile
from backend.services.predictions import classify
from backend.services.upload_memory import Lease, upload_memory

MODEL = "fashion-mnist"
router = APIRouter(prefix="/v2", tags=["open-inference-v2"])


def _error(message: str, status: int = 400, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


@router.get("", summary="Server metadata (OIP v2)")
def server_metadata(request: Request):
    return {"name": "closetchat", "version": request.app.version, "extensions": ["binary_tensor_data"]}


@router.get("/health/live", summary="Server live (OIP v2)")
async def server_live():
    return {"live": True}


@router.get("/health/ready", summary="Server ready (OIP v2)")
async def server_ready(request: Request):
    ready = getattr(request.app.state, "inference", None) is not None
    return JSONResponse({"ready": ready}, status_code=200 if ready else 503)


def _unknown(name: str, version: str | None, engine) -> JSONResponse | None:
    """404 unless the model is ours, and the version (when a client names one) the one served."""
    if name != MODEL:
        return _error(f"unknown model {name!r}; this server has {MODEL!r}", 404)
    if version is not None and version not in (engine.classifier.version, "1"):
        return _error(f"model {MODEL!r} has no version {version!r}; it serves {engine.classifier.version!r}", 404)
    return None


@router.get("/models/{name}/versions/{version}", include_in_schema=False)
@router.get("/models/{name}", summary="Model metadata (OIP v2)")
def model_metadata(name: str, engine: EngineDep, version: str | None = None):
    if (refusal := _unknown(name, version, engine)) is not None:
        return refusal
    return {"name": MODEL, "versions": [engine.classifier.version], "platform": "onnxruntime_onnx",
            "inputs": [{"name": "image", "datatype": "BYTES", "shape": [-1]},
                       {"name": "pixels", "datatype": "UINT8", "shape": [-1, 28, 28]}],
            "outputs": [{"name": "probs", "datatype": "FP32", "shape": [-1, 10]},
                        {"name": "label", "datatype": "BYTES", "shape": [-1]}]}


@router.get("/models/{name}/versions/{version}/ready", include_in_schema=False)
@router.get("/models/{name}/ready", summary="Model ready (OIP v2)")
async def model_ready(name: str, request: Request, engine: EngineDep, version: str | None = None):
    if (refusal := _unknown(name, version, engine)) is not None:
        return refusal
    return await server_ready(request)


@router.post("/models/{name}/versions/{version}/infer", include_in_schema=False)
@router.post("/models/{name}/infer", summary="Classify images or pixel arrays (OIP v2)")
async def model_infer(name: str, request: Request, settings: SettingsDep, engine: EngineDep, _owner: ApiOwner,
                      version: str | None = None):
    if (refusal := _unknown(name, version, engine)) is not None:
        return refusal
    lease = upload_memory(settings).lease()
    try:
        body = await _read_body(request, settings.max_files * settings.max_upload_bytes + 64 * 1024, lease)
        infer, inputs = tensors.parse_request(body, request.headers.get(tensors.HEADER))
        if len(inputs) != 1:
            raise BadForm("send one input: BYTES images or UINT8 pixels [N,28,28]")
        answers = await run_in_threadpool(_classify, inputs[0], settings, engine)
    except ClosetChatError as exc:
        return _error(exc.message, 400 if exc.status_code == 422 else exc.status_code, exc.headers)
    finally:
        lease.release()  # the body is dropped when this returns, a moment later
    probs = np.asarray([a.probs for a in answers], dtype=np.float32)
    labels = [a.label.encode() for a in answers]
    header = {"model_name": MODEL, "model_version": engine.classifier.version, "id": infer.get("id") or uuid.uuid4().hex}
    content, header_size = tensors.encode_response(header, [
        ({"name": "probs", "datatype": "FP32", "shape": list(probs.shape)}, probs),
        ({"name": "label", "datatype": "BYTES", "shape": [len(labels)]}, labels)], infer)
    if header_size is None:
        return Response(content, media_type="application/json")
    return Response(content, media_type="application/octet-stream", headers={"Inference-Header-Content-Length": str(header_size)})


async def _read_body(request: Request, limit: int, lease: Lease) -> bytes:
    """The whole body, which the protocol's parsing needs in memory: reserved from the process's
    upload memory as it arrives, and a 503 with Retry-After when that has no room (#28)."""
    capacity = lease.pool.capacity
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > capacity:  # could never fit, however long it waited
        raise RequestTooLarge(f"the request is larger than the {capacity // (1024 * 1024)} MB "
                              "this server keeps in memory for uploads")
    body = bytearray()
    async for chunk in request.stream():
        if len(body) + len(chunk) > limit:
            raise RequestTooLarge(f"the request is larger than {limit // (1024 * 1024)} MB")
        if not lease.take(len(chunk)):
            raise ServiceBusy("the server is holding too many uploads in memory; try again in a moment")
        body += chunk
    return bytes(body)


def _classify(tensor: tensors.Tensor, settings, engine) -> list:
    """Blocking: encoded images through the same checks as every upload, or pixel arrays as they are."""
    if tensor.datatype == "UINT8":
        if tensor.value.ndim != 3 or tensor.value.shape[1:] != (28, 28) or not 0 < len(tensor.value) <= settings.max_batch:
            raise BadForm(f"UINT8 input must be [N,28,28] with 1 ≤ N ≤ {settings.max_batch}")
        return engine.predict_arrays(np.ascontiguousarray(tensor.value))
    if not 0 < len(tensor.value) <= settings.max_files:
        raise BadForm(f"send 1 to {settings.max_files} images")
    files = [IncomingFile(field="image", filename=f"image-{i}", path=settings.incoming_dir / f"{uuid.uuid4().hex}.part",
                          size=len(data), data=data, too_large=len(data) > settings.max_upload_bytes)
             for i, data in enumerate(tensor.value)]
    answers = classify(files, settings, engine)
    for i, answer in enumerate(answers):
        if answer.error is not None:
            raise BadForm(f"image {i}: {answer.error.message}")
    return [a.result for a in answers]
