"""The history page: filters, sorting, pagination, charts, exports, corrections, deletion."""

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session

from backend.models import Prediction, Upload
from backend.services import revisions
from tests.conftest import csrf_of, fashion_png

HX = {"HX-Request": "true"}


def _seed_rows(client, owner: str, n: int):
    """Insert n predictions directly (fast), spread over days and classes."""
    now = datetime.now(UTC)
    with Session(client.app.state.db) as s:
        upload = Upload(owner=owner, sha256="0" * 64, filename="x.png", content_type="image/png",
                        size_bytes=1, width=28, height=28)
        s.add(upload)
        s.flush()
        for i in range(n):
            label = ["T-shirt/top", "Trouser", "Bag"][i % 3]
            s.add(Prediction(owner=owner, upload_id=upload.id, filename=f"f{i}.png", label=label,
                             label_index=[0, 1, 8][i % 3], confidence=(i % 10) / 10 + 0.05,
                             probs_json=json.dumps([0.1] * 10), unsure=i % 4 == 0,
                             model_version="t", created_at=now - timedelta(days=i % 5)))
        revisions.touch(s, owner)  # as every write path does: cached charts must see these rows
        s.commit()


def _owner(client):
    client.get("/")
    from backend.core.identity import browser_owner

    cookie = client.cookies.get("closetchat_id")
    return browser_owner(client.app.state.identity.verify(cookie))


def test_history_lists_filters_sorts_and_pages(client):
    owner = _owner(client)
    _seed_rows(client, owner, 120)
    page = client.get("/history")
    assert page.status_code == 200 and "120 predictions" in page.text and "page 1 of 3" in page.text
    assert "Predictions per class" in page.text and "<svg" in page.text
    assert "40 predictions" in client.get("/history", params={"label": "Bag"}).text
    assert "30 predictions" in client.get("/history", params={"unsure": "true"}).text
    today = datetime.now(UTC).date().isoformat()
    assert "24 predictions" in client.get("/history", params={"date_from": today, "date_to": today}).text
    assert client.get("/history", params={"date_from": "nonsense"}).status_code == 422
    partial = client.get("/history", params={"page": 3}, headers={**HX, "HX-Target": "history-body"})
    assert partial.text.startswith('<div id="history-body">') and "page 3 of 3" in partial.text
    assert "<html" not in partial.text and "Predictions per class" in partial.text
    top = client.get("/history", params={"sort": "confidence"}).text
    assert "95%" in top.split("<tbody>")[1][:3000]


@pytest.mark.slow  # training, the whole test set or a benchmark: CI runs it
def test_the_serving_benchmarks_history_rows_show(client):
    """benchmarks/serve.py times the history page over rows it seeds with this helper."""
    from benchmarks.serve import seed_history

    seed_history(client.app.state.db, _owner(client), 30)
    assert "30 predictions" in client.get("/history").text


def test_history_charts_count_the_filtered_rows(client):
    owner = _owner(client)
    _seed_rows(client, owner, 120)  # classes cycle T-shirt/Trouser/Bag; confidence 0.05 … 0.95 by tens
    page = client.get("/history").text
    assert "Predictions per class: T-shirt/top 40, Trouser 40, Pullover 0," in page
    assert "Confidence histogram: 0–10% 12, 10–20% 12," in page and "90–100% 12" in page
    bags = client.get("/history", params={"label": "Bag"}).text
    assert "Trouser 0," in bags and "Bag 40," in bags
    # Bag rows are i = 2, 5, 8, ...: confidence tenths 2, 5, 8, 1, 4, 7, 0, 3, 6, 9: four each
    assert "0–10% 4, 10–20% 4," in bags


