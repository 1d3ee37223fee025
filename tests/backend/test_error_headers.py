"""An unexpected error's 500 carries the security headers too (#28 Low 9: the date overflow's 500
had no CSP and no nosniff)."""

from fastapi.testclient import TestClient

from backend.main import create_app


def test_unexpected_error_is_a_500_with_security_headers(settings, classifier):
    app = create_app(settings, classifier=classifier)

    @app.get("/broken-on-purpose")
    def broken():
        raise RuntimeError("a bug")

    with TestClient(app, raise_server_exceptions=False) as client:
        r = client.get("/broken-on-purpose")
        assert r.status_code == 500 and "went wrong" in r.text
        assert r.headers["x-content-type-options"] == "nosniff"
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
        assert client.get("/healthz").status_code == 200
