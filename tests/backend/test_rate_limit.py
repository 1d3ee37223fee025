"""Photos stored per owner per minute are limited (#28 Low 11): past the limit a request gets 429
with Retry-After and stores nothing; other owners and local mode are not held back."""

import uuid

from tests.conftest import csrf_of, fashion_png


def _files(fashion_test, n, start=0):
    return [("files", (f"{i}.png", fashion_png(fashion_test, i), "image/png")) for i in range(start, start + n)]


def test_api_key_past_its_photos_a_minute_gets_429(make_client, settings, fashion_test):
    key_a, key_b = f"a-{uuid.uuid4()}", f"b-{uuid.uuid4()}"  # the limit is per process: owners new to it
    client = make_client(settings.model_copy(update={"api_keys": [key_a, key_b], "photos_per_minute": 3}))
    a, b = {"X-API-Key": key_a}, {"X-API-Key": key_b}
    assert client.post("/api/v1/predictions", files=_files(fashion_test, 2), headers=a).status_code == 200
    r = client.post("/api/v1/predictions", files=_files(fashion_test, 2, 2), headers=a)
    assert r.status_code == 429 and 1 <= int(r.headers["retry-after"]) <= 60 and "3 photos a minute" in r.json()["detail"]
    assert client.get("/api/v1/predictions", headers=a).json()["total"] == 2  # nothing of the refused one
    assert client.post("/api/v1/predictions", files=_files(fashion_test, 1, 4), headers=a).status_code == 200
    assert client.post("/api/v1/predictions", files=_files(fashion_test, 3), headers=b).status_code == 200


def test_browser_past_its_photos_a_minute_gets_429(make_client, settings, fashion_test):
    client = make_client(settings.model_copy(update={"photos_per_minute": 2}))
    token = csrf_of(client)
    r = client.post("/c", data={"csrf_token": token}, files=_files(fashion_test, 2), follow_redirects=False)
    assert r.status_code == 303
    r = client.post(r.headers["location"] + "/messages", data={"csrf_token": token}, files=_files(fashion_test, 1, 2),
                    headers={"HX-Request": "true"})
    assert r.status_code == 429 and "photos a minute" in r.text and r.headers["retry-after"]


def test_local_mode_is_not_limited(make_client, settings, fashion_test):
    client = make_client(settings.model_copy(update={"photos_per_minute": 1}))
    for start in (0, 2):
        assert client.post("/api/v1/predictions", files=_files(fashion_test, 2, start)).status_code == 200
