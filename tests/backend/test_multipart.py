"""The streaming form reader on its own: bodies arrive in small chunks, as from a socket."""

import asyncio

from starlette.requests import Request

from backend.services.multipart import read_form

BOUNDARY = "testboundary"


def _body(files: dict[str, bytes]) -> bytes:
    parts = [f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
             f"Content-Type: application/octet-stream\r\n\r\n".encode() + data + b"\r\n" for name, data in files.items()]
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


def _read(body: bytes, tmp_path, chunk: int, memory_budget: int):
    chunks = [body[i:i + chunk] for i in range(0, len(body), chunk)]

    async def receive():
        data = chunks.pop(0) if chunks else b""
        return {"type": "http.request", "body": data, "more_body": bool(chunks)}

    scope = {"type": "http", "method": "POST", "path": "/", "headers": [
        (b"content-type", f"multipart/form-data; boundary={BOUNDARY}".encode()),
        (b"content-length", str(len(body)).encode())]}
    return asyncio.run(read_form(Request(scope, receive), tmp_path, 10_000, 4, memory_budget=memory_budget))


def test_files_stay_in_memory_within_the_budget_and_spill_whole_past_it(tmp_path):
    first, second, third = bytes(range(256)) * 3, b"\x07" * 500 + bytes(range(200)), b"z" * 300
    form = _read(_body({"a.bin": first, "b.bin": second, "c.bin": third}), tmp_path, chunk=97, memory_budget=1000)
    a, b, c = form.files
    assert a.data == first and not a.path.exists()  # 768 bytes: in memory
    assert b.data is None and b.path.read_bytes() == second  # spilled after 232 bytes in memory
    assert c.data is None and c.path.read_bytes() == third  # budget spent: straight to disk
    assert [f.size for f in form.files] == [768, 700, 300]
    form.cleanup()
    assert list(tmp_path.iterdir()) == []
