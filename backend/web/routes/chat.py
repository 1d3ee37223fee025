"""The chat pages: a thread of photos and answers, conversations, feedback.

Every route that touches the database is a plain `def`, run in FastAPI's thread pool; a send's
multipart body is streamed in first, on the event loop, by the UploadForm dependency.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from backend.core.deps import BrowserOwner, EngineDep, SessionDep, SettingsDep, UploadForm, check_csrf
from backend.core.errors import BadForm, ClosetChatError
from backend.services import chat, history, predictions
from backend.services.views import PredictionView
from backend.web.routes import share
from backend.web.templating import is_htmx, render

router = APIRouter(tags=["chat"], include_in_schema=False)


def _page(request, session, owner, conversation, bubbles=None, status_code=200, search=""):
    return render(request, "chat.html", {
        "conversation": conversation,
        "conversations": chat.list_conversations(session, owner, search=search),
        "search": search,
        "bubbles": bubbles if bubbles is not None else (chat.thread(session, conversation) if conversation else []),
        "error": None,
    }, status_code=status_code)


def _send(request: Request, form, session, owner, settings, engine, conversation_id: str | None) -> chat.SendResult:
    check_csrf(request, form.first("csrf_token") or None)
    if form.oversized_fields:
        raise BadForm(f"that message is too long: at most {settings.max_text_chars:,} characters")
    parts = [f for f in form.files if f.field == "files"]
    # one optional caption per photo, in the photos' order (the composer sends all or none)
    captions = form.fields.get("captions", [])
    captions = captions if len(captions) == len(parts) else [""] * len(parts)
    kept = [(f, c) for f, c in zip(parts, captions, strict=True) if f.filename or f.size]
    return chat.send(session, owner, conversation_id, form.first("text"), [f for f, _ in kept], settings, engine,
                     captions=[c for _, c in kept])


@router.post("/c")
def new_conversation_message(request: Request, form: UploadForm, session: SessionDep, owner: BrowserOwner,
                             settings: SettingsDep, engine: EngineDep):
    """First message of a new conversation: created only if something was accepted."""
    result = _send(request, form, session, owner, settings, engine, None)
    if not result.stored:
        return _bubbles_or_page(request, session, owner, None, result)
    url = f"/c/{result.conversation.id}"
    if is_htmx(request):
        return Response(status_code=200, headers={"HX-Location": url})
    return RedirectResponse(url, status_code=303)


@router.post("/c/{conversation_id}/messages")
def post_message(conversation_id: str, request: Request, form: UploadForm, session: SessionDep, owner: BrowserOwner,
                 settings: SettingsDep, engine: EngineDep):
    result = _send(request, form, session, owner, settings, engine, conversation_id)
    if not is_htmx(request) and result.status_code == 200:
        return RedirectResponse(f"/c/{conversation_id}", status_code=303)
    return _bubbles_or_page(request, session, owner, result.conversation, result)


Search = Annotated[str, Query(max_length=200)]


@router.get("/")
def home(request: Request, session: SessionDep, owner: BrowserOwner, q: Search = ""):
    return _page(request, session, owner, None, search=q)


@router.get("/c/{conversation_id}")
def conversation_page(conversation_id: str, request: Request, session: SessionDep, owner: BrowserOwner,
                      q: Search = ""):
    conversation = chat.get_conversation(session, owner, conversation_id)
    return _page(request, session, owner, conversation, search=q)


@router.get("/conversations")
def conversation_list(request: Request, session: SessionDep, owner: BrowserOwner, q: Search = "",
                      current: Search = ""):
    """The sidebar's list, searched by title or class as the reader types (HTMX)."""
    return render(request, "partials/conversation_list.html", {
        "conversations": chat.list_conversations(session, owner, search=q), "search": q,
        "conversation": {"id": current}})


def _bubbles_or_page(request, session, owner, conversation, result: chat.SendResult):
    if is_htmx(request):
        # the sidebar is sent again only when its order or a title changed
        context = {"bubbles": result.bubbles, "conversation": conversation, "oob_list": result.sidebar_changed}
        if result.sidebar_changed:
            context["conversations"] = chat.list_conversations(session, owner)
        return render(request, "partials/bubbles.html", context, status_code=result.status_code)
    existing = chat.thread(session, conversation) if conversation else []
    return _page(request, session, owner, conversation, existing + result.bubbles, result.status_code)


