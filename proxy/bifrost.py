"""Adapting requests and responses to Bifrost's native /v1/videos route.

Bifrost accepts JSON only on create, wants ``provider/model``, needs ``?provider=`` on
list, sends ``progress`` as a float and omits null fields. The official SDK sends
multipart and bare model names, so with ``upstream_flavor: bifrost`` the proxy converts.
"""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import parse_qsl, urlencode

from proxy.bodies import RequestBody

DEFAULT_MODEL = "sora-2"
# Keys of the OpenAI Video object; Bifrost omits the null ones, OpenAI clients expect all.
VIDEO_KEYS = (
    "id",
    "object",
    "model",
    "status",
    "progress",
    "created_at",
    "completed_at",
    "expires_at",
    "prompt",
    "size",
    "seconds",
    "remixed_from_video_id",
    "error",
)


def provider_model(model: str | None, provider: str) -> str:
    model = model or DEFAULT_MODEL
    return model if "/" in model else f"{provider}/{model}"


def create_json(body: RequestBody, provider: str) -> dict[str, Any]:
    """The SDK's multipart (or a JSON body) as the JSON object Bifrost accepts."""
    payload = body_json(body)
    payload["model"] = provider_model(payload.get("model"), provider)
    return payload


def body_json(body: RequestBody) -> dict[str, Any]:
    """A create or remix body as JSON: text fields as they are, and every file part as a
    data URL under its own name (`input_reference` in the `{"image_url": ...}` form Bifrost
    reads; a name sent more than once, a list). Nothing is dropped: a second image or an
    audio track changes the video, and the cache keys on it.
    """
    payload: dict[str, Any] = dict(body.fields)
    files: dict[str, list[str]] = {}
    for part in body.files:
        encoded = base64.b64encode(body.part_bytes(part)).decode("ascii")
        content_type = part.content_type or "application/octet-stream"
        files.setdefault(part.name, []).append(f"data:{content_type};base64,{encoded}")
    for name, urls in files.items():
        if name == "input_reference":
            images = [{"image_url": url} for url in urls]
            payload[name] = images[0] if len(images) == 1 else images
        else:
            payload[name] = urls[0] if len(urls) == 1 else urls
    return payload


def list_query(query_string: str, provider: str) -> str:
    pairs = parse_qsl(query_string, keep_blank_values=True)
    if any(name == "provider" for name, _ in pairs):
        return query_string
    pairs.append(("provider", provider))
    return urlencode(pairs)


def normalise_video(obj: dict[str, Any]) -> None:
    """In place: every Video key present (null when omitted) and an integer progress."""
    if obj.get("object") != "video":
        return
    for key in VIDEO_KEYS:
        obj.setdefault(key, None)
    progress = obj.get("progress")
    if isinstance(progress, float):
        obj["progress"] = round(progress)
