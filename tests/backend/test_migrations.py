"""Alembic is the only way the schema is made: upgrade from empty to head and back down."""

from alembic import command
from sqlalchemy import create_engine, inspect
from sqlmodel import SQLModel

from backend import models  # noqa: F401
from backend.core.migrations import alembic_config


def test_upgrade_to_head_and_downgrade_to_base(settings):
    settings.ensure_dirs()
    url = settings.sqlalchemy_url
    cfg = alembic_config(url)
    command.upgrade(cfg, "head")
    engine = create_engine(url)
    tables = set(inspect(engine).get_table_names())
    assert set(SQLModel.metadata.tables) <= tables
    indexes = {i["name"] for i in inspect(engine).get_indexes("prediction")}
    assert {"ix_prediction_owner_created", "ix_prediction_owner_label_confidence"} <= indexes
    command.downgrade(cfg, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    engine.dispose()


def test_models_match_the_migrations(settings):
    """No model change without a migration: autogenerate finds nothing to do at head."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    settings.ensure_dirs()
    command.upgrade(alembic_config(settings.sqlalchemy_url), "head")
    engine = create_engine(settings.sqlalchemy_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    engine.dispose()
    assert diff == []


def test_sqlite_runs_in_wal_mode(client):
    if client.app.state.db.dialect.name != "sqlite":
        import pytest

        pytest.skip("WAL is a SQLite setting")
    with client.app.state.db.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
