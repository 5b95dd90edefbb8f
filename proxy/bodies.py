"""Reading the request bodies the proxy must understand: create and remix.

The body is read once, spooled (to disk past 1 MiB, so a 50 MB input_reference upload does
not sit in memory) and parsed on the way through: JSON is loaded, multipart is parsed
incrementally by python-multipart with file parts hashed, never held. The spool keeps the
exact bytes so the upstream receives them unchanged, boundary and all. A body sent with
``Content-Encoding: gzip`` or ``deflate`` is decoded for parsing, and the bytes as sent are
kept in a second spool for the upstream (the server does not decode request bodies: see
proxy.app).
"""

from __future__ import annotations

import hashlib
import tempfile
import zlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Literal

import orjson
from aiohttp import web
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, MultipartState, parse_options_header

from proxy.errors import ProxyError

CHUNK = 256 * 1024
SPOOL_IN_MEMORY = 1024 * 1024
MAX_TEXT_FIELD = 1024 * 1024
MAX_PROMPT_CHARS = 32000


@dataclass(slots=True)
class FilePart:
    name: str
    filename: str | None
    content_type: str
    size: int
    sha256: str
    start: int  # offsets of the part's bytes inside the spooled body
    end: int


@dataclass
class RequestBody:
    kind: Literal["json", "multipart"]
    content_type: str
    fields: dict[str, Any]
    files: list[FilePart]
    spool: BinaryIO
    length: int  # bytes as sent (what the upstream receives)
    sha256: str
    raw_json: bytes | None = None
    # The bytes as sent when they were compressed (`spool` then holds them decoded).
    sent: BinaryIO | None = None
    # Multipart text fields sent more than once: `fields` holds the last value, but an
    # upstream may read the first, so such a body is never cached (proxy/caching.py).
    duplicate_fields: frozenset[str] = frozenset()
    _closed: bool = field(default=False, repr=False)

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body as the client sent it (`length` bytes)."""
        source = self.sent if self.sent is not None else self.spool
        source.seek(0)
        while chunk := source.read(CHUNK):
            yield chunk

    def part_bytes(self, part: FilePart) -> bytes:
        self.spool.seek(part.start)
        return self.spool.read(part.end - part.start)

    def close(self) -> None:
        if not self._closed:
            self.spool.close()
            if self.sent is not None:
                self.sent.close()
            self._closed = True


def _bad(message: str, *, param: str | None = None, code: str = "invalid_request") -> ProxyError:
    return ProxyError(400, message, code=code, param=param)


def _too_large(limit: int) -> ProxyError:
    return ProxyError(
        413, f"The request body exceeds the limit of {limit} bytes.", code="body_too_large"
    )


class _Decoder:
    """A compressed request body, decoded chunk by chunk with the output bounded, so a small
    body that inflates to gigabytes stops at the size limit instead of filling memory."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self._z: Any = None
        self._head = b""  # deflate: the first bytes, until they tell which form it is
        if encoding in ("gzip", "x-gzip"):
            self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)

    def _start_deflate(self, head: bytes) -> None:
        # RFC 9110's deflate is zlib-wrapped, but some clients send the raw stream, and
        # servers (aiohttp among them) take both, so an upstream may too. A zlib
        # stream opens with a header naming method 8 whose first two bytes are a multiple
        # of 31 (RFC 1950); a raw stream opens with a block.
        zlib_header = head[0] & 0x0F == 8 and int.from_bytes(head[:2], "big") % 31 == 0
        self._z = zlib.decompressobj(zlib.MAX_WBITS if zlib_header else -zlib.MAX_WBITS)

    def decode(self, data: bytes) -> Iterator[bytes]:
        """The decoded bytes, CHUNK at a time: the caller's size limit stops a bomb after
        one piece, never after all of it is in memory."""
        if self._z is None:
            data = self._head + data
            if len(data) < 2:
                self._head = data
                return
            self._start_deflate(data)
        while data:
            try:
                piece = self._z.decompress(data, CHUNK)
            except zlib.error as exc:
                raise self._malformed(str(exc)) from None
            yield piece
            data = self._z.unconsumed_tail
        if self._z.unused_data:
            raise self._malformed("other bytes follow the compressed stream")

    def finish(self) -> None:
        if self._z is None or not self._z.eof:
            raise self._malformed("it ends before the compressed stream does")

    def _malformed(self, why: str) -> ProxyError:
        return _bad(f"The {self.encoding} request body cannot be decoded: {why}.")


