"""Typed dependencies, so that a route's signature says what it needs.

get_db is a plain `def` generator: FastAPI opens and closes the session in its thread pool, so
neither ever blocks the event loop. The others only read app state and the request.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session

from backend.core.body_limits import is_json_path
from backend.core.config import Settings
from backend.core.errors import CsrfFailed, Unauthorized
from backend.core.identity import LOCAL_OWNER, BrowserIdentity, api_key_owner, browser_owner
from backend.services.inference import InferenceEngine
from backend.services.multipart import IncomingForm
from backend.services.raw_body import read_upload
from backend.services.upload_memory import upload_memory


def get_db(request: Request) -> Iterator[Session]:
    with Session(request.app.state.db, expire_on_commit=False) as session:
        yield session


async def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


async def get_engine(request: Request) -> InferenceEngine:
    return request.app.state.inference


async def get_browser_owner(request: Request) -> str:
    return browser_owner(request.state.browser.value)


# Declared through FastAPI's security classes so that OpenAPI lists both schemes (Swagger's Authorize
# button, generated clients' auth); auto_error off: local mode needs neither, and the 401 is ours.
API_KEY_HEADER = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key from CLOSETCHAT_API_KEYS")
BEARER = HTTPBearer(auto_error=False, description="The same key as `Authorization: Bearer KEY`")


async def get_api_owner(request: Request, header_key: Annotated[str | None, Security(API_KEY_HEADER)] = None,
                        bearer: Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)] = None) -> str:
    """API key from `Authorization: Bearer KEY` or `X-API-Key`; with no keys configured the API
    runs in local mode, where every script shares the owner "local"."""
    settings: Settings = request.app.state.settings
    if not settings.api_keys:
        return LOCAL_OWNER
    key = header_key or (bearer.credentials.strip() if bearer else "")
    if key not in settings.api_keys:
        raise Unauthorized("a valid API key is required (Authorization: Bearer KEY or X-API-Key)")
    return api_key_owner(key)


async def get_upload_form(request: Request) -> AsyncIterator[IncomingForm]:
    """The multipart body (or one raw image body, as the field `files`), streamed in on the event
    loop under the size and count caps; its part files are removed once the request is answered.
    A browser's token sent as the X-CSRF-Token header is checked before the body is read."""
    settings: Settings = request.app.state.settings
    if "x-csrf-token" in request.headers and not is_json_path(request.url.path):
        check_csrf(request, None)
    form = await read_upload(request, settings.incoming_dir, settings.max_upload_bytes, settings.max_files, "files",
                             pool=upload_memory(settings))
    try:
        yield form
    finally:
        form.cleanup()


def csrf_token(request: Request) -> str:
    identity: BrowserIdentity = request.app.state.identity
    return identity.csrf_token(request.state.browser.value)


def check_csrf(request: Request, token: str | None) -> None:
    identity: BrowserIdentity = request.app.state.identity
    token = request.headers.get("x-csrf-token") or token
    if not identity.csrf_ok(request.state.browser.value, token):
        raise CsrfFailed("this form has expired; reload the page and try again")


SessionDep = Annotated[Session, Depends(get_db)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
EngineDep = Annotated[InferenceEngine, Depends(get_engine)]
BrowserOwner = Annotated[str, Depends(get_browser_owner)]
ApiOwner = Annotated[str, Depends(get_api_owner)]
UploadForm = Annotated[IncomingForm, Depends(get_upload_form)]
