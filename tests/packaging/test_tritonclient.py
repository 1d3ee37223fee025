"""Triton's own client, `tritonclient[http]` from PyPI (in a venv of its own: it brings gevent),
talks to a real ClosetChat server as to Triton: health, metadata, and inference with its default
binary tensors, encoded images (BYTES) and pixel arrays (UINT8 [N,28,28]), outputs binary or JSON."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import fashion_png

CALLS = """
import json, sys
import numpy as np
import tritonclient.http as triton

client = triton.InferenceServerClient(url=sys.argv[1])
png, pixels = open(sys.argv[2], "rb").read(), np.load(sys.argv[3])
images = triton.InferInput("image", [2], "BYTES")
images.set_data_from_numpy(np.array([png, png], dtype=object))
by_image = client.infer("fashion-mnist", [images])  # binary in, binary out (the client's default)
arrays = triton.InferInput("pixels", list(pixels.shape), "UINT8")
arrays.set_data_from_numpy(pixels)
by_pixels = client.infer("fashion-mnist", [arrays], outputs=[triton.InferRequestedOutput("label", binary_data=False),
                                                             triton.InferRequestedOutput("probs")])
version = client.get_model_metadata("fashion-mnist")["versions"][0]
by_version = client.infer("fashion-mnist", [arrays], model_version=version)
try:
    client.infer("no-such-model", [arrays])
    missing = None
except triton.InferenceServerException as exc:
    missing = exc.status()
print(json.dumps({
    "live": client.is_server_live(), "ready": client.is_server_ready(), "model_ready": client.is_model_ready("fashion-mnist"),
    "inputs": [i["name"] for i in client.get_model_metadata("fashion-mnist")["inputs"]],
    "image_labels": [v.decode() for v in by_image.as_numpy("label")],
    "image_probs": by_image.as_numpy("probs").tolist(),
    "pixel_labels": [v if isinstance(v, str) else v.decode() for v in by_pixels.as_numpy("label")],
    "pixel_probs_shape": list(by_pixels.as_numpy("probs").shape), "missing": missing,
    "by_version": by_version.get_response()["model_version"] == version}))
"""


@pytest.mark.slow
def test_tritonclient_classifies_images_and_pixels(server, classifier, fashion_test, tmp_path):
    tool = tmp_path / "tritonclient"
    subprocess.run([sys.executable, "-m", "venv", str(tool)], check=True)
    subprocess.run([tool / "bin" / "pip", "install", "-q", "tritonclient[http]"], check=True, timeout=400)
    (tmp_path / "boot.png").write_bytes(fashion_png(fashion_test, 0))
    np.save(tmp_path / "pixels.npy", fashion_test.images[:4])
    (tmp_path / "calls.py").write_text(CALLS)
    run = subprocess.run([tool / "bin" / "python", "calls.py", server.removeprefix("http://"), "boot.png", "pixels.npy"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    got = json.loads(run.stdout)
    assert got["live"] and got["ready"] and got["model_ready"] and got["inputs"] == ["image", "pixels"]
    assert got["image_labels"] == ["Ankle boot", "Ankle boot"] and abs(sum(got["image_probs"][0]) - 1) < 1e-4
    local = classifier.predict_arrays(fashion_test.images[:4]).argmax(axis=1)  # the same graph, here
    assert got["pixel_labels"] == [classifier.labels[i] for i in local]
    assert got["pixel_probs_shape"] == [4, 10] and got["missing"] == "404" and got["by_version"]
