"""The chat pages: a thread of photos and answers, conversations, feedback, media."""

from __future__ import annotations

from functools import partial

from fastapi import APIRouter, Form, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from backend.db import calls_are_local
from backend.deps import BrowserOwner, BrowserSend, BrowserSendDep, SessionDep, SettingsDep, check_csrf
from backend.errors import BadForm, ClosetChatError, NotFound
from backend.models import Upload
from backend.services import chat, uploads
from backend.services.multipart import read_form
from backend.services.predictions import prepare_inline, store
from backend.services.views import PredictionView
from backend.templating import is_htmx, render

router = APIRouter(tags=["chat"], include_in_schema=False)


def _page(request, session, owner, conversation, bubbles=None, status_code=200, error=None):
    return render(request, "chat.html", {
        "conversation": conversation,
        "conversations": chat.list_conversations(session, owner),
        "bubbles": bubbles if bubbles is not None else (chat.thread(session, conversation) if conversation else []),
        "error": error,
    }, status_code=status_code)


async def _send(request: Request, needs: BrowserSend, conversation_id: str | None):
    session, owner, settings, engine = needs.session, needs.owner, needs.settings, needs.engine
    form = await read_form(request, settings.incoming_dir, settings.max_upload_bytes, settings.max_files)
    try:
        check_csrf(request, form.first("csrf_token") or None)
        if form.oversized_fields:
            raise BadForm(f"that message is too long: at most {settings.max_text_chars:,} characters")
        files = [f for f in form.files if f.field == "files" and (f.filename or f.size)]
        text = form.first("text")
        target = None  # the conversation, read first: a 404 comes before any photo work
        if conversation_id is not None:
            database = session.get_bind()
            read = partial(chat.conversation_for_send, database, owner, conversation_id)
            target = read() if calls_are_local(database) else await run_in_threadpool(read)
        # one small photo is checked and classified here, on the event loop, as by POST /fashion-mnist:
        # in a worker thread the same work cost about twice the CPU under load
        prepared = prepare_inline(files, settings, engine)
        loop_commits = request.app.state.loop_commits
        if loop_commits is not None and (prepared is not None or not files):
            # SQLite and nothing to decode in a thread: rows made here, committed here if nothing waits
            planned = chat.plan(session, owner, target, text, prepared or [], settings)
            if planned.writes is not None:
                await store(session, loop_commits, planned.prepared, planned.writes, settings, request.app.state.metrics)
            result = planned.result
        else:
            def work():
                result = chat.send(session, owner, target, text, files, settings, engine, prepared)
                if not result.stored:
                    session.rollback()
                return result

            result = await run_in_threadpool(work)
    finally:
        form.cleanup()
    return result.conversation, result


# the sends first: routes are matched in order, one regex each
@router.post("/c")
async def new_conversation_message(request: Request, needs: BrowserSendDep):
    """First message of a new conversation: created only if something was accepted."""
    conversation, result = await _send(request, needs, None)
    if not result.stored:
        return _bubbles_or_page(request, needs.session, needs.owner, None, result)
    url = f"/c/{conversation.id}"
    if is_htmx(request):
        return Response(status_code=200, headers={"HX-Location": url})
    return RedirectResponse(url, status_code=303)


@router.post("/c/{conversation_id}/messages")
async def post_message(conversation_id: str, request: Request, needs: BrowserSendDep):
    conversation, result = await _send(request, needs, conversation_id)
    if not is_htmx(request) and result.status_code == 200:
        return RedirectResponse(f"/c/{conversation.id}", status_code=303)
    return _bubbles_or_page(request, needs.session, needs.owner, conversation, result)


@router.get("/")
def home(request: Request, session: SessionDep, owner: BrowserOwner):
    return _page(request, session, owner, None)


@router.get("/c/{conversation_id}")
def conversation_page(conversation_id: str, request: Request, session: SessionDep, owner: BrowserOwner):
    conversation = chat.get_conversation(session, owner, conversation_id)
    return _page(request, session, owner, conversation)


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
             label: str = Form(...), csrf_token: str = Form("")):
    check_csrf(request, csrf_token)
    row = chat.give_feedback(session, owner, prediction_id, label)
    view = PredictionView.of(row)
    if is_htmx(request):
        template = "partials/history_row.html" if request.headers.get("hx-target", "").startswith("row-") \
            else "partials/reply.html"
        return render(request, template, {"prediction": view, "p": view})
    back = f"/c/{row.conversation_id}" if row.conversation_id else "/history"
    return RedirectResponse(back, status_code=303)


def _owned_upload(session, owner: str, upload_id: str) -> Upload:
    upload = session.get(Upload, upload_id)
    if upload is None or upload.owner != owner:
        raise NotFound("no such image")
    return upload


_MEDIA_HEADERS = {"Cache-Control": "private, max-age=31536000, immutable", "Content-Disposition": "inline"}


@router.get("/media/{upload_id}/thumb")
def thumbnail(upload_id: str, session: SessionDep, owner: BrowserOwner, settings: SettingsDep):
    upload = _owned_upload(session, owner, upload_id)
    return FileResponse(uploads.thumb_path(settings, upload), media_type="image/jpeg", headers=_MEDIA_HEADERS)


@router.get("/media/{upload_id}/image")
def original(upload_id: str, session: SessionDep, owner: BrowserOwner, settings: SettingsDep):
    """The file as sent when its type is one browsers show safely; else its JPEG thumbnail."""
    upload = _owned_upload(session, owner, upload_id)
    if upload.content_type in uploads.SAFE_TYPES.values():
        return FileResponse(uploads.upload_path(settings, upload), media_type=upload.content_type,
                            headers=_MEDIA_HEADERS)
    return FileResponse(uploads.thumb_path(settings, upload), media_type="image/jpeg", headers=_MEDIA_HEADERS)


def error_bubble_response(request: Request, exc: ClosetChatError) -> Response:
    """Chat-side rendering of any ClosetChatError: a message bubble (HTMX) or an error page."""
    bubble = chat.Bubble(role="assistant", kind="error", text=exc.message)
    if is_htmx(request):
        return render(request, "partials/bubbles.html", {"bubbles": [bubble]}, status_code=exc.status_code)
    return render(request, "error.html", {"message": exc.message, "status": exc.status_code},
                  status_code=exc.status_code)
