"""The JSON API over HTTP with real images and the real model."""

import io
import zipfile

from tests.conftest import fashion_png, jpeg_bytes


def _files(*items):
    return [("files", item) for item in items]


def test_batch_prediction_with_one_bad_file(client, fashion_test):
    r = client.post("/api/v1/predictions", files=_files(
        ("boot.png", fashion_png(fashion_test, 0), "image/png"),
        ("bad.jpg", b"garbage", "image/jpeg"),
        ("trouser.png", fashion_png(fashion_test, 2), "image/png")))
    assert r.status_code == 200
    results = r.json()["results"]
    assert [x.get("label") for x in results] == ["Ankle boot", None, "Trouser"]
    assert results[1] == {"kind": "error", "filename": "bad.jpg", "status": 415, "detail": results[1]["detail"]}
    first = results[0]
    assert len(first["probs"]) == 10 and abs(sum(first["probs"]) - 1) < 1e-3
    assert first["top_k"][0] == {"label": "Ankle boot", "score": first["confidence"]} and len(first["top_k"]) == 3
    assert {"id", "filename", "index", "unsure", "model_version", "created_at"} <= set(first)


def test_all_bad_files_is_a_4xx_with_detail(client):
    r = client.post("/api/v1/predictions", files=_files(("a.txt", b"hello", "text/plain")))
    assert r.status_code == 415 and "detail" in r.json()
    assert client.post("/api/v1/predictions", files={"other": ("a.png", b"x", "image/png")}).status_code == 422
    assert client.post("/api/v1/predictions", content=b"{}", headers={"content-type": "application/json"}).status_code == 422


def test_size_cap_and_file_count_cap(make_client, settings, fashion_test):
    client = make_client(settings.model_copy(update={"max_upload_mb": 0.01, "max_files": 2}))
    big = jpeg_bytes(size=(1200, 1200))
    assert len(big) > 0.01 * 1024 * 1024
    r = client.post("/api/v1/predictions", files=_files(("big.jpg", big, "image/jpeg")))
    assert r.status_code == 413 and "larger than" in r.json()["detail"]
    three = _files(*[("p.png", fashion_png(fashion_test, i), "image/png") for i in range(3)])
    assert client.post("/api/v1/predictions", files=three).status_code == 413


def test_read_list_filter_paginate_feedback_delete(client, fashion_test):
    ids = []
    for i in range(5):
        r = client.post("/api/v1/predictions", files=_files((f"{i}.png", fashion_png(fashion_test, i), "image/png")))
        ids.append(r.json()["results"][0]["id"])
    page = client.get("/api/v1/predictions", params={"per_page": 2}).json()
    assert page["total"] == 5 and page["pages"] == 3 and len(page["items"]) == 2
    assert page["items"][0]["id"] == ids[-1]  # newest first
    oldest = client.get("/api/v1/predictions", params={"sort": "oldest", "per_page": 1}).json()["items"][0]
    assert oldest["id"] == ids[0]
    boots = client.get("/api/v1/predictions", params={"label": "Ankle boot"}).json()
    assert all(x["label"] == "Ankle boot" for x in boots["items"]) and boots["total"] >= 1
    assert client.get("/api/v1/predictions", params={"label": "Hat"}).status_code == 422

    one = client.get(f"/api/v1/predictions/{ids[0]}").json()
    assert one["filename"] == "0.png"
    image = client.get(f"/api/v1/predictions/{ids[0]}/image")
    assert image.headers["content-type"] == "image/png" and image.content == fashion_png(fashion_test, 0)

    fixed = client.post(f"/api/v1/predictions/{ids[0]}/feedback", json={"label": "Sneaker"}).json()
    assert fixed["corrected_label"] == "Sneaker"
    assert client.get("/api/v1/predictions", params={"corrected": True}).json()["total"] == 1
    assert client.post(f"/api/v1/predictions/{ids[0]}/feedback", json={"label": "Hat"}).status_code == 422

    assert client.delete(f"/api/v1/predictions/{ids[1]}").status_code == 204
    assert client.get(f"/api/v1/predictions/{ids[1]}").status_code == 404
    assert client.get(f"/api/v1/predictions/{ids[1]}/image").status_code == 404
    assert client.delete(f"/api/v1/predictions/{ids[1]}").status_code == 404


