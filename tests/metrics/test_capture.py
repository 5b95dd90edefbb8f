"""Raw request/response capture for extra_fields.raw_request / raw_response."""

from __future__ import annotations

import base64
import hashlib

import orjson

from metrics.capture import capture_request, capture_response
from metrics.redact import REDACTED

SECRET = "sk-test-0123456789abcdefghijklmnop"
AUTH = {"Authorization": f"Bearer {SECRET}", "User-Agent": "OpenAI/Python 2.0"}


def multipart(boundary: str, parts: list[tuple[str, str | None, str | None, bytes]]) -> bytes:
    out = b""
    for name, filename, ctype, data in parts:
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        out += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n".encode()
        if ctype:
            out += f"Content-Type: {ctype}\r\n".encode()
        out += b"\r\n" + data + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


def test_json_request_redacted_and_summarised() -> None:
    image = b"\x89PNG\r\n" + bytes(5000)
    body = orjson.dumps(
        {
            "prompt": "a red fox",
            "model": "sora-2",
            "input_reference": {
                "image_url": "data:image/png;base64," + base64.b64encode(image).decode()
            },
        }
    )
    cap = capture_request(
        "POST", "/v1/videos?api-key=hunter2&x=1", AUTH, body, "application/json", 4096
    )
    assert cap["headers"]["Authorization"] == f"Bearer {REDACTED}"
    assert "hunter2" not in cap["path"] and "x=1" in cap["path"]
    assert cap["body"]["prompt"] == "a red fox"
    ref = cap["body"]["input_reference"]["image_url"]
    assert ref["bytes"] == len(image) and ref["sha256"] == hashlib.sha256(image).hexdigest()
    assert cap["truncated"] is False and cap["body_bytes"] == len(body)
    assert SECRET not in orjson.dumps(cap).decode()


def test_multipart_file_part_summarised_text_kept() -> None:
    video_ref = bytes(range(256)) * 100
    body = multipart(
        "BOUNDARY123",
        [
            ("prompt", None, None, b"a calm lake"),
            ("model", None, None, b"sora-2"),
            ("api_key", None, None, SECRET.encode()),
            ("input_reference", "ref.png", "image/png", video_ref),
        ],
    )
    cap = capture_request(
        "POST", "/v1/videos", AUTH, body, "multipart/form-data; boundary=BOUNDARY123", 4096
    )
    parts = cap["body"]["parts"]
    assert parts[0] == {"name": "prompt", "value": "a calm lake"}
    assert parts[1] == {"name": "model", "value": "sora-2"}
    assert parts[2] == {"name": "api_key", "value": REDACTED}
    assert parts[3] == {
        "name": "input_reference",
        "filename": "ref.png",
        "content_type": "image/png",
        "bytes": len(video_ref),
        "sha256": hashlib.sha256(video_ref).hexdigest(),
    }
    assert SECRET not in orjson.dumps(cap).decode()


def test_binary_response_is_size_and_hash_only() -> None:
    mp4 = b"\x00\x00\x00\x18ftypmp42" + bytes(10_000)
    cap = capture_response(200, {"Content-Type": "video/mp4"}, mp4, "video/mp4", 1024)
    assert cap["body"] == {"bytes": len(mp4), "sha256": hashlib.sha256(mp4).hexdigest()}
    assert cap["truncated"] is False and cap["status"] == 200


def test_oversized_body_truncated_with_marker() -> None:
    body = orjson.dumps({"data": [{"id": f"video_{i}", "status": "queued"} for i in range(500)]})
    cap = capture_response(200, {"set-cookie": "sid=1"}, body, "application/json", 256)
    assert cap["truncated"] is True
    assert cap["body"]["bytes"] == len(body)
    assert cap["body"]["sha256"] == hashlib.sha256(body).hexdigest()
    assert len(cap["body"]["preview"]) <= 256
    assert cap["headers"]["set-cookie"] == REDACTED
    assert len(orjson.dumps(cap)) < 1024


def test_no_body_and_invalid_json() -> None:
    cap = capture_request("DELETE", "/v1/videos/v1", AUTH, None, "application/json", 100)
    assert cap["body"] is None and cap["body_bytes"] is None and cap["truncated"] is False
    bad = capture_response(502, {}, b"<html>bad gateway", "application/json", 100)
    assert bad["body"]["invalid_json"] is True and bad["body"]["bytes"] == 17
