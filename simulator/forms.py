"""Request body decoding and the create-request validation OpenAI applies."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import orjson

SECONDS = ("4", "8", "12")
SIZES = ("720x1280", "1280x720", "1024x1792", "1792x1024")
DEFAULT_MODEL = "sora-2"
MAX_PROMPT = 32000

_PARAM = re.compile(r';\s*([a-zA-Z0-9_*-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;]*))')


class BodyError(Exception):
    """A 400 to answer, with the offending parameter when there is one."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param


@dataclass
class FilePart:
    filename: str | None
    content_type: str
    size: int


@dataclass
class Body:
    fields: dict[str, Any]
    files: dict[str, FilePart] = field(default_factory=dict)
    form: bool = False  # multipart or urlencoded: values are strings


def _header_params(value: str) -> tuple[str, dict[str, str]]:
    main, _, rest = value.partition(";")
    params = {}
    for match in _PARAM.finditer(";" + rest):
        quoted, bare = match.group(2), match.group(3)
        params[match.group(1).lower()] = quoted if quoted is not None else bare.strip()
    return main.strip().lower(), params


def parse_multipart(content_type: str, body: bytes) -> Body:
    """Enough of RFC 7578 for what HTTP clients send; the simulator needs field values and
    file sizes, never a streaming parser (bodies here are small)."""
    _, params = _header_params(content_type)
    boundary = params.get("boundary")
    if not boundary:
        raise BodyError("multipart body without a boundary")
    delimiter = b"--" + boundary.encode()
    result = Body(fields={}, form=True)
    for raw_part in body.split(delimiter)[1:]:
        if raw_part.startswith(b"--"):
            break
        part = raw_part.removeprefix(b"\r\n")
        head, sep, content = part.partition(b"\r\n\r\n")
        if not sep:
            raise BodyError("malformed multipart part")
        content = content.removesuffix(b"\r\n")
        headers = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        _, disposition = _header_params(headers.get("content-disposition", ""))
        name = disposition.get("name")
        if name is None:
            continue
        part_type = headers.get("content-type", "text/plain")
        # Some clients label plain fields text/plain: only a filename or a non-text type
        # makes a part a file.
        if "filename" in disposition or not part_type.lower().startswith("text/"):
            result.files[name] = FilePart(
                filename=disposition.get("filename"),
                content_type=part_type,
                size=len(content),
            )
        else:
            result.fields[name] = content.decode("utf-8", "replace")
    return result


def parse_body(content_type: str, body: bytes) -> Body:
    kind, _ = _header_params(content_type)
    if kind == "multipart/form-data":
        return parse_multipart(content_type, body)
    if kind == "application/x-www-form-urlencoded":
        return Body(fields=dict(parse_qsl(body.decode("utf-8", "replace"))), form=True)
    try:
        data = orjson.loads(body) if body else {}
    except orjson.JSONDecodeError as exc:
        raise BodyError(f"We could not parse the JSON body of your request. ({exc})") from None
    if not isinstance(data, dict):
        raise BodyError("The request body must be a JSON object.")
    return Body(fields=data)


def _string(fields: dict[str, Any], name: str, default: str | None) -> str | None:
    value = fields.get(name, default)
    if value is None:
        return None
    if not isinstance(value, str):
        raise BodyError(f"Invalid type for '{name}': expected a string.", name)
    return value


def validate_prompt(fields: dict[str, Any]) -> str:
    prompt = _string(fields, "prompt", None)
    if prompt is None:
        raise BodyError("Missing required parameter: 'prompt'.", "prompt")
    if not 1 <= len(prompt) <= MAX_PROMPT:
        raise BodyError(
            f"Invalid 'prompt': string length must be between 1 and {MAX_PROMPT}.", "prompt"
        )
    return prompt


def validate_create(body: Body) -> dict[str, Any]:
    """The fields of a create request, validated like OpenAI; unknown fields are kept."""
    fields = body.fields
    prompt = validate_prompt(fields)
    model = _string(fields, "model", DEFAULT_MODEL) or ""
    if not model:
        raise BodyError("Invalid 'model': must be a non-empty string.", "model")
    seconds = _string(fields, "seconds", "4")
    if seconds not in SECONDS:
        raise BodyError(
            f"Invalid value: '{seconds}'. Supported values are: "
            + ", ".join(f"'{s}'" for s in SECONDS)
            + ".",
            "seconds",
        )
    size = _string(fields, "size", "720x1280")
    if size not in SIZES:
        raise BodyError(
            f"Invalid value: '{size}'. Supported values are: "
            + ", ".join(f"'{s}'" for s in SIZES)
            + ".",
            "size",
        )
    reference = fields.get("input_reference")
    if (
        reference is not None
        and not body.form
        and not (
            isinstance(reference, dict) and ("image_url" in reference or "file_id" in reference)
        )
    ):
        raise BodyError(
            "Invalid 'input_reference': expected an object with 'image_url' or 'file_id'.",
            "input_reference",
        )
    extra = extra_fields(body, known={"prompt", "model", "seconds", "size"})
    return {"prompt": prompt, "model": model, "seconds": seconds, "size": size, "extra": extra}


def extra_fields(body: Body, known: set[str]) -> dict[str, Any]:
    """The fields the simulator does not read (kept on the job, as an upstream carries
    them to its model), with file parts described."""
    extra = {key: value for key, value in body.fields.items() if key not in known}
    for name, part in body.files.items():
        extra[name] = {
            "filename": part.filename,
            "content_type": part.content_type,
            "size": part.size,
        }
    return extra