def test_api_keys_isolate_owners(make_client, settings, fashion_test):
    client = make_client(settings.model_copy(update={"api_keys": ["key-a", "key-b"]}))
    png = fashion_png(fashion_test, 0)
    assert client.post("/api/v1/predictions", files=_files(("a.png", png, "image/png"))).status_code == 401
    assert client.get("/api/v1/predictions", headers={"Authorization": "Bearer nope"}).status_code == 401
    a = {"Authorization": "Bearer key-a"}
    b = {"X-API-Key": "key-b"}
    pid = client.post("/api/v1/predictions", files=_files(("a.png", png, "image/png")), headers=a).json()["results"][0]["id"]
    assert client.get(f"/api/v1/predictions/{pid}", headers=a).status_code == 200
    assert client.get(f"/api/v1/predictions/{pid}", headers=b).status_code == 404
    assert client.get(f"/api/v1/predictions/{pid}/image", headers=b).status_code == 404
    assert client.delete(f"/api/v1/predictions/{pid}", headers=b).status_code == 404
    assert client.post(f"/api/v1/predictions/{pid}/feedback", json={"label": "Bag"}, headers=b).status_code == 404
    assert client.get("/api/v1/predictions", headers=b).json()["total"] == 0
    # the browser history never shows API rows
    assert "a.png" not in client.get("/history").text


def test_seed_compatible_endpoint(client, fashion_test):
    r = client.post("/fashion-mnist", files={"file": ("boot.png", fashion_png(fashion_test, 0), "image/png")})
    assert r.status_code == 200
    body = r.json()
    assert body["label"] == "Ankle boot" and len(body["probs"]) == 10
    assert client.post("/fashion-mnist", files={"file": ("x.png", b"", "image/png")}).status_code == 422
    assert client.post("/fashion-mnist", files={"files": ("x.png", b"1", "image/png")}).status_code == 422
    assert client.get("/api/v1/predictions").json()["total"] == 0  # stateless, as the seed was


