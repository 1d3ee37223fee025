"""Statements compiled once (backend.compiled_statements) store exactly what Core's execute stores, on
SQLite and on PostgreSQL alike, one row or many, with the statement's own values kept."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from backend.compiled_statements import CompiledRead, CompiledWrite
from backend.db import make_engine
from backend.migrations import upgrade_to_head
from backend.models import Conversation, OwnerRevision, Upload
from backend.services import revisions


@pytest.fixture
def engine(settings):
    settings.ensure_dirs()
    engine = make_engine(settings)
    upgrade_to_head(engine, settings)
    yield engine
    engine.dispose()


def _upload(i: int) -> dict:
    return {"id": f"u{i}", "owner": "b:x", "sha256": f"{i:064x}", "filename": f"p{i}.jpg", "content_type": "image/jpeg",
            "size_bytes": 1000 + i, "width": 400, "height": 534,
            "created_at": datetime(2026, 11, 26, 10, 30, i, 123456 * (i % 2), tzinfo=UTC)}


def test_rows_are_stored_as_cores_execute_stores_them(engine):
    table = Upload.__table__
    compiled = CompiledWrite.insert(table)
    with engine.begin() as conn:
        compiled.execute(conn, [_upload(1)])  # one row
        compiled.execute(conn, [_upload(2), _upload(3), _upload(4)])  # executemany
        compiled.execute(conn, [])  # nothing to do
        conn.execute(sa.insert(table), [{**_upload(i), "id": f"core{i}"} for i in range(1, 5)])
    with engine.connect() as conn:
        ours = conn.execute(sa.select(table).where(table.c.id.like("u%")).order_by(table.c.id)).all()
        core = conn.execute(sa.select(table).where(table.c.id.like("core%")).order_by(table.c.id)).all()
        # the column as the database holds it (SQLite: text), not only as SQLAlchemy reads it back
        raw = conn.execute(sa.select(sa.cast(table.c.created_at, sa.String)).order_by(table.c.id)).scalars().all()
    assert [row._mapping["id"] for row in ours] == ["u1", "u2", "u3", "u4"]
    assert [{**row._mapping, "id": None} for row in ours] == [{**row._mapping, "id": None} for row in core]
    assert raw[:4] == raw[4:]  # "core1".."core4" sort before "u1".."u4"
    assert ours[1]._mapping["created_at"].replace(tzinfo=UTC) == _upload(2)["created_at"]


def test_an_upserts_own_values_are_kept(engine):
    with engine.begin() as conn:
        revisions.touch(conn, "b:x")
        revisions.touch(conn, "b:x")
        revisions.touch(conn, "b:y")
    with engine.connect() as conn:
        stored = dict(conn.execute(sa.select(OwnerRevision.owner, OwnerRevision.revision)).all())
    assert stored == {"b:x": 2, "b:y": 1}


def test_a_key_the_statement_does_not_take_is_refused(engine):
    table = Upload.__table__
    with engine.begin() as conn, pytest.raises(ValueError, match="no parameter named"):
        CompiledWrite(sa.update(table).values(filename=sa.bindparam("name")), ["name", "nickname"]).execute(
            conn, [{"name": "a", "nickname": "b"}])


def test_a_read_gives_the_row_cores_execute_gives(engine):
    table = Conversation.__table__
    newest = sa.select(table.c.id).where(table.c.owner == sa.bindparam("owner")).order_by(table.c.updated_at.desc())
    statement = sa.select(table, newest.limit(1).scalar_subquery().label("newest_id")).where(
        table.c.id == sa.bindparam("conversation_id"))
    with engine.begin() as conn:
        for i, when in enumerate((datetime(2026, 11, 26, 9, tzinfo=UTC), datetime(2026, 11, 26, 10, 0, 0, 5, tzinfo=UTC))):
            conn.execute(sa.insert(table), {"id": f"c{i}", "owner": "b:x", "title": f"chat {i}", "created_at": when,
                                            "updated_at": when})
    read = CompiledRead(statement, ["owner", "conversation_id"])
    for conversation_id in ("c0", "c1"):
        parameters = {"owner": "b:x", "conversation_id": conversation_id}
        with engine.connect() as conn:
            expected = dict(conn.execute(statement, parameters).mappings().one())
        assert read.first(engine, parameters) == expected
        assert expected["newest_id"] == "c1" and isinstance(expected["updated_at"], datetime)
    assert read.first(engine, {"owner": "b:x", "conversation_id": "nope"}) is None
