"""What clients written for other servers expect: the seed's test logic on both its paths (with and
without a trailing slash, never a redirect), CORS for the seed's front end on another origin, and
JSON errors for JSON clients on any path."""

from __future__ import annotations

import httpx
import pytest

from backend.core.config import Settings
from tests.conftest import fashion_png

SEED_PATHS = ("/fashion-mnist", "/fashion-mnist/", "/models/fashion-mnist", "/models/fashion-mnist/")


@pytest.mark.slow
@pytest.mark.parametrize("path", SEED_PATHS)
def test_seed_unit_test_logic_on_every_seed_path(server, fashion_test, path):
    """The seed's own test, over real HTTP: a Fashion-MNIST test image, its label and ten probs."""
    r = httpx.post(server + path, files={"file": ("boot.png", fashion_png(fashion_test, 0), "image/png")},
                   follow_redirects=False)
    assert r.status_code == 200, (r.status_code, r.headers.get("location"))
    body = r.json()
    assert body["label"] == "Ankle boot" and len(body["probs"]) == 10 and abs(sum(body["probs"]) - 1) < 1e-4
    assert httpx.post(server + path, files={"file": ("x.png", b"", "image/png")}).json()["detail"]


def test_seed_paths_store_nothing(client, fashion_test):
    for path in SEED_PATHS:
        assert client.post(path, files={"file": ("b.png", fashion_png(fashion_test, 0), "image/png")}).status_code == 200
    assert client.get("/api/v1/predictions").json()["total"] == 0
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/fashion-mnist", "/models/fashion-mnist"} <= set(paths) and "/fashion-mnist/" not in paths


def test_cors_lets_the_configured_origin_call_the_seed_and_api_routes_only(make_client, tmp_path, fashion_test):
    seed_site = "http://seed.example:3000"
    client = make_client(Settings(data_dir=tmp_path / "d", secret_key="t", cors_origins=f"{seed_site}, http://other.example"))
    preflight = client.options("/models/fashion-mnist", headers={
        "Origin": seed_site, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"})
    assert preflight.status_code == 200 and preflight.headers["access-control-allow-origin"] == seed_site
    r = client.post("/fashion-mnist", headers={"Origin": seed_site},
                    files={"file": ("b.png", fashion_png(fashion_test, 0), "image/png")})
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == seed_site
    assert "access-control-allow-credentials" not in r.headers  # the API never rides on a cookie
    assert client.get("/api/v1/model", headers={"Origin": seed_site}).headers["access-control-allow-origin"] == seed_site
    assert "access-control-allow-origin" not in client.get("/api/v1/model", headers={"Origin": "http://evil.example"}).headers
    assert "access-control-allow-origin" not in client.get("/", headers={"Origin": seed_site}).headers  # pages: same origin


def test_no_cors_unless_configured(client):
    r = client.options("/fashion-mnist", headers={"Origin": "http://seed.example", "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in r.headers


def test_unknown_paths_answer_json_to_json_clients_and_a_page_to_browsers(client):
    for path, accept in (("/no-such-page", "application/json"), ("/api/v1/nothing", "*/*"), ("/api/v2", "text/html")):
        r = client.get(path, headers={"Accept": accept})
        assert r.status_code == 404 and r.headers["content-type"] == "application/json", path
        assert r.json() == {"detail": "Not Found"}
    page = client.get("/no-such-page", headers={"Accept": "text/html,application/xhtml+xml,application/json;q=0.9"})
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