def test_seed_endpoint_answers_small_and_big_images_as_the_classifier(client, classifier):
    from PIL import Image

    from ml import open_image

    small = jpeg_bytes(size=(400, 534), colour=(150, 40, 40))
    buffer = io.BytesIO()
    Image.open(io.BytesIO(jpeg_bytes(size=(700, 900), colour=(40, 120, 40)))).save(buffer, "PNG")
    for data in (small, buffer.getvalue()):
        r = client.post("/fashion-mnist", files={"file": ("p", data)})
        assert r.status_code == 200
        local = classifier.predict([open_image(data)])[0]
        assert r.json()["label"] == local.label
        assert max(abs(a - b) for a, b in zip(r.json()["probs"], local.probs, strict=True)) < 1e-6
    assert client.post("/fashion-mnist", files={"file": ("p.jpg", small[: len(small) // 2])}).status_code == 422
    assert client.post("/fashion-mnist", files={"file": ("p.jpg", b"\xff\xd8\xff" + b"junk")}).status_code == 422


def test_the_same_photo_sent_twice_is_two_predictions(client):
    photo = {"files": ("shirt.jpg", jpeg_bytes(), "image/jpeg")}
    answers = [client.post("/api/v1/predictions", files=photo).json()["results"][0] for _ in range(2)]
    assert answers[0]["id"] != answers[1]["id"] and answers[0]["label"] == answers[1]["label"]
    listed = client.get("/api/v1/predictions").json()
    assert listed["total"] == 2 and {item["id"] for item in listed["items"]} == {a["id"] for a in answers}


def test_model_health_ready_metrics(client, fashion_test, classifier):
    info = client.get("/api/v1/model").json()
    assert info["classes"][0] == "T-shirt/top" and info["version"] == classifier.version
    assert info["test_accuracy"] == classifier.card.figures["test_accuracy"]
    assert info["card"]["quantization"]["fp32_test_accuracy"] > 0.94  # the served graph is int8; its float figure
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json()["status"] == "ready"
    client.post("/fashion-mnist", files={"file": ("boot.png", fashion_png(fashion_test, 0), "image/png")})
    text = client.get("/metrics").text
    assert 'closetchat_http_requests_total{method="POST",route="/fashion-mnist",status="200"} 1.0' in text
    assert 'closetchat_predictions_total{label="Ankle boot"' in text
    assert "closetchat_model_batch_seconds_count" in text


def test_openapi_documents_the_api(client):
    spec = client.get("/openapi.json").json()
    post = spec["paths"]["/api/v1/predictions"]["post"]
    assert "multipart/form-data" in post["requestBody"]["content"]
    assert "/fashion-mnist" in spec["paths"] and "/api/v1/model" in spec["paths"]
    assert "/" not in spec["paths"]  # HTML routes stay out of the API schema


def test_corrections_zip_is_a_dataset(client, fashion_test):
    from tests.conftest import csrf_of

    token = csrf_of(client)
    client.post("/c", data={"csrf_token": token}, files={"files": ("a.png", fashion_png(fashion_test, 0), "image/png")})
    pid = client.get("/history").text.split('id="row-')[1].split('"')[0]
    row = client.post(f"/predictions/{pid}/feedback", data={"csrf_token": token, "label": "Sneaker"},
                      headers={"HX-Request": "true", "HX-Target": f"row-{pid}"}).text
    assert row.lstrip().startswith(f'<tr id="row-{pid}">') and '<option value="Sneaker" selected>' in row
    archive = zipfile.ZipFile(io.BytesIO(client.get("/history/corrections.zip").content))
    names = archive.namelist()
    assert "labels.csv" in names and any(n.startswith("Sneaker/") for n in names)
    assert "Sneaker" in archive.read("labels.csv").decode()


def test_api_docs_page_uses_only_our_own_assets(client):
    page = client.get("/docs")
    assert page.status_code == 200 and "/static/vendor/swagger-ui/swagger-ui-bundle.js" in page.text
    assert "cdn." not in page.text
    assert client.get("/static/vendor/swagger-ui/swagger-ui-bundle.js").status_code == 200


def test_one_photo_gets_the_same_answer_on_every_route(client, classifier):
    """The seed endpoint decodes at the model's size, the API and chat also keep a thumbnail:
    the model must still see the same pixels, so the probabilities agree to the last digit."""
    photo = jpeg_bytes(size=(1200, 1600), colour=(150, 40, 40), background=(230, 225, 210))
    seed = client.post("/fashion-mnist", files={"file": ("p.jpg", photo, "image/jpeg")}).json()["probs"]
    api = client.post("/api/v1/predictions", files=_files(("p.jpg", photo, "image/jpeg"))).json()["results"][0]
    from ml import open_image

    local = classifier.predict([open_image(photo)])[0].probs
    for route in (api["probs"], seed):
        assert max(abs(a - b) for a, b in zip(route, local, strict=True)) < 1e-6  # the API rounds to 6 places


def test_files_past_the_forms_memory_budget_continue_on_disk_and_arrive_whole(client, settings):
    """A form keeps its first megabyte of files in memory and spools the rest to incoming/: both
    kinds are stored byte for byte, and incoming/ is empty afterwards."""
    import numpy as np
    from PIL import Image

    from backend.services.multipart import SPOOL_BYTES

    noise = np.random.default_rng(0).integers(0, 256, (420, 420, 3), dtype=np.uint8)
    photos = []
    for i in range(3):
        buffer = io.BytesIO()
        Image.fromarray(np.roll(noise, i, axis=0)).save(buffer, "PNG")
        photos.append(buffer.getvalue())
    assert sum(map(len, photos[:2])) > SPOOL_BYTES > len(photos[0])  # the second one spills
    r = client.post("/api/v1/predictions", files=[("files", (f"{i}.png", p, "image/png")) for i, p in enumerate(photos)])
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    for photo, entry in zip(photos, results, strict=True):
        assert client.get(f"/api/v1/predictions/{entry['id']}/image").content == photo
    assert list(settings.incoming_dir.iterdir()) == []


def test_each_route_answers_dataset_form_images_and_photos_with_their_own_graph(tmp_path, settings, fashion_test):
    """With a dataset graph in the shipment, a Fashion-MNIST PNG is answered (and recorded) by it and
    a photo by the photo graph, on the seed endpoint, the API and the chat alike."""
    from fastapi.testclient import TestClient
    from sqlmodel import Session, select

    from backend.main import create_app
    from backend.models import Prediction
    from ml import Classifier
    from tests.conftest import csrf_of, two_graph_shipment

    clf = Classifier.load(two_graph_shipment(tmp_path))
    png, photo = fashion_png(fashion_test, 0), jpeg_bytes()
    with TestClient(create_app(settings, classifier=clf)) as client:
        for name, data, version in (("a.png", png, "dataset-graph"), ("p.jpg", photo, clf.version)):
            assert client.post("/fashion-mnist", files={"file": (name, data)}).json()["model_version"] == version
        api = client.post("/api/v1/predictions", files=_files(("a.png", png), ("p.jpg", photo))).json()["results"]
        assert [r["model_version"] for r in api] == ["dataset-graph", clf.version]
        client.post("/c", data={"csrf_token": csrf_of(client)}, files=_files(("a.png", png), ("p.jpg", photo)))
        with Session(client.app.state.db) as session:
            stored = session.exec(select(Prediction.filename, Prediction.model_version)).all()
        assert sorted(stored) == sorted([("a.png", "dataset-graph"), ("p.jpg", clf.version)] * 2)
        assert client.get("/api/v1/model").json()["dataset_graph"]["version"] == "dataset-graph"
