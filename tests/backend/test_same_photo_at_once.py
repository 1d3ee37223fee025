"""Twenty first uploads of one photo at once are all stored (#28 Medium 6: a thumbnail temp file
named by the photo's hash was shared between them, and 7 of 20 answered 500)."""

from concurrent.futures import ThreadPoolExecutor

from tests.conftest import jpeg_bytes, stored_keys


def test_one_photo_uploaded_twenty_times_at_once(client, settings):
    photo = jpeg_bytes(size=(900, 1200))

    def send(i):
        return client.post("/api/v1/predictions", files={"files": (f"same-{i}.jpg", photo, "image/jpeg")}).status_code

    with ThreadPoolExecutor(20) as pool:
        assert list(pool.map(send, range(20))) == [200] * 20
    assert client.get("/api/v1/predictions").json()["total"] == 20
    assert len(stored_keys(settings, "thumbs")) == 20 and not list(settings.incoming_dir.rglob("*.part"))
