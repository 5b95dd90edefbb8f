"""Credential-named query parameters, JSON keys, form fields and headers are recognised by
pattern (metrics.redact.is_secret_key), so a gateway's own spelling does not leak in a raw
capture or a log line, while the ordinary video fields and headers stay visible."""

from __future__ import annotations

from urllib.parse import parse_qsl

import orjson
import pytest

from metrics.capture import capture_request, redact_path
from metrics.redact import REDACTED, is_secret_key, redact_event, redact_headers

SECRET = "s3cr3t-value-0123456789"

# Names a reviewer found left in clear, plus the ones redacted before (kept).
LEAKED_QUERY = [
    "subscription-key",
    "access_key",
    "secret_key",
    "private_key",
    "api_token",
    "auth_token",
    "client_key",
    "sig",
]
LEAKED_JSON = ["auth_token", "access_key", "private_key", "api_token", "secret_key"]
ALREADY_REDACTED = ["key", "api-key", "api_key", "apikey", "access_token", "token"]
SECRET_NAMES = [
    *LEAKED_QUERY,
    *LEAKED_JSON,
    *ALREADY_REDACTED,
    "Ocp-Apim-Subscription-Key",
    "subscription_key",
    "Authorization",
    "proxy-authorization",
    "x-api-key",
    "x-goog-api-key",
    "x-bf-vk",
    "x-litellm-api-key",
    "cookie",
    "Set-Cookie",
    "password",
    "passwd",
    "secret",
    "client_secret",
    "refresh_token",
    "admin_token",
    "signature",
    "auth",
    "credential",
    "credentials",
    "X-Auth-Token",
    "x-functions-key",
    "private-token",
    "X-Amz-Signature",
    "X-Amz-Security-Token",
    "X-Amz-Credential",
    "accessToken",
    "authToken",
    "apiKey",
    "clientSecret",
    "secretkey",
    "accesstoken",
    "db_password_file",
    "api_keys",
    "api_key_2",
    "access_key_id",
]
# Ordinary names the proxy must show: the video fields and the headers of a capture.
VISIBLE_FIELDS = [
    "prompt",
    "model",
    "seconds",
    "size",
    "input_reference",
    "remixed_from_video_id",
    "limit",
    "after",
    "order",
    "variant",
    "id",
    "status",
    "progress",
    "image_url",
    "cache_key",
    "sort_key",
    "input_tokens",
    "max_tokens",
    "token_type",
]
VISIBLE_HEADERS = [
    "Content-Type",
    "Accept",
    "User-Agent",
    "X-Stainless-Lang",
    "X-Stainless-Retry-Count",
    "OpenAI-Organization",
    "OpenAI-Project",
    "x-request-id",
    "x-videocache-capture",
    "x-cache-ttl",
    "x-bf-cache-key",
    "Idempotency-Key",
    "x-ratelimit-remaining-tokens",
    "WWW-Authenticate",
    "Retry-After",
]


@pytest.mark.parametrize("name", SECRET_NAMES)
def test_credential_names_are_secret(name: str) -> None:
    assert is_secret_key(name)


@pytest.mark.parametrize("name", VISIBLE_FIELDS + VISIBLE_HEADERS)
def test_ordinary_names_are_not_secret(name: str) -> None:
    assert not is_secret_key(name)


def _query(path: str) -> dict[str, str]:
    return dict(parse_qsl(path.partition("?")[2], keep_blank_values=True))


@pytest.mark.parametrize("name", [*LEAKED_QUERY, *ALREADY_REDACTED])
def test_query_parameter_redacted_in_capture(name: str) -> None:
    cap = capture_request(
        "GET", f"/v1/videos?limit=5&{name}={SECRET}&after=video_1", {}, None, None, 4096
    )
    query = _query(cap["path"])
    assert query[name] == REDACTED
    assert query["limit"] == "5" and query["after"] == "video_1"
    assert SECRET not in orjson.dumps(cap).decode()


