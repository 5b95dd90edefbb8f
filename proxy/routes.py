"""Classifies a request by method and RAW path into one of the /v1/videos operations.

We match on ``request.raw_path`` ourselves instead of aiohttp's router because ids are
opaque: the router decodes ``%2F`` and friends, and we must relay the id's bytes exactly as
the client sent them. The route template doubles as the bounded metrics label.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote

VIDEOS = "/v1/videos"


@dataclass(frozen=True, slots=True)
class Route:
    request_type: str  # the seed's extra_fields.request_type
    template: str  # bounded label: never contains an id
    raw_id: str | None = None  # the id path segment exactly as sent (still percent-encoded)

    @property
    def video_id(self) -> str | None:
        """The id as the upstream knows it: the path segment decoded once."""
        return None if self.raw_id is None else unquote(self.raw_id)


PASSTHROUGH = Route("passthrough", "other")


def request_target(raw_path: str, rel_path: str, rel_query: str) -> str:
    """The request-target in origin-form (path and query), as the upstream must get it.

    HTTP/1.1 servers must accept the absolute-form (``GET http://host/v1/videos``), for
    which aiohttp's ``raw_path`` is the whole URL; its path and query are in ``rel_url``.
    Origin-form targets are kept byte for byte.
    """
    if raw_path.startswith("/"):
        return raw_path
    path = rel_path or "/"
    return f"{path}?{rel_query}" if rel_query else path


_NAMED_SUBROUTES = {"edits", "extensions", "characters"}


def classify(method: str, raw_path: str) -> Route:
    path = raw_path.split("?", 1)[0]
    if path.endswith("/") and len(path) > 1:
        path = path[:-1]
    if path == VIDEOS:
        if method == "POST":
            return Route("video_generation", VIDEOS)
        if method == "GET":
            return Route("video_list", VIDEOS)
        return PASSTHROUGH
    if not path.startswith(VIDEOS + "/"):
        return PASSTHROUGH
    parts = path[len(VIDEOS) + 1 :].split("/")
    if parts[0] in _NAMED_SUBROUTES:
        # edits, extensions, characters and characters/{id}: relayed untouched.
        if len(parts) == 1:
            return Route("passthrough", f"{VIDEOS}/{parts[0]}")
        if parts[0] == "characters" and len(parts) == 2:
            return Route("passthrough", f"{VIDEOS}/characters/{{id}}")
        return PASSTHROUGH
    raw_id = parts[0]
    if not raw_id:
        return PASSTHROUGH
    if len(parts) == 1:
        if method == "GET":
            return Route("video_retrieve", f"{VIDEOS}/{{id}}", raw_id)
        if method == "DELETE":
            return Route("video_delete", f"{VIDEOS}/{{id}}", raw_id)
        return Route("passthrough", f"{VIDEOS}/{{id}}", raw_id)
    if len(parts) == 2 and parts[1] == "content" and method in ("GET", "HEAD"):
        return Route("video_download", f"{VIDEOS}/{{id}}/content", raw_id)
    if len(parts) == 2 and parts[1] == "remix" and method == "POST":
        return Route("video_remix", f"{VIDEOS}/{{id}}/remix", raw_id)
    return PASSTHROUGH
