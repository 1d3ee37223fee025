"""Keyed mode protects /metrics and the API docs unless opted out (#28 Low 10); local mode and
the health checks stay open."""

import pytest

OPS = ["/metrics", "/docs", "/openapi.json"]


@pytest.mark.parametrize("path", OPS)
def test_keyed_mode_needs_a_key_for_operations_pages(make_client, settings, path):
    client = make_client(settings.model_copy(update={"api_keys": ["key-a"]}))
    r = client.get(path)
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer" and "API key" in r.json()["detail"]
    assert client.get(path, headers={"X-API-Key": "wrong"}).status_code == 401
    assert client.get(path, headers={"Authorization": "Bearer key-a"}).status_code == 200
    assert client.get(path, headers={"X-API-Key": "key-a"}).status_code == 200


def test_health_checks_stay_open_in_keyed_mode(make_client, settings):
    client = make_client(settings.model_copy(update={"api_keys": ["key-a"]}))
    assert client.get("/healthz").status_code == 200 and client.get("/readyz").status_code == 200


def test_opted_out_and_local_mode_are_open(make_client, settings):
    opened = make_client(settings.model_copy(update={"api_keys": ["key-a"], "public_metrics": True, "public_docs": True}))
    local = make_client(settings)
    for client in (opened, local):
        assert all(client.get(path).status_code == 200 for path in OPS)
    metrics_only = make_client(settings.model_copy(update={"api_keys": ["key-a"], "public_metrics": True}))
    assert metrics_only.get("/metrics").status_code == 200 and metrics_only.get("/docs").status_code == 401
