"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="The process is alive")
async def healthz():
    """On the event loop, not the thread pool: under load every pool thread may be busy with
    pages and sends, and liveness must not queue behind them (a probe would restart a server
    that is only busy)."""
    return {"status": "ok"}


@router.get("/readyz", summary="Model loaded and database reachable",
            responses={503: {"description": "Not ready: the body says which part"}})
def readyz(request: Request):
    if request.app.state.drain.draining:  # stopping: the balancer should send new requests elsewhere
        return JSONResponse({"status": "draining"}, status_code=503)
    checks = {"model": False, "database": False}
    engine = getattr(request.app.state, "inference", None)
    checks["model"] = engine is not None and engine.classifier is not None
    try:
        with request.app.state.db.connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = True
    except Exception:
        pass
    ready = all(checks.values())
    return JSONResponse({"status": "ready" if ready else "not ready", **checks}, status_code=200 if ready else 503)


@router.get("/metrics", response_class=PlainTextResponse, summary="Prometheus metrics")
def metrics(request: Request):
    return PlainTextResponse(request.app.state.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