def test_visible_query_parameters_kept_as_sent() -> None:
    path = "/v1/videos?limit=20&after=video_abc&order=desc&variant=thumbnail"
    assert redact_path(path) == path


@pytest.mark.parametrize("name", [*LEAKED_JSON, *ALREADY_REDACTED, "sig", "subscription-key"])
def test_json_key_redacted_in_capture(name: str) -> None:
    body = orjson.dumps(
        {
            "prompt": "a red fox",
            "model": "sora-2",
            "seconds": "4",
            "size": "720x1280",
            "remixed_from_video_id": "video_1",
            name: SECRET,
            "nested": {name: SECRET},
        }
    )
    cap = capture_request("POST", "/v1/videos", {}, body, "application/json", 4096)
    assert cap["body"][name] == REDACTED
    assert cap["body"]["nested"][name] == REDACTED
    assert cap["body"]["prompt"] == "a red fox" and cap["body"]["model"] == "sora-2"
    assert cap["body"]["seconds"] == "4" and cap["body"]["size"] == "720x1280"
    assert cap["body"]["remixed_from_video_id"] == "video_1"
    assert SECRET not in orjson.dumps(cap).decode()


@pytest.mark.parametrize("name", [*LEAKED_QUERY, *LEAKED_JSON, "api_key", "token"])
def test_form_field_redacted_in_capture(name: str) -> None:
    boundary = "B0UNDARY"
    body = b""
    for field, value in (("prompt", "a calm lake"), ("model", "sora-2"), (name, SECRET)):
        body += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"\r\n\r\n{value}\r\n'
        ).encode()
    body += f"--{boundary}--\r\n".encode()
    cap = capture_request(
        "POST", "/v1/videos", {}, body, f"multipart/form-data; boundary={boundary}", 4096
    )
    assert cap["body"]["parts"] == [
        {"name": "prompt", "value": "a calm lake"},
        {"name": "model", "value": "sora-2"},
        {"name": name, "value": REDACTED},
    ]
    urlencoded = f"prompt=a+calm+lake&{name}={SECRET}".encode()
    cap = capture_request(
        "POST", "/v1/videos", {}, urlencoded, "application/x-www-form-urlencoded", 4096
    )
    assert SECRET not in orjson.dumps(cap).decode()
    assert _query("?" + cap["body"]) == {"prompt": "a calm lake", name: REDACTED}


def test_headers_redacted_by_name_pattern_and_ordinary_headers_kept() -> None:
    secret_headers = [
        "Ocp-Apim-Subscription-Key",
        "X-Auth-Token",
        "X-Functions-Key",
        "X-Amz-Security-Token",
        "Private-Token",
        "api-key",
        "x-bf-vk",
    ]
    headers = [(h, SECRET) for h in secret_headers]
    headers += [(h, f"visible-{i}") for i, h in enumerate(VISIBLE_HEADERS)]
    cap = capture_request("POST", "/v1/videos", headers, None, None, 4096)
    for h in secret_headers:
        assert cap["headers"][h] == REDACTED, h
    for i, h in enumerate(VISIBLE_HEADERS):
        assert cap["headers"][h] == f"visible-{i}", h
    assert SECRET not in orjson.dumps(cap).decode()
    # An operator's credential header is redacted whatever it is called.
    assert redact_headers({"X-Tenant": SECRET}, {"x-tenant"}) == {"X-Tenant": REDACTED}


def test_log_events_redact_credential_keys_and_keep_counts() -> None:
    event = {
        "event": "request",
        "auth_token": SECRET,
        "subscription-key": SECRET,
        "body": {"private_key": SECRET, "prompt": "a cat"},
        "input_tokens": 12,
        "model": "sora-2",
        "seconds": 4,
    }
    out = redact_event(None, "info", dict(event))
    assert SECRET not in repr(out)
    assert out["body"]["prompt"] == "a cat"
    assert out["input_tokens"] == 12 and out["model"] == "sora-2" and out["seconds"] == 4
