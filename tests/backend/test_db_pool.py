"""When every database connection is taken, a request waits at most settings.db_pool_timeout and
is answered 503 with Retry-After: it is never left hanging, and nothing else waits for it (#28)."""

import time

from sqlalchemy import text
from sqlalchemy.exc import TimeoutError as PoolTimeout


def test_exhausted_pool_answers_503_with_retry_after_quickly(make_client, settings):
    client = make_client(settings.model_copy(update={"db_pool_size": 1, "db_pool_timeout": 0.3}))
    client.get("/")  # the browser's cookie, while a connection is free
    engine = client.app.state.db
    held = []  # every connection the pool will give (SQLite: one and one overflow; PostgreSQL: 1 + 10)
    try:
        while True:
            try:
                held.append(engine.connect())
            except PoolTimeout:
                break
            held[-1].execute(text("SELECT 1"))
        started = time.perf_counter()
        page = client.get("/")
        api = client.get("/api/v1/predictions")
        elapsed = time.perf_counter() - started
        assert elapsed < 3, f"waited {elapsed:.1f}s for a connection"
        assert page.status_code == 503 and page.headers["retry-after"] == "2" and "busy" in page.text
        assert api.status_code == 503 and api.headers["retry-after"] == "2" and "busy" in api.json()["detail"]
        assert client.get("/healthz").status_code == 200
    finally:
        for conn in held:
            conn.close()
    assert client.get("/").status_code == 200
