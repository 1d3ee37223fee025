"""The Open Inference Protocol v2 routes: JSON tensors here (the binary extension is exercised by
Triton's own client in tests/packaging/test_tritonclient.py)."""

from __future__ import annotations

import base64

from tests.conftest import fashion_png, jpeg_bytes


def test_health_metadata_and_readiness(client, classifier):
    assert client.get("/v2/health/live").status_code == 200
    assert client.get("/v2/health/ready").json() == {"ready": True}
    assert client.get("/v2/models/fashion-mnist/ready").status_code == 200
    assert client.get("/v2/models/resnet/ready").status_code == 404
    meta = client.get("/v2/models/fashion-mnist").json()
    assert meta["versions"] == [classifier.version] and {o["name"] for o in meta["outputs"]} == {"probs", "label"}
    assert "binary_tensor_data" in client.get("/v2").json()["extensions"]
    versioned = f"/v2/models/fashion-mnist/versions/{classifier.version}"
    assert client.get(versioned).json()["name"] == "fashion-mnist" and client.get(versioned + "/ready").status_code == 200
    assert client.get("/v2/models/fashion-mnist/versions/99/ready").status_code == 404
    r = client.post(versioned + "/infer", json={"inputs": [
        {"name": "pixels", "datatype": "UINT8", "shape": [1, 28, 28], "data": [0] * 784}]})
    assert r.status_code == 200 and r.json()["model_version"] == classifier.version


def test_infer_pixels_and_images_as_json(client, fashion_test):
    pixels = fashion_test.images[:3]
    r = client.post("/v2/models/fashion-mnist/infer", json={"id": "r1", "inputs": [
        {"name": "pixels", "datatype": "UINT8", "shape": [3, 28, 28], "data": pixels.ravel().tolist()}]})
    assert r.status_code == 200 and r.json()["id"] == "r1"
    outputs = {o["name"]: o for o in r.json()["outputs"]}
    assert outputs["probs"]["shape"] == [3, 10] and len(outputs["probs"]["data"]) == 30
    assert outputs["label"]["data"][0] == "Ankle boot"
    images = [base64.b64encode(fashion_png(fashion_test, 0)).decode(), base64.b64encode(jpeg_bytes()).decode()]
    r = client.post("/v2/models/fashion-mnist/infer", json={"inputs": [
        {"name": "image", "datatype": "BYTES", "shape": [2], "data": images}]})
    assert r.status_code == 200 and r.json()["outputs"][1]["data"][0] == "Ankle boot"


def test_infer_errors_in_the_protocols_shape(client):
    def infer(body, model="fashion-mnist"):
        return client.post(f"/v2/models/{model}/infer", json=body)

    one = {"name": "x", "datatype": "UINT8", "shape": [1, 28, 28], "data": [0] * 784}
    assert infer({"inputs": [one]}, model="resnet").status_code == 404
    for bad in ({"inputs": []}, {"inputs": [{**one, "datatype": "FP64"}]}, {"inputs": [{**one, "shape": [1, 27, 28]}]},
                {"inputs": [{"name": "i", "datatype": "BYTES", "shape": [1], "data": [base64.b64encode(b"no image").decode()]}]},
                {"inputs": ["x"]}, {"inputs": [{**one, "data": [300] * 784}]}, {"inputs": [{**one, "parameters": "p"}]},
                {"inputs": [{**one, "parameters": {"binary_data_size": "many"}}]}, {"inputs": [one], "outputs": ["probs"]}):
        r = infer(bad)
        if bad.get("outputs"):  # outputs that are not objects are ignored: the answer comes as JSON
            assert r.status_code == 200 and r.json()["outputs"][0]["data"]
            continue
        assert r.status_code in (400, 415) and set(r.json()) == {"error"}, (bad, r.text)
    assert client.post("/v2/models/fashion-mnist/infer", content=b"{not json").json()["error"]
