"""Sharing a conversation read-only: the owner's share and revoke, and the shared page and photos
anyone with the link may open (no cookie of the owner's needed, nothing else visible)."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from backend.core.deps import BrowserOwner, SessionDep, SettingsDep, check_csrf
from backend.services import chat, sharing, storage
from backend.web.templating import is_htmx, render

router = APIRouter(tags=["share"], include_in_schema=False)


def _box(request: Request, conversation):
    if is_htmx(request):
        return render(request, "partials/share.html", {"conversation": conversation})
    return RedirectResponse(f"/c/{conversation.id}", status_code=303)


@router.post("/c/{conversation_id}/share")
def share(conversation_id: str, request: Request, session: SessionDep, owner: BrowserOwner,
          csrf_token: str = Form("")):
    check_csrf(request, csrf_token)
    return _box(request, sharing.share(session, owner, conversation_id))


@router.post("/c/{conversation_id}/unshare")
def unshare(conversation_id: str, request: Request, session: SessionDep, owner: BrowserOwner,
            csrf_token: str = Form("")):
    check_csrf(request, csrf_token)
    return _box(request, sharing.unshare(session, owner, conversation_id))


@router.get("/s/{token}")
def shared_page(token: str, request: Request, session: SessionDep):
    conversation = sharing.shared(session, token)
    return render(request, "shared.html", {"conversation": conversation, "bubbles": chat.thread(session, conversation)},
                  headers={"X-Robots-Tag": "noindex"})


@router.get("/s/{token}/media/{upload_id}/{kind}")
def shared_photo(token: str, upload_id: str, kind: str, session: SessionDep, settings: SettingsDep):
    conversation = sharing.shared(session, token)
    upload = sharing.shared_upload(session, conversation, upload_id)
    return storage.image_response(settings, upload, thumbnail=kind != "image")
