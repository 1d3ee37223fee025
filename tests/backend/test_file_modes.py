"""What the server writes is readable by its own user only (#28 Low 11): the data folder 0700 and
the cookie-signing secret 0600, whatever the umask."""

import os
import stat

from backend.core.config import Settings
from tests.conftest import csrf_of, fashion_png


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_data_dir_and_secret_are_private(make_client, tmp_path, fashion_test):
    old = os.umask(0o022)
    try:
        settings = Settings(data_dir=tmp_path / "data", secret_key=None, api_keys=[])
        client = make_client(settings)
        token = csrf_of(client)
        client.post("/c", data={"csrf_token": token}, files={"files": ("b.png", fashion_png(fashion_test, 0), "image/png")})
    finally:
        os.umask(old)
    data = tmp_path / "data"
    assert _mode(data) == 0o700
    assert _mode(data / "secret_key") == 0o600
    for folder in ("uploads", "thumbs", "incoming"):
        assert _mode(data / folder) == 0o700


def test_an_existing_world_readable_data_dir_is_closed(tmp_path):
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    Settings(data_dir=data, secret_key="x").ensure_dirs()
    assert _mode(data) == 0o700
