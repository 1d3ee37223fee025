"""Bytes one owner may keep stored (#28 Low 11): past the quota a send gets 413 and stores nothing;
deleting photos makes room again; local mode is not limited."""

import uuid

from tests.conftest import jpeg_bytes


def _photo(i):
    return {"files": (f"{i}.jpg", jpeg_bytes(colour=(40 + i, 60, 200)), "image/jpeg")}


def test_past_the_quota_nothing_is_stored_until_room_is_made(make_client, settings):
    size = len(_photo(0)["files"][1])
    key = f"q-{uuid.uuid4()}"  # the totals are per process: an owner new to it
    client = make_client(settings.model_copy(update={"api_keys": [key], "storage_per_owner_mb": 2.5 * size / 2**20}))
    auth = {"X-API-Key": key}
    ids = [client.post("/api/v1/predictions", files=_photo(i), headers=auth).json()["results"][0]["id"] for i in range(2)]
    r = client.post("/api/v1/predictions", files=_photo(2), headers=auth)
    assert r.status_code == 413 and "delete some in History" in r.json()["detail"]
    assert client.get("/api/v1/predictions", headers=auth).json()["total"] == 2
    assert client.delete(f"/api/v1/predictions/{ids[0]}", headers=auth).status_code == 204
    assert client.post("/api/v1/predictions", files=_photo(3), headers=auth).status_code == 200


def test_local_mode_has_no_quota(make_client, settings):
    client = make_client(settings.model_copy(update={"storage_per_owner_mb": 0.001}))
    assert all(client.post("/api/v1/predictions", files=_photo(i)).status_code == 200 for i in range(2))
