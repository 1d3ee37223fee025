"""`closetchat` command line: serve the app, sweep its files and classify files here; the model's
commands (train, adapt, export...) come from ml.cli."""

from __future__ import annotations

from typing import Annotated

import typer

from ml import cli as ml_cli

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)


@app.callback()
def main() -> None:
    """ClosetChat: what garment is this?"""


app.registered_commands += ml_cli.app.registered_commands  # train, swa, adapt, evaluate, export


@app.command()
def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes (each loads the model).")] = 1,
    reload: bool = False,
    access_log: Annotated[bool, typer.Option(help="Log a line per request.")] = True,
    log_level: Annotated[str, typer.Option(help="critical | error | warning | info | debug")] = "info",
    log_format: Annotated[str, typer.Option(envvar="CLOSETCHAT_LOG_FORMAT", help="text | json (a JSON object a line)")] = "text",
    limit_concurrency: Annotated[int, typer.Option(help="Connections and requests per worker; past it, 503 at once.")] = 1000,
    timeout_keep_alive: Annotated[int, typer.Option(help="Seconds an idle connection is kept open.")] = 5,
    header_timeout: Annotated[float, typer.Option(help="Seconds a request's headers may take to arrive.")] = 10.0,
) -> None:
    """Run the web app (uvicorn backend.main:app) with the CLOSETCHAT_* settings; several workers
    each get their own SO_REUSEPORT socket (backend/serving.py). Request headers are capped in size
    and time and connections in number (backend/core/http_limits.py)."""
    from backend.core.http_limits import uvicorn_limits
    from backend.core.logs import log_config

    options = {"proxy_headers": True, "server_header": False, "access_log": access_log, "log_level": log_level,
               "log_config": log_config(log_format, log_level), **uvicorn_limits(limit_concurrency, timeout_keep_alive, header_timeout)}
    if reload:
        import uvicorn

        uvicorn.run("backend.main:app", host=host, port=port, reload=True, **options)
        return
    from backend.core import serving

    serving.run(host, port, workers, **options)


@app.command()
def migrate() -> None:
    """Upgrade the database to the newest schema and exit: the one-off step of a deployment whose app
    processes start with CLOSETCHAT_MIGRATE_ON_START=false (docker-compose.yml's migrate service)."""
    from backend.core.config import get_settings
    from backend.core.db import make_engine
    from backend.core.migrations import upgrade_to_head

    settings = get_settings()
    settings.ensure_dirs()
    engine = make_engine(settings)
    try:
        upgrade_to_head(engine, settings)
    finally:
        engine.dispose()
    typer.echo("database at the newest schema")


@app.command()
def sweep(
    grace_seconds: Annotated[float | None, typer.Option(
        help="Spare files younger than this (default: CLOSETCHAT_SWEEP_GRACE_SECONDS, an hour).")] = None,
) -> None:
    """Remove image files no row points at (in DATA_DIR or the bucket of CLOSETCHAT_STORAGE_URL) and
    this host's part files of interrupted uploads (what a crash or an outage can leave behind), when
    older than the grace period; safe while the server runs."""
    from backend.core.config import get_settings
    from backend.core.db import make_engine
    from backend.services.storage import sweep as sweep_files

    settings = get_settings()
    engine = make_engine(settings)
    try:
        removed = sweep_files(engine, settings, settings.sweep_grace_seconds if grace_seconds is None else grace_seconds)
    finally:
        engine.dispose()
    typer.echo(f"removed {removed['orphans']} orphan files and {removed['incoming']} part files")


storage_app = typer.Typer(no_args_is_help=True, help="The photo store: DATA_DIR's folder or an S3 bucket.")
app.add_typer(storage_app, name="storage")


@storage_app.command("copy")
def storage_copy(
    to: Annotated[str, typer.Option("--to", help="The bucket: s3://bucket/prefix (AWS_* variables for endpoint and keys).")],
) -> None:
    """Copy DATA_DIR's photos and thumbnails into a bucket, then set CLOSETCHAT_STORAGE_URL to it.
    Objects already there with the same size are skipped: safe to run twice, or again after new
    uploads came in while the first run went; the local files stay until you remove them."""
    from backend.core.config import get_settings
    from backend.services import storage
    from backend.services.blobs import LocalFolder, S3Bucket

    if not to.startswith("s3://"):
        raise typer.BadParameter("an s3://bucket/prefix URL", param_hint="--to")
    counts = storage.copy(LocalFolder(get_settings().data_dir), S3Bucket(to))
    typer.echo(f"copied {counts['copied']} files, skipped {counts['skipped']} already there")


@app.command()
def predict(
    paths: Annotated[list[str], typer.Argument(help="Image files, and folders to walk for images.")],
    url: Annotated[str | None, typer.Option(help="A running ClosetChat server; default: the local model.")] = None,
    api_key: Annotated[str | None, typer.Option(envvar="CLOSETCHAT_API_KEY", help="Key for --url.")] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Files per request (the server takes 16 by default).")] = 16,
    store: Annotated[bool, typer.Option(help="With --url: keep the photos in the server's history (--no-store: classify only).")] = True,
    output: Annotated[str, typer.Option("--format", help="jsonl (one JSON object a line) | csv")] = "jsonl",
) -> None:
    """Classify image files; one JSON line per file (errors included) on standard output. Exit code 1
    when any file could not be answered, 2 when the server could not be used."""
    from backend.predict_cli import ServerUnusable, expand, predict_local, predict_remote, set_format

    if output not in ("jsonl", "csv"):
        raise typer.BadParameter("jsonl or csv", param_hint="--format")
    set_format(output)
    files = expand(paths)
    try:
        code = predict_remote(files, url, api_key, batch_size, store) if url else predict_local(files, batch_size)
    except ServerUnusable as exc:
        typer.echo(f"closetchat predict: {exc}", err=True)
        raise typer.Exit(2) from None
    raise typer.Exit(code)

if __name__ == "__main__":
    app()
