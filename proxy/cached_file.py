"""Cached content from disk: aiohttp's FileResponse (sendfile, ETag, HEAD, Range) with the
Range rules of RFC 9110 that it does not follow itself.

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

import math
import os
import re
from collections.abc import Callable, Mapping
from email.utils import parsedate_to_datetime

from aiohttp import hdrs, web
from aiohttp.abc import AbstractStreamWriter
from aiohttp.web_request import BaseRequest

# At most 18 digits: any file offset fits, and int() of thousands of digits is slow.
_SINGLE_RANGE = re.compile(r"\s*bytes\s*=\s*(\d{0,18})\s*-\s*(\d{0,18})\s*", re.IGNORECASE)


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

    async def prepare(self, request: BaseRequest) -> AbstractStreamWriter | None:
        writer = await super().prepare(self._ranged(request))
        # Counted from what was decided and sent (a 200 after a failed If-None-Match, a
        # 206's range), never guessed from the request; HEAD, 304 and 416 send no body.
        if self._on_sent is not None and request.method == "GET" and self.status in (200, 206):
            self._on_sent(self.content_length or 0)
        return writer

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
