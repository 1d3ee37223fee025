"""The FastAPI application factory. `uvicorn backend.main:app` serves the default settings;
tests call create_app(Settings(...)) to get an app on their own data dir and database."""

from __future__ import annotations

import importlib.metadata
import logging
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from backend.core.body_limits import BodyGuard, raise_refusal
from backend.core.config import Settings, get_settings
from backend.core.cors import ApiCors, is_cross_origin_path
from backend.core.db import make_engine, sqlite_file
from backend.core.draining import Drain
from backend.core.errors import ClosetChatError, ServiceBusy
from backend.core.hosts import AllowedHosts
from backend.core.identity import BrowserIdentity
from backend.core.metrics import Metrics, MetricsMiddleware
from backend.core.middleware import BrowserIdentityMiddleware, SecurityHeadersMiddleware
from backend.core.migrations import upgrade_to_head
from backend.core.ops_access import OpsAccess
from backend.core.request_id import RequestIdMiddleware
from backend.core.wal_checkpoints import WalCheckpointer
from backend.services.inference import InferenceEngine
from backend.services.revisions import RevisionCache
from backend.web.templating import STATIC_DIR, is_htmx
from ml import Classifier

log = logging.getLogger("closetchat")


JSON_PATHS = ("/healthz", "/readyz", "/metrics", "/openapi.json", "/v2", "/ping")


def _wants_json(request: Request) -> bool:
    """JSON errors for API clients, pages for browsers: by path (the API, the seed routes), or by an
    Accept header asking for JSON and not for HTML (a script's 404 on a mistyped path)."""
    path = request.url.path
    if is_cross_origin_path(path) or path in JSON_PATHS:
        return True
    accept = request.headers.get("accept", "")
    return "json" in accept and "text/html" not in accept


def _lifespan(settings: Settings, classifier: Classifier | None):
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        settings.ensure_dirs()
        if settings.migrate_on_start:
            upgrade_to_head(app.state.db, settings)
        model = classifier or Classifier.load(settings.model_dir, threads=settings.inference_threads)
        app.state.inference = InferenceEngine(model, settings.max_batch, settings.max_wait_ms,
                                              metrics=app.state.metrics)
        for version in set(model.versions.values()):  # the photo graph and the dataset-form one
            app.state.metrics.model_info.labels(version, model.runtime_name).set(1)
        database = sqlite_file(app.state.db)
        # SQLite: the engine's commits leave WAL checkpoints to this thread
        app.state.checkpointer = WalCheckpointer(database) if database else None
        if app.state.checkpointer:
            app.state.checkpointer.start()
        app.state.drain.install()  # after uvicorn's signal handlers, which it wraps
        yield
        app.state.inference.close()
        if app.state.checkpointer:
            app.state.checkpointer.stop()
        app.state.db.dispose()

    return lifespan


def create_app(settings: Settings | None = None, classifier: Classifier | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(
        title="ClosetChat",
        version=package_version(),
        summary="What garment is this? Fashion-MNIST classes for photos, from a browser or a script.",
        lifespan=_lifespan(settings, classifier),
        docs_url=None,
        redoc_url=None,
        generate_unique_id_function=operation_id,
    )
    app.state.settings = settings
    app.state.db = make_engine(settings, background_checkpoints=True)
    app.state.identity = BrowserIdentity(settings.resolved_secret())
    app.state.metrics = Metrics()
    app.state.drain = Drain(settings.drain_seconds)
    app.state.chart_cache = RevisionCache()

    from backend.api.routes import health, model, open_inference, predictions, seed, torchserve
    from backend.web.routes import chat as web_chat
    from backend.web.routes import history as web_history
    from backend.web.routes import media

    for router in (seed.router, predictions.router, model.router, health.router, open_inference.router,
                   torchserve.router):
        app.include_router(router)
    for router in (web_chat.router, web_history.router, media.router):  # a refused post stops here
        app.include_router(router, dependencies=[Depends(raise_refusal)])
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/docs", include_in_schema=False)
    def api_docs():
        """Swagger UI from our own static files: no CDN."""
        return get_swagger_ui_html(
            openapi_url=app.openapi_url, title="ClosetChat API",
            swagger_js_url="/static/vendor/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url="/static/vendor/swagger-ui/swagger-ui.css",
            swagger_favicon_url="/static/vendor/swagger-ui/favicon-32x32.png",
        )

    _add_error_handlers(app)
    app.add_middleware(BodyGuard, settings=settings)  # inside the identity middleware: it reads the id
    app.add_middleware(BrowserIdentityMiddleware, identity=app.state.identity, secure=settings.cookie_secure)
    app.add_middleware(AllowedHosts, settings=settings)
    app.add_middleware(OpsAccess, settings=settings)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(ApiCors, origins=settings.cors_origins)
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    app.add_middleware(RequestIdMiddleware)  # outermost: every layer and log line sees the id
    return app


def _add_error_handlers(app: FastAPI) -> None:
    """Every error as JSON {"detail"} for the API, as a chat bubble or error page for browsers."""
    from backend.web.routes.chat import error_bubble_response

    @app.exception_handler(ClosetChatError)
    async def closetchat_error(request: Request, exc: ClosetChatError):
        if _wants_json(request):
            return JSONResponse({"detail": exc.message}, status_code=exc.status_code, headers=exc.headers)
        response = error_bubble_response(request, exc)
        response.headers.update(exc.headers or {})
        return response

    @app.exception_handler(PoolTimeout)
    async def no_connection(request: Request, exc: PoolTimeout):
        """Every connection busy for settings.db_pool_timeout: a quick 503 with Retry-After."""
        return await closetchat_error(request, ServiceBusy("the server is busy; try again in a moment"))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        if _wants_json(request) or is_htmx(request):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
        err = ClosetChatError(str(exc.detail))
        err.status_code = exc.status_code
        return error_bubble_response(request, err)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        if _wants_json(request):
            return JSONResponse({"detail": jsonable_errors(exc)}, status_code=422)
        err = ClosetChatError("the form was incomplete: " + "; ".join(
            f"{'.'.join(str(p) for p in e['loc'][1:])} {e['msg'].lower()}" for e in exc.errors()))
        err.status_code = 422
        return error_bubble_response(request, err)


def package_version() -> str:
    """OpenAPI's info.version: the installed package's, so clients can tell which server they speak to."""
    try:
        return importlib.metadata.version("closetchat")
    except importlib.metadata.PackageNotFoundError:  # running from a checkout that was never installed
        return "0+unknown"


def operation_id(route) -> str:
    """OpenAPI operation ids are the route functions' names (create_predictions, model_info...),
    which generated clients turn into their method names; FastAPI's default adds path and method."""
    return route.name


def jsonable_errors(exc: RequestValidationError) -> list[dict]:
    return [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]


def __getattr__(name: str):
    """`backend.main:app` is built on first access, so importing this module has no side effects."""
    if name == "app":
        global app
        app = create_app()
        return app
    raise AttributeError(name)