def test_cached_charts_follow_every_change(client, fashion_test):
    """Charts are kept per worker until the owner's predictions change: each write the app makes
    (a new photo, a correction, a deletion) must show on the next view, never a stale count."""
    token = csrf_of(client)
    cache = client.app.state.chart_cache

    def totals():
        page = client.get("/history").text
        corrected = client.get("/history", params={"corrected": "true"}).text
        return (re.search(r"(\d+) predictions?[;.]", page).group(1), re.search(r"(\d+) predictions?[;.]", corrected).group(1))

    first = client.post("/c", data={"csrf_token": token},
                        files={"files": ("a.png", fashion_png(fashion_test, 0), "image/png")}, follow_redirects=False)
    conversation = first.headers["location"]
    assert totals() == ("1", "0")
    hits = cache.hits
    assert totals() == ("1", "0") and cache.hits == hits + 2  # unchanged: served from the cache
    client.post(conversation + "/messages", data={"csrf_token": token},
                files={"files": ("b.png", fashion_png(fashion_test, 1), "image/png")})
    assert totals() == ("2", "0")
    ids = re.findall(r'id="row-([0-9a-f]+)"', client.get("/history").text)
    client.post(f"/predictions/{ids[0]}/feedback", data={"csrf_token": token, "label": "Bag"})
    assert totals() == ("2", "1")
    client.post("/history/delete", data={"csrf_token": token, "ids": ids[:1]})
    assert totals() == ("1", "0")


def test_correct_in_place_and_delete_selected(client, fashion_test):
    token = csrf_of(client)
    for i in range(3):
        client.post("/c", data={"csrf_token": token}, files={"files": (f"{i}.png", fashion_png(fashion_test, i), "image/png")})
    ids = re.findall(r'id="row-([0-9a-f]+)"', client.get("/history").text)
    assert len(ids) == 3
    r = client.post(f"/predictions/{ids[0]}/feedback", data={"csrf_token": token, "label": "Bag"},
                    headers={**HX, "HX-Target": f"row-{ids[0]}"})
    assert r.text.startswith(f'<tr id="row-{ids[0]}">') and 'value="Bag" selected' in r.text
    assert "1 prediction;" in client.get("/history", params={"corrected": "true"}).text
    r = client.post("/history/delete", data={"csrf_token": token, "ids": ids[:2]})
    assert r.status_code == 200 and "1 prediction;" in r.text
    assert client.post("/history/delete", data={"csrf_token": "x", "ids": ids[2:]}).status_code == 403


def test_exports(client, fashion_test):
    token = csrf_of(client)
    client.post("/c", data={"csrf_token": token}, files={"files": ("=cmd().png", fashion_png(fashion_test, 0), "image/png")})
    rows = list(csv.DictReader(io.StringIO(client.get("/history/export.csv").text)))
    assert len(rows) == 1 and rows[0]["label"] == "Ankle boot" and rows[0]["filename"].startswith("'=")
    assert float(rows[0]["p_Ankle boot"]) > 0.5
    data = client.get("/history/export.json").json()
    assert data[0]["label"] == "Ankle boot" and len([k for k in data[0] if k.startswith("p_")]) == 10


def test_history_rows_escape_what_users_named(client, fashion_test):
    """Filenames are the user's text: every place a row shows one (name, label, aria-label) escapes it."""
    hostile = '"><img src=x onerror=alert(1)>.png'
    r = client.post("/c", data={"csrf_token": csrf_of(client)},
                    files={"files": (hostile, fashion_png(fashion_test, 0), "image/png")}, follow_redirects=False)
    assert r.status_code == 303
    page = client.get("/history").text
    row = re.search(r'<tr id="row-[0-9a-f]+">.*?</tr>', page, re.S).group(0)
    assert "<img src=x" not in row and "onerror=alert(1)>" not in row
    # aria-label, name, correction label (the thumbnail's alt is empty: the name is beside it)
    assert row.count("&lt;img src=x onerror=alert(1)&gt;") == 3
    assert re.search(r'<select id="fix-[0-9a-f]+" name="label">\s*<option value="Ankle boot">—</option>', row)
    assert '<a href="/c/' in row  # sent in a chat: the row links to it


def test_touching_an_owner_raises_only_that_owners_revision(client):
    from sqlmodel import select

    from backend.models import OwnerRevision

    with Session(client.app.state.db) as s:
        for owner in ("b:x", "b:x", "b:y"):
            revisions.touch(s, owner)
        s.commit()
        stored = dict(s.exec(select(OwnerRevision.owner, OwnerRevision.revision)).all())
        assert stored == {"b:x": 2, "b:y": 1} and revisions.current(s, "b:z") == 0
