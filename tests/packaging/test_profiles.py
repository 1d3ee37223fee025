"""The install profiles in pyproject.toml: the default install serves without torch, and every
package folder in the repo is listed for the wheel (the list is explicit because frontend/ and
alembic/ are mapped into it under other names)."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib

from tests.conftest import ROOT

PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _names(requirements: list[str]) -> set[str]:
    return {r.split("[")[0].split("=")[0].split(">")[0].split("<")[0].strip().lower() for r in requirements}


def test_default_install_serves_without_torch_and_train_adds_it():
    serve = _names(PROJECT["project"]["dependencies"])
    assert {"onnxruntime", "fastapi", "uvicorn", "pillow", "pillow-heif", "simplejpeg", "sqlmodel", "alembic",
            "psycopg"} <= serve
    assert not serve & {"torch", "torchvision", "onnx", "opencv-python", "opencv-python-headless"}
    train = PROJECT["project"]["optional-dependencies"]["train"]
    assert {"torch==2.14.1", "torchvision==0.29.1"} <= set(train)
    assert "onnx" in _names(train)


def test_the_lock_pins_every_serving_dependency_and_no_torch():
    """requirements.lock (scripts/lock.sh) pins one version of each package the serve profile needs."""
    pins = [line for line in (ROOT / "requirements.lock").read_text().splitlines() if line and not line.startswith("#")]
    assert all(re.fullmatch(r"[A-Za-z0-9_.\-]+==[^=\s]+", pin) for pin in pins)
    locked = {pin.split("==")[0].lower().replace("_", "-") for pin in pins}
    assert _names(PROJECT["project"]["dependencies"]) <= locked
    assert "torch" not in locked and "closetchat" not in locked


def test_every_package_folder_goes_into_the_wheel():
    listed = set(PROJECT["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for top in ("backend", "ml") for p in (ROOT / top).rglob("*.py")}
    assert found <= listed, f"add to [tool.setuptools] packages: {sorted(found - listed)}"
    assert PROJECT["tool"]["setuptools"]["package-dir"] == {"closetchat_frontend": "frontend",
                                                            "closetchat_migrations": "alembic"}


def test_serving_and_the_command_line_never_import_torch(tmp_path):
    """The app answers a prediction (ONNX Runtime) and the CLI loads, with torch never imported: a
    serve-only install has none."""
    code = """
import io, sys
from fastapi.testclient import TestClient
from PIL import Image
from backend.core.config import Settings
from backend.main import create_app
import backend.cli
buf = io.BytesIO(); Image.new("L", (28, 28)).save(buf, "PNG")
with TestClient(create_app(Settings(data_dir=sys.argv[1], secret_key="t"))) as client:
    r = client.post("/fashion-mnist", files={"file": ("x.png", buf.getvalue(), "image/png")})
    assert r.status_code == 200, r.text
assert "torch" not in sys.modules, "serving imported torch"
print("ok")
"""
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "data")], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]
