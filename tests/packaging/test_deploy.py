"""The deployment files: what can run here runs (`closetchat migrate` as the one-off step, then an app
that does not migrate), and what needs Docker is held to its promises by reading the files."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import yaml
from fastapi.testclient import TestClient

from backend.core.config import Settings
from backend.main import create_app
from tests.conftest import ROOT, database_url_for_test, jpeg_bytes


def test_migrate_once_then_replicas_start_without_migrating(tmp_path, classifier):
    url = database_url_for_test(tmp_path)
    env = {**os.environ, "CLOSETCHAT_DATA_DIR": str(tmp_path / "data")} | ({"CLOSETCHAT_DATABASE_URL": url} if url else {})
    out = subprocess.run([sys.executable, "-m", "backend.cli", "migrate"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "newest schema" in out.stdout, out.stderr[-2000:]
    settings = Settings(data_dir=tmp_path / "data", database_url=url, secret_key="t", migrate_on_start=False)
    with TestClient(create_app(settings, classifier=classifier)) as client:
        r = client.post("/api/v1/predictions", files=[("files", ("a.jpg", jpeg_bytes(), "image/jpeg"))])
        assert r.status_code == 200 and r.json()["results"][0]["id"]  # stored: the tables are there


def test_compose_migrates_once_scales_behind_a_proxy_and_has_no_default_passwords():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    app, migrate, proxy = services["app"], services["migrate"], services["proxy"]
    assert migrate["command"] == ["closetchat", "migrate"] and migrate["restart"] == "no"
    assert app["environment"]["CLOSETCHAT_MIGRATE_ON_START"] == "false"
    assert app["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert app["restart"] == "unless-stopped" and "ports" not in app  # only the proxy publishes a port: --scale works
    # replicas share the database and a bucket, no volume: they may run on several hosts
    objects = services["objects"]
    assert objects["image"].startswith("chrislusf/seaweedfs") and "-s3" in objects["command"] and "ports" not in objects
    assert "volumes" not in app and app["environment"]["CLOSETCHAT_STORAGE_URL"].startswith("s3://")
    assert app["environment"]["AWS_ENDPOINT_URL"] == "http://objects:8333" and "objects" in app["depends_on"]
    assert app["environment"]["AWS_SECRET_ACCESS_KEY"] == objects["environment"]["AWS_SECRET_ACCESS_KEY"]
    assert proxy["image"].startswith("caddy:") and (ROOT / "deploy" / "Caddyfile").exists()
    assert "dynamic a app 8000" in (ROOT / "deploy" / "Caddyfile").read_text()
    text = (ROOT / "docker-compose.yml").read_text()
    assert re.findall(r"PASSWORD: (.+)", text) == ["${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD in .env}"]
    example = dict(line.split("=", 1) for line in (ROOT / ".env.example").read_text().splitlines()
                   if line and not line.startswith("#"))
    assert example["POSTGRES_PASSWORD"] == "" and example["CLOSETCHAT_SECRET_KEY"] == ""
    assert example["S3_ACCESS_KEY"] == "" and example["S3_SECRET_KEY"] == ""
    assert re.findall(r"SECRET_ACCESS_KEY: (.+)", text) == ["${S3_SECRET_KEY:?set S3_SECRET_KEY in .env}"] * 2


def test_image_serves_without_torch_as_a_user_with_a_liveness_check():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "torch" not in dockerfile.replace("no torch", "")
    assert re.search(r"^USER closetchat$", dockerfile, re.M)
    health = re.search(r"^HEALTHCHECK (.*?)\n\s+CMD (.*)$", dockerfile, re.M)
    assert "--start-period=" in health.group(1) and "/healthz" in health.group(2)
    assert "PROMETHEUS_MULTIPROC_DIR" in dockerfile
    assert "pip install -c /wheels/requirements.lock /wheels/*.whl" in dockerfile
