"""The work of `closetchat predict`: image files and folders in, one JSON line per file out.

Against a server (--url) the files go BATCH at a time in one request each: the server classifies a
request's images in one forward pass, and one request per file cost 4.3× as long. Folders are walked
recursively for image files. The exit code tells a script what happened: 0 every file answered,
1 some file was refused or unreadable (its line says why), 2 the server could not be used at all.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterator
from pathlib import Path

BATCH = 16  # the server's default CLOSETCHAT_MAX_FILES
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp", ".tif", ".tiff", ".heic", ".heif", ".avif"}


class ServerUnusable(Exception):
    """The server could not be reached or refused every request (a wrong URL, a bad key)."""


def expand(paths: list[str]) -> list[Path]:
    """Files as given (whatever their name), and the image files under each folder, sorted."""
    out: list[Path] = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            out += sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        else:
            out.append(path)
    return out


def batches(files: list[Path], size: int) -> Iterator[list[Path]]:
    for start in range(0, len(files), size):
        yield files[start:start + size]


CSV_COLUMNS = ("path", "label", "confidence", "unsure", "model_version", "id", "error")
_csv: csv.DictWriter | None = None  # set by set_format("csv"): lines as CSV rows instead of JSON


def set_format(fmt: str) -> None:
    """jsonl, or csv on standard output from here on, with a header row (for spreadsheets)."""
    global _csv
    _csv = None
    if fmt == "csv":
        _csv = csv.DictWriter(sys.stdout, CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
        _csv.writeheader()


def emit(entry: dict) -> bool:
    """Print one line (JSON, or a CSV row); True when it is an answer, not an error."""
    ok = "error" not in entry and "status" not in entry
    if _csv is None:
        print(json.dumps(entry), flush=True)
    else:
        _csv.writerow({**entry, "error": "" if ok else entry.get("error") or f"{entry['status']}: {entry.get('detail')}"})
        sys.stdout.flush()
    return ok


def progress(done: int, total: int) -> None:
    if sys.stderr.isatty():
        print(f"\r{done}/{total} files", end="" if done < total else "\n", file=sys.stderr, flush=True)


def predict_remote(files: list[Path], url: str, api_key: str | None, batch: int = BATCH, store: bool = True) -> int:
    """Send the files to a running server, BATCH per request (kept in its history unless store is
    False); the exit code (see the module)."""
    import httpx

    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    ok, done = True, 0
    try:
        with httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=120,
                          params={} if store else {"store": "false"}) as client:
            for group in batches(files, batch):
                ok &= _send(client, group)
                done += len(group)
                progress(done, len(files))
    except (httpx.TransportError, httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
        raise ServerUnusable(f"cannot reach {url}: {exc or type(exc).__name__} (is the server running, is the URL right?)") from None
    return 0 if ok else 1


def _send(client, group: list[Path]) -> bool:
    """One request for a group of files; their lines in the order given."""
    entries: list[dict | None] = [None] * len(group)
    readable: list[tuple[int, bytes]] = []
    for i, path in enumerate(group):
        try:
            readable.append((i, path.read_bytes()))
        except OSError as exc:
            entries[i] = {"error": "no such file" if isinstance(exc, FileNotFoundError) else exc.strerror or str(exc)}
    if readable:
        r = client.post("/api/v1/predictions", files=[("files", (group[i].name, data)) for i, data in readable])
        body = _json(r)
        if "results" not in body and not (r.status_code in (413, 415, 422) and "detail" in body):  # not about the files
            why = body.get("detail") or "not a ClosetChat answer; is the URL the server's root?"
            raise ServerUnusable(f"{r.request.url} answered {r.status_code}: {why}")
        results = body.get("results") or [{"status": r.status_code, "detail": body.get("detail")}] * len(readable)
        for (i, _), entry in zip(readable, results, strict=True):
            entries[i] = entry
    return all([emit({"path": str(path), **entry}) for path, entry in zip(group, entries, strict=True)])


def _json(r) -> dict:
    try:
        body = r.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def predict_local(files: list[Path], batch: int = BATCH) -> int:
    """Classify here with the shipped model, BATCH images per forward pass; the exit code."""
    from ml import Classifier, UnreadableImage, open_image

    clf = Classifier.load()
    ok, done = True, 0
    for group in batches(files, batch):
        entries: list[dict | None] = [None] * len(group)
        opened = []
        for i, path in enumerate(group):
            if not path.is_file():
                entries[i] = {"error": "no such file"}
                continue
            try:
                opened.append((i, open_image(path)))
            except (UnreadableImage, OSError) as exc:
                entries[i] = {"error": str(exc)}
        for (i, _), result in zip(opened, clf.predict([img for _, img in opened]), strict=True):
            entries[i] = {"label": result.label, "index": result.index, "confidence": round(result.confidence, 6),
                          "unsure": result.unsure, "probs": [round(p, 6) for p in result.probs],
                          "top_k": [{"label": name, "score": round(s, 6)} for name, s in result.top_k],
                          "model_version": result.model_version}
        ok &= all([emit({"path": str(path), **entry}) for path, entry in zip(group, entries, strict=True)])
        done += len(group)
        progress(done, len(files))
    return 0 if ok else 1
