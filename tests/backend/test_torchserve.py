"""TorchServe's inference API as its users call it, with curl itself over real HTTP: `curl -T` (a PUT
with no content type), `--data-binary` (a form's content type) and `-F data=@...`; top-5 answers."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.conftest import fashion_png


def _curl(*args: str) -> tuple[int, dict]:
    out = subprocess.run(["curl", "-s", "-w", "\n%{http_code}", *args], capture_output=True, text=True, timeout=60).stdout
    body, status = out.rsplit("\n", 1)
    return int(status), json.loads(body)


@pytest.mark.slow
def test_curl_as_torchserve_users_call_it(server, fashion_test, tmp_path):
    photo = tmp_path / "boot.png"
    photo.write_bytes(fashion_png(fashion_test, 0))
    url = server + "/predictions/fashion-mnist"
    for args in (["-T", str(photo), url], ["--data-binary", f"@{photo}", url], ["-F", f"data=@{photo}", url]):
        status, body = _curl(*args)
        assert status == 200, (args, body)
        assert len(body) == 5 and next(iter(body)) == "Ankle boot" and list(body.values()) == sorted(body.values(), reverse=True)
    assert _curl(server + "/ping") == (200, {"status": "Healthy"})
    status, body = _curl("-T", str(photo), server + "/predictions/resnet-18")
    assert status == 404 and body["message"] == "Model not found: resnet-18"
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    status, body = _curl("--data-binary", f"@{empty}", url)
    assert status == 422 and set(body) == {"code", "type", "message"}
