"""The wheel runs from anywhere: built from a copy of the sources, installed with the serve profile
(from the package registry, pinned by requirements.lock) into a fresh venv, started with `closetchat
serve` in an empty directory outside the repo; it must find its templates, static files, migrations
and both graphs inside itself, and needs no torch. Real build, real install, real HTTP."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT, free_port

SOURCES = ("pyproject.toml", "README.md", "backend", "ml", "frontend", "alembic")
SERVE_VENV_MB = 600  # the serve profile's budget (issue #27); about 350 MB when written


def _build_wheel(tmp: Path) -> Path:
    """From a copy, so nothing (build/, egg-info) is written into the repo."""
    src = tmp / "src"
    src.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy(ROOT / name, src / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(tmp / "dist"),
                    str(src)], check=True, timeout=300)
    return next((tmp / "dist").glob("closetchat-*.whl"))


def _serve_install(tmp: Path, wheel: Path) -> Path:
    """`pip install -c requirements.lock closetchat-*.whl` into a new venv, as the Dockerfile does."""
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "-q",
                    "-c", str(ROOT / "requirements.lock"), str(wheel)], check=True, timeout=500)
    return venv


def _megabytes(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink()) / 2**20


def _wait_ready(base: str, proc: subprocess.Popen) -> None:
    deadline = time.time() + 90
    while time.time() < deadline and proc.poll() is None:
        try:
            if httpx.get(base + "/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise AssertionError("installed server did not become ready: " + proc.communicate()[0].decode()[-3000:])


@pytest.mark.slow
def test_wheel_holds_every_file_the_app_reads(tmp_path):
    names = set(zipfile.ZipFile(_build_wheel(tmp_path)).namelist())
    wanted = {f"closetchat_frontend/{p.relative_to(ROOT / 'frontend')}" for p in (ROOT / "frontend").rglob("*") if p.is_file()}
    wanted |= {f"closetchat_migrations/{p.relative_to(ROOT / 'alembic')}" for p in (ROOT / "alembic").rglob("*.py")}
    wanted |= {str(p.relative_to(ROOT)) for p in (ROOT / "ml" / "weights").rglob("*") if p.is_file()}
    wanted |= {str(p.relative_to(ROOT)) for top in ("backend", "ml") for p in (ROOT / top).rglob("*.py")}
    assert "ml/weights/dataset/model.onnx" in wanted
    assert not wanted - names, sorted(wanted - names)[:20]


@pytest.mark.slow
def test_serve_profile_install_serves_from_an_empty_directory(tmp_path):
    venv = _serve_install(tmp_path, _build_wheel(tmp_path))
    where = subprocess.run([venv / "bin" / "python", "-c", "import backend, ml; print(backend.__file__, ml.__file__)"],
                           cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    assert str(ROOT) not in where and str(venv) in where
    site = next((venv / "lib").glob("python3*/site-packages"))
    assert not list(site.glob("torch*")) and not list(site.glob("nvidia*"))
    assert _megabytes(venv) < SERVE_VENV_MB
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOSETCHAT_")} | {"PYTHONPATH": ""}
    port = free_port()
    proc = subprocess.Popen([venv / "bin" / "closetchat", "serve", "--port", str(port), "--log-level", "warning"],
                            cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base, proc)
        examples = ROOT / "frontend" / "static" / "examples"
        example = json.loads((examples / "examples.json").read_text())[0]
        r = httpx.post(base + "/fashion-mnist", files={"file": (example["file"], (examples / example["file"]).read_bytes(),
                                                                "image/png")})
        assert r.status_code == 200 and r.json()["label"] == example["label"]
        model = httpx.get(base + "/api/v1/model").json()
        assert model["dataset_graph"]["version"] != model["version"]  # the dataset/ graph shipped too
        page = httpx.get(base + "/")
        assert page.status_code == 200 and "<form" in page.text
        assert httpx.get(base + "/static/app.css").status_code == 200
        assert (workdir / "var" / "closetchat.db").exists()  # migrated, in the working directory's ./var
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
