"""Cached content from disk: aiohttp's FileResponse (sendfile, ETag, HEAD, Range) with the
Range rules of RFC 9110 that it does not follow itself.

- A Range header the server cannot use (another unit, bad syntax, several ranges) is to
  be ignored (section 14.2): a full 200, where FileResponse answers 416.
- If-Range may hold an entity tag (section 13.1.5): the range applies only when it is
  the file's current strong ETag. FileResponse understands dates only and would send a
  206 of possibly other bytes.
"""

from __future__ import annotations

import os
import re

from aiohttp import hdrs, web
from aiohttp.abc import AbstractStreamWriter
from aiohttp.web_request import BaseRequest

_SINGLE_RANGE = re.compile(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*", re.IGNORECASE)


def usable_range(value: str) -> bool:
    """One syntactically valid byte range (satisfiable or not: FileResponse answers 416
    for one past the end, as it should)."""
    match = _SINGLE_RANGE.fullmatch(value)
    if match is None:
        return False
    first, last = match.groups()
    if not first and not last:
        return False
    return not (first and last and int(first) > int(last))


def file_etag(path: os.PathLike[str] | str) -> str:
    """The strong ETag FileResponse sends for a file (its mtime and size)."""
    st = os.stat(path)
    return f'"{st.st_mtime_ns:x}-{st.st_size:x}"'


class CachedFile(web.FileResponse):
    async def prepare(self, request: BaseRequest) -> AbstractStreamWriter | None:
        return await super().prepare(self._ranged(request))

    def _ranged(self, request: BaseRequest) -> BaseRequest:
        wanted = request.headers.get(hdrs.RANGE)
        if wanted is None:
            return request
        keep = usable_range(wanted)
        condition = request.headers.get(hdrs.IF_RANGE, "").strip()
        if keep and condition.startswith(('"', "W/")):
            # Weak tags never match here (strong comparison); a date is FileResponse's job.
            keep = condition == file_etag(self._path)
        if keep:
            return request
        headers = request.headers.copy()
        del headers[hdrs.RANGE]
        return request.clone(headers=headers)
