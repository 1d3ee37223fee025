"""Host names the server answers (#28 Low 8): in local mode a page on another domain rebound to
127.0.0.1 must not read the keyless API, nor a forged Host steer a redirect."""

import pytest

from tests.conftest import fashion_png


@pytest.mark.parametrize("host", ["attacker.example", "evil.example:8000", "127.0.0.1.nip.io"])
def test_local_mode_refuses_domain_names_nobody_configured(client, host):
    for path in ("/api/v1/predictions", "/", "/history/"):
        r = client.get(path, headers={"host": host}, follow_redirects=False)
        assert r.status_code == 400 and "ALLOWED_HOSTS" in r.text
        assert "location" not in r.headers and "set-cookie" not in r.headers


def test_local_mode_refuses_a_rebound_post_before_storing(client, fashion_test):
    r = client.post("/api/v1/predictions", headers={"host": "attacker.example"},
                    files={"files": ("b.png", fashion_png(fashion_test, 0), "image/png")})
    assert r.status_code == 400
    assert client.get("/api/v1/predictions").json()["total"] == 0


@pytest.mark.parametrize("host", ["127.0.0.1:8000", "localhost", "localhost:8000", "[::1]:8000",
                                  "192.168.1.20:8000", "mypc", "app.localhost"])
def test_local_mode_answers_loopback_addresses_and_bare_names(client, host):
    assert client.get("/api/v1/predictions", headers={"host": host}).status_code == 200


def test_configured_hosts_are_the_only_ones(make_client, settings):
    client = make_client(settings.model_copy(update={"allowed_hosts": ["closet.example"]}))
    assert client.get("/healthz", headers={"host": "closet.example"}).status_code == 200
    assert client.get("/healthz", headers={"host": "127.0.0.1"}).status_code == 400
    star = make_client(settings.model_copy(update={"allowed_hosts": ["*"]}))
    assert star.get("/healthz", headers={"host": "anything.example"}).status_code == 200


def test_keyed_mode_answers_any_host_unless_listed(make_client, settings):
    keyed = make_client(settings.model_copy(update={"api_keys": ["k1"]}))
    assert keyed.get("/healthz", headers={"host": "closet.example"}).status_code == 200


def test_another_sites_page_cannot_write_through_the_keyless_api(client, fashion_test):
    """fetch(..., {mode: 'no-cors'}) from attacker.example reaches 127.0.0.1 with its Origin: refused,
    nothing stored. Scripts (no Origin) and this server's own pages still write."""
    files = {"files": ("b.png", fashion_png(fashion_test, 0), "image/png")}
    r = client.post("/api/v1/predictions", headers={"origin": "http://attacker.example"}, files=files)
    assert r.status_code == 403 and "CORS_ORIGINS" in r.text
    assert client.delete("/api/v1/predictions/x", headers={"origin": "null"}).status_code == 403
    assert client.get("/api/v1/predictions").json()["total"] == 0
    assert client.post("/api/v1/predictions", files=files).status_code == 200
    assert client.post("/api/v1/predictions", headers={"origin": "http://testserver"}, files=files).status_code == 200


def test_listed_origins_may_write_and_keyed_mode_relies_on_keys(make_client, settings, fashion_test):
    files = {"files": ("b.png", fashion_png(fashion_test, 0), "image/png")}
    seed_page = make_client(settings.model_copy(update={"cors_origins": ["http://seed.example"]}))
    assert seed_page.post("/fashion-mnist", headers={"origin": "http://seed.example"},
                          files={"file": files["files"]}).status_code == 200
    keyed = make_client(settings.model_copy(update={"api_keys": ["k1"]}))
    r = keyed.post("/api/v1/predictions", headers={"origin": "http://other.example", "X-API-Key": "k1"}, files=files)
    assert r.status_code == 200
