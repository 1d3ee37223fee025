"""The conventions HTTP clients expect of the JSON API: a raw image body (curl --data-binary),
?top_k=, and an OpenAPI document that generated clients and Swagger can use as it is (security
schemes, error bodies, operation ids named after the routes, the package's version)."""

from __future__ import annotations

import importlib.metadata

import httpx
import pytest

from backend.core.config import Settings
from tests.conftest import fashion_png, jpeg_bytes, stored_keys


@pytest.mark.slow
def test_raw_body_upload_over_real_http(server, fashion_test):
    """`curl --data-binary @boot.png -H 'Content-Type: image/png'`, on the API and the seed route."""
    png = fashion_png(fashion_test, 0)
    r = httpx.post(server + "/api/v1/predictions", content=png, headers={
        "Content-Type": "image/png", "Content-Disposition": 'attachment; filename="boot.png"'})
    assert r.status_code == 200, r.text
    entry = r.json()["results"][0]
    assert entry["label"] == "Ankle boot" and entry["filename"] == "boot.png"
    assert httpx.get(f"{server}/api/v1/predictions/{entry['id']}/image").content == png  # stored as sent
    seed = httpx.post(server + "/models/fashion-mnist", content=png, headers={"Content-Type": "application/octet-stream"})
    assert seed.status_code == 200 and seed.json()["label"] == "Ankle boot"
    unnamed = httpx.post(server + "/api/v1/predictions", content=jpeg_bytes(), headers={"Content-Type": "image/jpeg"})
    assert unnamed.json()["results"][0]["filename"] == "upload"


def test_raw_body_errors(make_client, tmp_path):
    client = make_client(Settings(data_dir=tmp_path / "d", secret_key="t", max_upload_mb=0.01))
    big = client.post("/api/v1/predictions", content=jpeg_bytes(size=(900, 900)), headers={"Content-Type": "image/jpeg"})
    assert big.status_code == 413 and "larger than" in big.json()["detail"]
    text = client.post("/api/v1/predictions", content=b"just words", headers={"Content-Type": "image/jpeg"})
    assert text.status_code == 415
    empty = client.post("/fashion-mnist", content=b"", headers={"Content-Type": "image/png"})
    assert empty.status_code == 422


def test_top_k_chooses_how_many_classes_are_listed(client):
    photo = {"files": ("shirt.jpg", jpeg_bytes(), "image/jpeg")}
    one = client.post("/api/v1/predictions?top_k=1", files=photo).json()["results"][0]
    assert len(one["top_k"]) == 1 and one["top_k"][0]["label"] == one["label"]
    assert len(client.post("/api/v1/predictions", files=photo).json()["results"][0]["top_k"]) == 3
    ten = client.get(f"/api/v1/predictions/{one['id']}?top_k=10").json()["top_k"]
    assert len(ten) == 10 and [t["score"] for t in ten] == sorted((t["score"] for t in ten), reverse=True)
    assert {len(i["top_k"]) for i in client.get("/api/v1/predictions?top_k=5").json()["items"]} == {5}
    for bad in (0, 11, "x"):
        assert client.post(f"/api/v1/predictions?top_k={bad}", files=photo).status_code == 422


def test_openapi_is_ready_for_generated_clients(client):
    spec = client.get("/openapi.json").json()
    assert spec["info"]["version"] == importlib.metadata.version("closetchat")
    schemes = spec["components"]["securitySchemes"]
    assert schemes["APIKeyHeader"] == {"type": "apiKey", "in": "header", "name": "X-API-Key",
                                       "description": schemes["APIKeyHeader"]["description"]}
    assert schemes["HTTPBearer"]["scheme"] == "bearer"
    operations = {(m, p): op for p, ops in spec["paths"].items() for m, op in ops.items()}
    create = operations[("post", "/api/v1/predictions")]
    assert create["operationId"] == "create_predictions"
    assert {"APIKeyHeader": []} in create["security"] and {"HTTPBearer": []} in create["security"]
    assert create["responses"]["413"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")
    assert set(create["requestBody"]["content"]) == {"multipart/form-data", "application/octet-stream"}
    ids = [op["operationId"] for op in operations.values()]
    assert len(ids) == len(set(ids)) and all("_api_v1_" not in i for i in ids)
    assert {"list_predictions", "get_prediction", "fashion_mnist", "models_fashion_mnist"} <= set(ids)


def test_store_false_classifies_a_batch_and_keeps_nothing(client, settings):
    files = [("files", ("a.jpg", jpeg_bytes(), "image/jpeg")), ("files", ("b.txt", b"words", "text/plain"))]
    r = client.post("/api/v1/predictions?store=false&top_k=4", files=files)
    assert r.status_code == 200
    answer, error = r.json()["results"]
    assert answer["kind"] == "classification" and "id" not in answer and len(answer["top_k"]) == 4
    assert answer["top_k"][0] == {"label": answer["label"], "score": answer["confidence"]}
    assert error["kind"] == "error" and error["status"] == 415
    assert client.get("/api/v1/predictions").json()["total"] == 0
    assert stored_keys(settings, "uploads") == stored_keys(settings, "thumbs") == []
    stored = client.post("/api/v1/predictions", files=files[:1]).json()["results"][0]
    assert stored["kind"] == "prediction" and stored["id"]
    assert stored["probs"] == [round(p, 6) for p in answer["probs"]]  # the same answer (stored to 6 places)


def test_batch_results_are_a_discriminated_union(client):
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    items = schemas["BatchResult"]["properties"]["results"]["items"]
    assert items["discriminator"]["propertyName"] == "kind"
    assert set(items["discriminator"]["mapping"]) == {"prediction", "classification", "error"}
