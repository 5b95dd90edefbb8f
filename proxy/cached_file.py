"""Cached content from disk: aiohttp's FileResponse (sendfile, ETag, HEAD, Range) with the
Range rules of RFC 9110 that it does not follow itself, and the upstream's
Content-Disposition renamed for the id it is served under (`served_disposition`).

- A Range header the server cannot use (another unit, bad syntax, several ranges) is to
  be ignored (section 14.2): a full 200, where FileResponse answers 416.
- A usable range is passed on in its plain form (`bytes=0-1`): FileResponse refuses the
  whitespace RFC 9110 allows around its parts.
- If-Range (section 13.1.5) holds an entity tag or a date, and the range applies only when
  it is the file's current strong ETag or exactly its Last-Modified date; anything else
  (another tag, a weak one, an earlier date, something unreadable) sends the whole file.
  FileResponse understands dates only, and any date not older than the file: it would send
  a 206 of possibly other bytes.
"""

from __future__ import annotations

import contextlib
import math
import mimetypes
import os
import re
from collections.abc import Callable, Mapping
from email.message import Message
from email.utils import parsedate_to_datetime
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import quote

from aiohttp import hdrs, web
from aiohttp.abc import AbstractStreamWriter
from aiohttp.web_request import BaseRequest

# At most 18 digits: any file offset fits, and int() of thousands of digits is slow.
_SINGLE_RANGE = re.compile(r"\s*bytes\s*=\s*(\d{0,18})\s*-\s*(\d{0,18})\s*", re.IGNORECASE)
_EXTENSION = re.compile(r"\.[A-Za-z0-9]{1,8}")


def served_disposition(sent: str | None, served_id: str, content_type: str) -> str | None:
    """The upstream's Content-Disposition for a cached file served as `served_id`.

    Why renamed: gateways name the file after their own id (LiteLLM:
    `attachment; filename="<id>.mp4"`), and a hit's id is one the proxy minted. Sent as is,
    the header would hand the hit's recipient the upstream id of another request's video.
    So only the disposition type (inline stays inline, anything else is an attachment) and
    the file's extension are kept; the name is the served id. None when the upstream sent
    none (OpenAI does not), as the upstream itself would answer.
    """
    if sent is None:
        return None
    parsed = Message()
    parsed["Content-Disposition"] = sent
    kind = "inline" if parsed.get_content_disposition() == "inline" else "attachment"
    suffix = PurePosixPath(parsed.get_filename() or "").suffix
    if not _EXTENSION.fullmatch(suffix):
        suffix = mimetypes.guess_extension(content_type) or ""
    # Minted ids are "video_" + hex; quoting only guards the header against any other id.
    return f'{kind}; filename="{quote(served_id, safe="")}{suffix}"'


def plain_range(value: str) -> str | None:
    """One syntactically valid byte range in the plain form FileResponse parses, or None.
    (Satisfiable or not: FileResponse answers 416 for one past the end, as it should.)"""
    match = _SINGLE_RANGE.fullmatch(value)
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if first and last and int(first) > int(last):
        return None
    if not first and int(last) == 0:
        # "The last 0 bytes" is unsatisfiable (RFC 9110 14.1.1), but FileResponse would
        # slice [-0:], the whole file: ask it for a start no file reaches, which it answers
        # with 416 and "bytes */<size>".
        return f"bytes={2**63 - 1}-"
    return f"bytes={first}-{last}"


def usable_range(value: str) -> bool:
    return plain_range(value) is not None


def _validator_matches(condition: str, path: os.PathLike[str] | str) -> bool:
    """Whether an If-Range value still describes the file: its strong ETag, or exactly its
    Last-Modified second."""
    if condition.startswith(('"', "W/")):
        return condition == file_etag(path)  # weak tags never match (strong comparison)
    try:
        when = parsedate_to_datetime(condition)
    except (TypeError, ValueError, IndexError, OverflowError):
        return False
    # FileResponse's Last-Modified is the mtime rounded up to the second.
    return int(when.timestamp()) == math.ceil(os.stat(path).st_mtime)


def file_etag(path: os.PathLike[str] | str) -> str:
    """The strong ETag FileResponse sends for a file (its mtime and size)."""
    st = os.stat(path)
    return f'"{st.st_mtime_ns:x}-{st.st_size:x}"'


class CachedFile(web.FileResponse):
    def __init__(
        self,
        path: os.PathLike[str] | str,
        *,
        headers: Mapping[str, str] | None = None,
        on_sent: Callable[[int], None] | None = None,
    ) -> None:
        super().__init__(path, headers=headers)
        self._on_sent = on_sent
        self._sent = 0  # body bytes that left, measured in _sendfile

    async def prepare(self, request: BaseRequest) -> AbstractStreamWriter | None:
        # Counted from what was sent (a 200 after a failed If-None-Match, a 206's range, as
        # far as a client that hung up took it), never guessed from the request; HEAD, 304
        # and 416 send no body.
        if self.prepared:
            # Sent already (the observing middleware sends it); aiohttp asks again, and
            # FileResponse would decide and send anew. StreamResponse's answer is the no-op.
            return await web.StreamResponse.prepare(self, request)
        try:
            return await super().prepare(self._ranged(request))
        finally:
            if self._on_sent is not None and self._sent:
                self._on_sent(self._sent)

    async def _sendfile(
        self, request: BaseRequest, fobj: Any, offset: int, count: int
    ) -> AbstractStreamWriter:
        try:
            return await super()._sendfile(request, fobj, offset, count)
        finally:
            # The file's position is where the sending stopped: asyncio's sendfile moves it
            # past what went out even when the connection failed, as reading does in the
            # fallback (which may have read one chunk more than was written).
            with contextlib.suppress(OSError, ValueError):
                self._sent = min(count, max(0, fobj.tell() - offset))

    def _ranged(self, request: BaseRequest) -> BaseRequest:
        wanted = request.headers.get(hdrs.RANGE)
        if wanted is None:
            return request
        plain = plain_range(wanted)
        condition = request.headers.get(hdrs.IF_RANGE, "").strip()
        if plain is not None and condition and not _validator_matches(condition, self._path):
            plain = None
        if plain == wanted and not condition:
            return request
        headers = request.headers.copy()
        if plain is None:
            del headers[hdrs.RANGE]
        else:
            headers[hdrs.RANGE] = plain
        # The condition is settled here; FileResponse's own (date-only) reading must not
        # turn it around.
        headers.popall(hdrs.IF_RANGE, None)
        return request.clone(headers=headers)
