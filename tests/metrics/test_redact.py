"""Redaction of headers, log events and bulky JSON."""

from __future__ import annotations

import base64
import hashlib

from multidict import CIMultiDict

from metrics.redact import (
    REDACTED,
    redact_event,
    redact_headers,
    scrub_text,
    summarize_json,
    summarize_multipart_part,
)

SECRET = "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789"


def test_redact_headers_keeps_scheme_and_identifiers() -> None:
    headers = CIMultiDict(
        [
            ("Authorization", f"Bearer {SECRET}"),
            ("Proxy-Authorization", "Basic dXNlcjpwYXNz"),
            ("api-key", SECRET),
            ("X-Api-Key", SECRET),
            ("Cookie", "session=abc; other=def"),
            ("Set-Cookie", "a=1"),
            ("Set-Cookie", "b=2"),
            ("OpenAI-Organization", "org-123"),
            ("OpenAI-Project", "proj_456"),
            ("Content-Type", "application/json"),
        ]
    )
    out = redact_headers(headers)
    assert out["Authorization"] == f"Bearer {REDACTED}"
    assert out["Proxy-Authorization"] == f"Basic {REDACTED}"
    assert out["api-key"] == REDACTED
    assert out["X-Api-Key"] == REDACTED
    assert out["Cookie"] == REDACTED
    assert out["Set-Cookie"] == f"{REDACTED}, {REDACTED}"
    assert out["OpenAI-Organization"] == "org-123"
    assert out["OpenAI-Project"] == "proj_456"
    assert out["Content-Type"] == "application/json"
    assert SECRET not in repr(out) and "session=abc" not in repr(out)


def test_redact_event_covers_keys_nesting_and_free_text() -> None:
    event = {
        "event": "upstream_call",
        "headers": {"authorization": f"Bearer {SECRET}", "accept": "*/*"},
        "response_headers": [("set-cookie", "sid=1")],
        "api_key": SECRET,
        "Authorization": f"Bearer {SECRET}",
        "request": {"headers": {"x-api-key": SECRET}, "cookie": "sid=1"},
        "error": f"upstream said: invalid key {SECRET} (Authorization: Bearer {SECRET})",
        "input_tokens": 12,
    }
    out = redact_event(None, "info", dict(event))
    assert SECRET not in repr(out) and "sid=1" not in repr(out)
    assert out["headers"] == {"authorization": f"Bearer {REDACTED}", "accept": "*/*"}
    assert out["Authorization"] == f"Bearer {REDACTED}"
    assert out["input_tokens"] == 12  # "token"-ish names that are not secrets stay


def test_data_url_summarised_with_size_and_sha256() -> None:
    payload = bytes(range(256)) * 40  # 10,240 bytes
    url = "data:image/png;base64," + base64.b64encode(payload).decode()
    body = {
        "prompt": "a cat",
        "input_reference": {"image_url": url},
        "images": [url],
        "api_key": SECRET,
    }
    out = summarize_json(body, max_string=64)
    expected = {
        "data_url": True,
        "content_type": "image/png",
        "bytes": len(payload),
        "sha256": hashlib.sha256(payload).hexdigest(),
    }
    assert out["input_reference"]["image_url"] == expected
    assert out["images"] == [expected]
    assert out["prompt"] == "a cat"
    assert out["api_key"] == REDACTED
    assert "base64," not in repr(out)


def test_long_strings_truncated() -> None:
    out = summarize_json({"prompt": "x" * 1000}, max_string=10)
    assert out["prompt"].startswith("x" * 10) and len(out["prompt"]) < 50
    assert "990" in out["prompt"]


def test_multipart_part_summary_has_no_bytes() -> None:
    digest = hashlib.sha256(b"\x89PNG...").hexdigest()
    part = summarize_multipart_part("input_reference", "cat.png", "image/png", 7, digest)
    assert part == {
        "name": "input_reference",
        "filename": "cat.png",
        "content_type": "image/png",
        "bytes": 7,
        "sha256": digest,
    }


def test_tokens_in_free_text_are_scrubbed_whatever_their_case() -> None:
    token = "dXNlcjpwYXNzd29yZA"
    for text in (f"BEARER {token}", f"BASIC {token}", f"bearer {token}", f"Basic {token}"):
        out = redact_event(None, "info", {"error": f"upstream said {text} is wrong"})
        assert token not in out["error"], text
        assert scrub_text(f"-> {text}") != f"-> {text}"
