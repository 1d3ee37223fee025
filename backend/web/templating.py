"""The Jinja environment shared by the HTML routes, and the HTMX dual response."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import lru_cache

from fastapi import Request
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape

from backend.core.assets import STATIC_DIR, TEMPLATES_DIR
from ml import LABELS

templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
# templates change with a deploy, not while serving: no stat() of every template on every render
templates.env.auto_reload = False
templates.env.globals["LABELS"] = LABELS
_examples_manifest = STATIC_DIR / "examples" / "examples.json"
templates.env.globals["examples"] = (
    json.loads(_examples_manifest.read_text()) if _examples_manifest.exists() else []
)


@lru_cache(maxsize=128)
def correction_options(label: str, corrected: str | None) -> Markup:
    """The <option>s of a history row's correction menu: made once per (label, correction) pair
    instead of a ten-step template loop on each of fifty rows per page."""
    first = f'<option value="{escape(label)}">{"—" if not corrected else escape(label)}</option>'
    rest = "".join(
        f'<option value="{escape(other)}"{" selected" if other == corrected else ""}>{escape(other)}</option>'
        for other in LABELS if other != label
    )
    return Markup(first + rest)


templates.env.globals["correction_options"] = correction_options


@lru_cache(maxsize=16)
def feedback_chips(chosen: str | None) -> Markup:
    """A reply's ten class buttons, the one the user chose pressed: made once per choice, not a
    ten-step template loop on every answer."""
    return Markup("\n".join(
        f'<button type="submit" name="label" value="{escape(label)}" class="chip{" chosen" if label == chosen else ""}"'
        f' aria-pressed="{"true" if label == chosen else "false"}">{escape(label)}</button>' for label in LABELS))


templates.env.globals["feedback_chips"] = feedback_chips


def when(moment: datetime) -> Markup:
    """A stored time (UTC, naive from SQLite) as a <time> labelled UTC; app.js shows it in the
    browser's own zone."""
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return Markup('<time datetime="{}" data-local>{} UTC</time>').format(
        moment.isoformat().replace("+00:00", "Z"), moment.strftime("%Y-%m-%d %H:%M"))


templates.env.filters["when"] = when


def percent(value: float) -> str:
    if value >= 0.995:  # never "100%": no answer is certain
        return ">99%"
    return f"{value * 100:.0f}%" if value >= 0.01 else "<1%"


templates.env.filters["percent"] = percent


def article(label: str) -> str:
    """The indefinite article a class name takes: "an Ankle boot", "a Sneaker"."""
    return "an" if label[:1].lower() in "aeiou" else "a"


templates.env.filters["article"] = article
templates.env.filters["with_article"] = lambda label: f"{article(label)} {label}"


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def render(request: Request, name: str, context: dict | None = None, status_code: int = 200, headers=None):
    from backend.core.deps import csrf_token

    engine = getattr(request.app.state, "inference", None)
    # the graphs answering now: an answer by another shows its version and can be asked again
    serving = tuple(engine.classifier.versions.values()) if engine is not None else ()
    ctx = {"csrf_token": csrf_token(request), "serving_versions": serving, **(context or {})}
    return templates.TemplateResponse(request, name, ctx, status_code=status_code, headers=headers)
