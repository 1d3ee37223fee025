"""/history: review, filter, correct, delete and export this browser's predictions."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from backend.core.deps import BrowserOwner, SessionDep, SettingsDep, check_csrf
from backend.core.errors import BadForm
from backend.services import history
from backend.services.views import PredictionView
from backend.web.templating import is_htmx, render

router = APIRouter(prefix="/history", tags=["history"], include_in_schema=False)


def _optional_bool(value: str | None) -> bool | None:
    return {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}.get((value or "").lower())


def _optional_date(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise BadForm(f"“{value}” is not a date (use YYYY-MM-DD)") from None


class FilterQuery(BaseModel):
    """The query string the page, its filters form and its exports share (raw, as typed)."""

    label: str | None = None
    unsure: str | None = None
    corrected: str | None = None
    date_from: str | None = None
    date_to: str | None = None
    sort: str = "newest"

    def filters(self, page: int = 1, per_page: int = 1) -> history.Filters:
        return history.Filters(
            label=self.label or None, unsure=_optional_bool(self.unsure), corrected=_optional_bool(self.corrected),
            date_from=_optional_date(self.date_from), date_to=_optional_date(self.date_to),
            sort=self.sort or "newest", page=page, per_page=per_page, by_correction=True,
        ).validate()


Query_ = Annotated[FilterQuery, Query()]


@router.get("")
def history_page(request: Request, session: SessionDep, owner: BrowserOwner, settings: SettingsDep,
                 q: Query_, page: Annotated[int, Query(ge=1, le=1_000_000)] = 1):
    filters = q.filters(page, settings.history_page_size)
    charts = history.cached_summary(session, owner, filters, request.app.state.chart_cache)
    last = max(1, -(-charts.total // filters.per_page))
    if filters.page > last:  # a page past the end (rows deleted, an old link) shows the last one
        filters = replace(filters, page=last)
    result = history.search(session, owner, filters, total=charts.total)
    context = {
        "page": result, "rows": [PredictionView.of(r) for r in result.items], "filters": filters,
        "query": _without_page(request.url.query),
        "raw": {k: v or "" for k, v in q.model_dump().items()} | {"sort": q.sort},
        "class_counts": charts.class_counts,
        "confidence_bins": charts.confidence_bins,
    }
    if is_htmx(request) and request.headers.get("hx-target") == "history-body":
        return render(request, "partials/history_body.html", context)
    return render(request, "history.html", context)


def _without_page(query: str) -> str:
    """The query string less its page: the filters, which exports and page links add to."""
    return "&".join(part for part in query.split("&") if part and not part.startswith("page="))


def _download(body: str | bytes, media_type: str, filename: str) -> Response:
    return Response(body, media_type=media_type,
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.get("/export.csv")
def export_csv(session: SessionDep, owner: BrowserOwner, q: Query_):
    return _download(history.export_csv(session, owner, q.filters()), "text/csv; charset=utf-8",
                     "closetchat-predictions.csv")


@router.get("/export.json")
def export_json(session: SessionDep, owner: BrowserOwner, q: Query_):
    return _download(history.export_json(session, owner, q.filters()), "application/json",
                     "closetchat-predictions.json")


@router.get("/corrections.zip")
def export_corrections(session: SessionDep, owner: BrowserOwner, settings: SettingsDep):
    return _download(history.export_corrections_zip(session, owner, settings), "application/zip",
                     "closetchat-corrections.zip")


def _back_to(query: str) -> str:
    """History with the filters the form came from, as a Location header can carry them: a CR or LF
    typed into the field made an invalid header, and the connection dropped after the delete had
    committed. Anything outside a query string's characters is percent-encoded."""
    return "/history" + (f"?{quote(query, safe='=&+%,;:@-_.~/')}" if query else "")


@router.post("/delete")
async def delete_selected(request: Request, session: SessionDep, owner: BrowserOwner, settings: SettingsDep):
    form = await request.form(max_files=0, max_fields=history.MAX_PER_PAGE + 10)
    check_csrf(request, form.get("csrf_token"))
    ids = [str(v) for v in form.getlist("ids")][: history.MAX_PER_PAGE]
    back = _back_to(str(form.get("query") or ""))
    if not ids:
        if is_htmx(request):  # said beside the button; the results stay as they are
            return Response("Tick the predictions to delete first.", status_code=422, media_type="text/plain")
        return RedirectResponse(back, status_code=303)
    await run_in_threadpool(history.delete, session, owner, ids, settings)
    if is_htmx(request):
        return Response(status_code=200, headers={"HX-Location": back})
    return RedirectResponse(back, status_code=303)