def _decoder(request: web.Request) -> _Decoder | None:
    encoding = request.headers.get("Content-Encoding", "").strip().lower()
    if encoding in ("", "identity"):
        return None
    if encoding in ("gzip", "x-gzip", "deflate"):
        return _Decoder(encoding)
    raise ProxyError(
        415,
        f"Unsupported Content-Encoding {encoding!r}: send the body uncompressed, gzip or deflate.",
        code="unsupported_content_encoding",
        param="Content-Encoding",
    )


class _MultipartCollector:
    """Callbacks for python-multipart: text parts collected, file parts only hashed."""

    def __init__(self) -> None:
        self.fields: dict[str, Any] = {}
        self.duplicates: set[str] = set()
        self.files: list[FilePart] = []
        self.offset = 0  # bytes of the body before the chunk being parsed
        self._header_field = b""
        self._header_value = b""
        self._headers: dict[bytes, bytes] = {}
        self._text = bytearray()
        self._hash: Any = None
        self._start = -1
        self._end = -1
        self._size = 0
        self.error: ProxyError | None = None

    def callbacks(self) -> dict[str, Any]:
        return {
            "on_part_begin": self._part_begin,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
            "on_header_field": self._header_field_cb,
            "on_header_value": self._header_value_cb,
            "on_header_end": self._header_end,
        }

    def _part_begin(self) -> None:
        self._headers = {}
        self._text.clear()
        self._hash = None
        self._start = self._end = -1
        self._size = 0

    def _header_field_cb(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def _header_value_cb(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._header_field.lower()] = self._header_value
        self._header_field = self._header_value = b""
        disposition, params = parse_options_header(self._headers.get(b"content-disposition", b""))
        if disposition and b"filename" in params:
            self._hash = hashlib.sha256()

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._start < 0:
            self._start = self.offset + start
        self._end = self.offset + end
        self._size += end - start
        if self._hash is not None:
            self._hash.update(data[start:end])
        elif len(self._text) + (end - start) > MAX_TEXT_FIELD:
            self.error = _bad("A multipart text field exceeds 1 MiB.")
        else:
            self._text += data[start:end]

    def _part_end(self) -> None:
        _, params = parse_options_header(self._headers.get(b"content-disposition", b""))
        name = params.get(b"name", b"").decode("utf-8", "replace")
        if self._hash is not None:
            filename = params.get(b"filename", b"").decode("utf-8", "replace") or None
            content_type = self._headers.get(b"content-type", b"application/octet-stream")
            start = max(self._start, 0)
            self.files.append(
                FilePart(
                    name=name,
                    filename=filename,
                    content_type=content_type.decode("latin-1"),
                    size=self._size,
                    sha256=self._hash.hexdigest(),
                    start=start,
                    end=start + self._size,
                )
            )
        else:
            if name in self.fields:
                self.duplicates.add(name)
            try:
                self.fields[name] = self._text.decode("utf-8")
            except UnicodeDecodeError:
                self.error = _bad(f"The multipart field {name!r} is not UTF-8.", param=name)


async def read_body(request: web.Request, limit: int) -> RequestBody:
    """Read and parse a JSON or multipart body; 400 for what cannot be parsed, 413 past
    ``limit``. Nothing is forwarded until this has returned."""
    declared = request.content_length
    if declared is not None and declared > limit:
        raise _too_large(limit)
    content_type_header = request.headers.get("Content-Type", "")
    ctype, params = parse_options_header(content_type_header)
    ctype_s = ctype.decode("latin-1").lower()
    collector: _MultipartCollector | None = None
    parser: MultipartParser | None = None
    if ctype_s == "multipart/form-data":
        boundary = params.get(b"boundary")
        if not boundary:
            raise _bad("The multipart Content-Type has no boundary.", param="Content-Type")
        collector = _MultipartCollector()
        parser = MultipartParser(boundary, collector.callbacks())
    elif ctype_s not in ("application/json", "") and not ctype_s.endswith("+json"):
        raise _bad(
            f"Unsupported Content-Type {ctype_s!r}: send application/json or multipart/form-data.",
            param="Content-Type",
        )

    decoder = _decoder(request)
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115
    sent = None if decoder is None else tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115
    digest = hashlib.sha256()
    total = 0  # bytes as sent
    decoded = 0
    try:
        while received := await request.content.read(CHUNK):
            total += len(received)
            if total > limit:
                raise _too_large(limit)
            if sent is not None:
                sent.write(received)
            for chunk in [received] if decoder is None else decoder.decode(received):
                decoded += len(chunk)
                if decoded > limit:
                    raise _too_large(limit)
                spool.write(chunk)
                digest.update(chunk)
                if parser is not None and collector is not None:
                    try:
                        parser.write(chunk)
                    except MultipartParseError as exc:
                        raise _bad(f"Malformed multipart body: {exc}") from None
                    collector.offset += len(chunk)
                    if collector.error:
                        raise collector.error
        if decoder is not None:
            decoder.finish()
        if parser is not None and collector is not None:
            try:
                parser.finalize()
            except MultipartParseError as exc:
                raise _bad(f"Malformed multipart body: {exc}") from None
            if parser.state != MultipartState.END:
                # python-multipart drops an unfinished last part without a word, but an
                # upstream may read it (a `seconds` the key never saw): refuse the body.
                raise _bad("Malformed multipart body: it ends before its closing boundary.")
            return RequestBody(
                "multipart",
                content_type_header,
                collector.fields,
                collector.files,
                spool,
                total,
                digest.hexdigest(),
                duplicate_fields=frozenset(collector.duplicates),
                sent=sent,
            )
        spool.seek(0)
        raw = spool.read()
        try:
            loaded = orjson.loads(raw) if raw.strip() else None
        except orjson.JSONDecodeError as exc:
            raise _bad(f"The request body is not valid JSON: {exc}", code="invalid_json") from None
        if not isinstance(loaded, dict):
            raise _bad("The request body must be a JSON object.", code="invalid_json")
        return RequestBody(
            "json",
            content_type_header or "application/json",
            loaded,
            [],
            spool,
            total,
            digest.hexdigest(),
            raw_json=raw,
            sent=sent,
        )
    except BaseException:
        spool.close()
        if sent is not None:
            sent.close()
        raise


def require_prompt(body: RequestBody) -> str:
    """The prompt rule OpenAI applies, checked before anything reaches the upstream."""
    prompt = body.fields.get("prompt")
    if prompt is None:
        raise _bad(
            "Missing required parameter: 'prompt'.",
            param="prompt",
            code="missing_required_parameter",
        )
    if not isinstance(prompt, str):
        raise _bad(
            "Invalid type for 'prompt': expected a string.", param="prompt", code="invalid_type"
        )
    if not prompt.strip():
        raise _bad("'prompt' must not be empty.", param="prompt", code="empty_string")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise _bad(
            f"'prompt' is longer than {MAX_PROMPT_CHARS} characters.",
            param="prompt",
            code="string_above_max_length",
        )
    return prompt


# Create fields the cache keys on, with OpenAI's defaults applied when they are omitted. The
# contract makes each a non-empty string: a present value that is not one ("seconds": 4,
# "", null) is refused here, or it would be keyed as the default and answered from the
# cache where the upstream answers 400. Values are not checked against OpenAI's lists:
# gateways take other models, lengths and sizes.
KEYED_STRINGS = ("model", "seconds", "size")


def require_keyed_strings(body: RequestBody) -> None:
    for name in KEYED_STRINGS:
        if name not in body.fields:
            continue
        value = body.fields[name]
        if not isinstance(value, str):
            raise _bad(
                f"Invalid type for '{name}': expected a string.", param=name, code="invalid_type"
            )
        if not value.strip():
            raise _bad(f"'{name}' must not be empty.", param=name, code="empty_string")
