"""PostgreSQL for the test suite: each test gets a fresh database on the server named by
CLOSETCHAT_TEST_DATABASE_URL (started on loopback by scripts/with-postgres.sh)."""

from __future__ import annotations

import uuid

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url


def fresh_database(base_url: str) -> str:
    name = f"t_{uuid.uuid4().hex[:16]}"
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(base_url).set(database=name).render_as_string(hide_password=False)
