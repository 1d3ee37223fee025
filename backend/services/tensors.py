"""The Open Inference Protocol's (KServe v2, Triton) request and response bodies: JSON tensors, and
the binary tensor extension that Triton's own client uses by default (a JSON header whose length is in
the Inference-Header-Content-Length header, then each tensor's raw bytes; a BYTES element is a 4-byte
little-endian length and its bytes). Only the two input kinds this model takes are decoded: encoded
images (BYTES) and Fashion-MNIST pixels (UINT8 [N,28,28])."""

from __future__ import annotations

import base64
import json
import struct
from dataclasses import dataclass

import numpy as np

from backend.core.errors import BadForm

HEADER = "inference-header-content-length"


@dataclass
class Tensor:
    name: str
    datatype: str
    shape: list[int]
    value: np.ndarray | list[bytes]


def parse_request(body: bytes, header_length: str | None) -> tuple[dict, list[Tensor]]:
    """The request's JSON and its inputs, whether sent as JSON data or as binary tensors."""
    size = int(header_length) if header_length and header_length.isdigit() else len(body)
    try:
        request = json.loads(body[:size])
    except ValueError as exc:
        raise BadForm(f"the inference request is not JSON: {exc}") from None
    if not isinstance(request, dict) or not isinstance(request.get("inputs"), list) or not request["inputs"]:
        raise BadForm("an inference request needs a list of inputs")
    blob, at, tensors = body[size:], 0, []
    for spec in request["inputs"]:
        try:  # whatever shape a client's JSON takes, a malformed request is a 400, never a 500
            raw_size = (spec.get("parameters") or {}).get("binary_data_size")
            if raw_size is not None:
                raw, at = blob[at:at + int(raw_size)], at + int(raw_size)
                tensors.append(_from_bytes(spec, raw))
            else:
                tensors.append(_from_json(spec))
        except (AttributeError, TypeError, ValueError, OverflowError) as exc:
            raise BadForm(f"malformed input: {exc}") from None
    return request, tensors


def _spec(spec: dict) -> tuple[str, str, list[int]]:
    try:
        return str(spec["name"]), str(spec["datatype"]).upper(), [int(d) for d in spec["shape"]]
    except (KeyError, TypeError, ValueError):
        raise BadForm("each input needs a name, a datatype and a shape") from None


def _from_bytes(spec: dict, raw: bytes) -> Tensor:
    name, datatype, shape = _spec(spec)
    if datatype == "UINT8":
        if len(raw) != int(np.prod(shape)):
            raise BadForm(f"input {name}: {len(raw)} bytes for shape {shape}")
        return Tensor(name, datatype, shape, np.frombuffer(raw, dtype=np.uint8).reshape(shape))
    if datatype == "BYTES":
        items, at = [], 0
        while at + 4 <= len(raw):
            (length,) = struct.unpack_from("<I", raw, at)
            items.append(raw[at + 4:at + 4 + length])
            at += 4 + length
        return Tensor(name, datatype, shape, items)
    raise BadForm(f"input {name}: datatype {datatype} is not taken (BYTES images or UINT8 [N,28,28])")


def _from_json(spec: dict) -> Tensor:
    name, datatype, shape = _spec(spec)
    data = spec.get("data")
    if datatype == "UINT8":
        try:
            return Tensor(name, datatype, shape, np.asarray(data, dtype=np.uint8).reshape(shape))
        except (TypeError, ValueError, OverflowError):
            raise BadForm(f"input {name}: data does not fit shape {shape} as values 0 to 255") from None
    if datatype == "BYTES":  # JSON carries bytes as strings: an encoded image as base64
        flat = np.asarray(data, dtype=object).ravel().tolist() if data is not None else []
        try:
            return Tensor(name, datatype, shape, [base64.b64decode(item, validate=True) for item in flat])
        except (TypeError, ValueError):
            raise BadForm(f"input {name}: BYTES data in JSON must be base64 strings") from None
    raise BadForm(f"input {name}: datatype {datatype} is not taken (BYTES images or UINT8 [N,28,28])")


def wants_binary(request: dict, output: str) -> bool:
    """Binary output when the request asks for it overall or for this output."""
    for spec in _dicts(request.get("outputs")):
        if spec.get("name") == output:
            return bool(_dict(spec.get("parameters")).get("binary_data", False))
    return bool(_dict(request.get("parameters")).get("binary_data_output", False))


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def _dicts(value) -> list[dict]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def encode_response(header: dict, outputs: list[tuple[dict, np.ndarray | list[bytes]]], request: dict) -> tuple[bytes, int | None]:
    """The response body and, when any output is binary, the JSON header's length."""
    blobs, specs = [], []
    for spec, value in outputs:
        if wants_binary(request, spec["name"]):
            raw = (b"".join(struct.pack("<I", len(v)) + v for v in value) if spec["datatype"] == "BYTES"
                   else np.ascontiguousarray(value).tobytes())
            specs.append({**spec, "parameters": {"binary_data_size": len(raw)}})
            blobs.append(raw)
        else:
            data = [v.decode() for v in value] if spec["datatype"] == "BYTES" else np.asarray(value).ravel().tolist()
            specs.append({**spec, "data": data})
    head = json.dumps({**header, "outputs": specs}).encode()
    return head + b"".join(blobs), (len(head) if blobs else None)