@router.post("/c/{conversation_id}/rename")
def rename_conversation(conversation_id: str, request: Request, session: SessionDep, owner: BrowserOwner,
                        title: str = Form(""), csrf_token: str = Form("")):
    check_csrf(request, csrf_token)
    conversation = chat.rename(session, owner, conversation_id, title)
    if is_htmx(request):
        return render(request, "partials/conversation_list.html", {
            "conversations": chat.list_conversations(session, owner), "conversation": conversation})
    return RedirectResponse(f"/c/{conversation.id}", status_code=303)


@router.post("/c/{conversation_id}/delete")
def delete_conversation(conversation_id: str, request: Request, session: SessionDep, owner: BrowserOwner,
                        csrf_token: str = Form("")):
    check_csrf(request, csrf_token)
    chat.delete_conversation(session, owner, conversation_id)
    if is_htmx(request):
        return Response(status_code=200, headers={"HX-Location": "/"})
    return RedirectResponse("/", status_code=303)


@router.post("/predictions/{prediction_id}/feedback")
def feedback(prediction_id: str, request: Request, session: SessionDep, owner: BrowserOwner,
             label: str = Form(...), csrf_token: str = Form(""), back: str = Form("")):
    check_csrf(request, csrf_token)
    row = predictions.give_feedback(session, owner, prediction_id, label)
    view = PredictionView.of(row)
    if is_htmx(request):
        template = "partials/history_row.html" if request.headers.get("hx-target", "").startswith("row-") \
            else "partials/reply.html"
        # the reply stays open on its chips and says what was recorded, a confirmation included
        return render(request, template, {"prediction": view, "p": view, "feedback": label})
    if back == "history" or not row.conversation_id:
        return RedirectResponse(f"/history#row-{row.id}", status_code=303)
    return RedirectResponse(f"/c/{row.conversation_id}#reply-{row.id}", status_code=303)


@router.post("/predictions/{prediction_id}/again")
def ask_again(prediction_id: str, request: Request, session: SessionDep, owner: BrowserOwner,
              settings: SettingsDep, engine: EngineDep, csrf_token: str = Form("")):
    """A photo answered by an earlier model, answered again by the one serving now."""
    check_csrf(request, csrf_token)
    row = predictions.ask_again(session, owner, prediction_id, settings, engine)
    if is_htmx(request):
        bubble = chat.Bubble(role="assistant", kind="prediction", prediction=PredictionView.of(row))
        return render(request, "partials/bubbles.html", {"bubbles": [bubble]})
    return RedirectResponse(f"/c/{row.conversation_id}#reply-{row.id}" if row.conversation_id else "/history",
                            status_code=303)


@router.post("/predictions/{prediction_id}/delete")
def delete_prediction(prediction_id: str, request: Request, session: SessionDep, owner: BrowserOwner,
                      settings: SettingsDep, csrf_token: str = Form("")):
    """One photo and its answer, from the thread and History alike (HTMX: both bubbles go)."""
    check_csrf(request, csrf_token)
    row = predictions.get(session, owner, prediction_id)  # 404 unless it is this browser's
    upload_id, conversation_id = row.upload_id, row.conversation_id
    history.delete(session, owner, [prediction_id], settings)
    if is_htmx(request):
        gone = "".join(f'<li id="{name}" hx-swap-oob="delete"></li>'
                       for name in (f"photo-{upload_id}", f"answer-{prediction_id}"))
        return Response(gone, media_type="text/html")
    return RedirectResponse(f"/c/{conversation_id}" if conversation_id else "/history", status_code=303)


router.include_router(share.router)  # its routes are the chat's; main.py includes this router


def error_bubble_response(request: Request, exc: ClosetChatError) -> Response:
    """Chat-side rendering of any ClosetChatError: a message bubble (HTMX) or an error page."""
    bubble = chat.Bubble(role="assistant", kind="error", text=exc.message)
    if is_htmx(request):
        return render(request, "partials/bubbles.html", {"bubbles": [bubble]}, status_code=exc.status_code)
    return render(request, "error.html", {"message": exc.message, "status": exc.status_code},
                  status_code=exc.status_code)
