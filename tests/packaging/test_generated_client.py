"""A client generated from /openapi.json by openapi-python-client (from PyPI, in a venv of its own:
it pins httpx and typer below this project's) classifies a photo against a real server, through
both request bodies the spec offers (a multipart form and a raw body), and reads the model."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx
import pytest

from tests.conftest import fashion_png

CALLS = """
import io, json, sys
from closetchat_client import AuthenticatedClient
from closetchat_client.api.model import model_info
from closetchat_client.api.predictions import create_predictions, get_prediction
from closetchat_client.api.seed_compatible import models_fashion_mnist
from closetchat_client.models import BatchResult, CreatePredictionsFilesBody, ModelsFashionMnistBody
from closetchat_client.types import File

png = open(sys.argv[2], "rb").read()
client = AuthenticatedClient(base_url=sys.argv[1], token="any-key-in-local-mode")
form = create_predictions.sync(client=client, top_k=2, body=CreatePredictionsFilesBody(
    files=[File(payload=io.BytesIO(png), file_name="boot.png", mime_type="image/png")]))
raw = create_predictions.sync(client=client, body=File(payload=io.BytesIO(png), file_name="boot.png"))
assert isinstance(form, BatchResult) and isinstance(raw, BatchResult), (form, raw)
again = get_prediction.sync(form.results[0].id, client=client, top_k=10)
seed = models_fashion_mnist.sync(client=client, body=ModelsFashionMnistBody(file=File(payload=io.BytesIO(png),
                                                                                   file_name="b.png")))
print(json.dumps({"form": form.results[0].label, "form_top_k": len(form.results[0].top_k),
                  "raw": raw.results[0].label, "again_top_k": len(again.top_k), "seed": seed.label,
                  "model": model_info.sync(client=client).version}))
"""


@pytest.mark.slow
def test_generated_client_classifies_a_photo(server, fashion_test, tmp_path):
    tool = tmp_path / "generator"
    subprocess.run([sys.executable, "-m", "venv", str(tool)], check=True)
    subprocess.run([tool / "bin" / "pip", "install", "-q", "openapi-python-client"], check=True, timeout=400)
    (tmp_path / "openapi.json").write_text(httpx.get(server + "/openapi.json").text)
    generated = subprocess.run([tool / "bin" / "openapi-python-client", "generate", "--path", "openapi.json",
                                "--output-path", "closetchat_client", "--meta", "none"],
                               cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert generated.returncode == 0, generated.stdout[-3000:] + generated.stderr[-2000:]
    (tmp_path / "boot.png").write_bytes(fashion_png(fashion_test, 0))
    (tmp_path / "calls.py").write_text(CALLS)
    run = subprocess.run([tool / "bin" / "python", "calls.py", server, "boot.png"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    answers = json.loads(run.stdout)
    assert answers["form"] == answers["raw"] == answers["seed"] == "Ankle boot"
    assert answers["form_top_k"] == 2 and answers["again_top_k"] == 10 and answers["model"]
