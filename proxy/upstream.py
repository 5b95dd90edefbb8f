"""The client side: one pooled aiohttp session to the upstream, the mapping of its
failures onto the proxy's own errors (refused or reset -> 502, timeout -> 504), and the
bounded read of the answers the proxy holds in memory."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote

import aiohttp
from multidict import CIMultiDict
from yarl import URL

from config.settings import Settings
from proxy.errors import ProxyError

# Characters kept as they are when WE build a path from an id we hold decoded (the
# watcher, minted ids). Everything else, "/" and "%" included, is percent-encoded, the
# same as the official SDK does, so the upstream decodes it back to the exact id.
_ID_SAFE = ":@!$&'()*+,;=-._~"
# Content codings aiohttp decodes without optional packages (brotli and zstd need them).
DECODABLE = "gzip, deflate"


def quote_id(video_id: str) -> str:
    return quote(video_id, safe=_ID_SAFE)


ErrorHook = Callable[[str], None]


class UpstreamTooLarge(ProxyError):
    """An upstream answer the proxy reads into memory (JSON, an error body it relays) that
    is larger than `max_upstream_json_bytes`: a 502, counted as a malformed answer."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            502,
            f"The upstream's answer is larger than the limit of {limit} bytes "
            "(max_upstream_json_bytes).",
            code="upstream_too_large",
        )


async def read_bounded(resp: aiohttp.ClientResponse, limit: int) -> bytes:
    """The body of `resp` (decoded, when the request asked for decompression), or
    UpstreamTooLarge once it would pass `limit` bytes. An announced Content-Length over the
    limit is refused before anything is read; a chunked or compressed body is counted as
    its decoded bytes arrive, so neither a missing length nor a small gzip bomb gets past.
    On refusal the connection is closed, not drained: a 512 MiB answer is not read to be
    thrown away, and the connection is not reused. Raised inside `Upstream.request`, the
    refusal is counted as an upstream error of kind `malformed`."""
    length = resp.content_length
    # When compressed, this is the compressed length; JSON only grows when decoded, so
    # over the limit compressed means over it decoded too.
    if length is not None and length > limit:
        resp.close()
        raise UpstreamTooLarge(limit)
    chunks: list[bytes] = []
    received = 0
    async for chunk in resp.content.iter_any():
        received += len(chunk)
        if received > limit:
            resp.close()
            raise UpstreamTooLarge(limit)
        chunks.append(chunk)
    return b"".join(chunks)


class Upstream:
    """Owns the session; ``request`` yields the live response so bodies can stream."""

    def __init__(self, settings: Settings, on_error: ErrorHook | None = None) -> None:
        if settings.upstream is None:
            raise ValueError("an upstream URL is required")
        base = URL(settings.upstream)
        self.origin = str(base.origin())
        self.base_path = base.raw_path.rstrip("/")
        self.flavor = settings.upstream_flavor
        self.provider = settings.upstream_provider
        self._connect = settings.connect_timeout
        self._read = settings.read_timeout
        self._content = settings.content_timeout
        self.on_error: ErrorHook = on_error or (lambda kind: None)
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=300, enable_cleanup_closed=True)
        self._session = aiohttp.ClientSession(
            connector=connector,
            # The proxy relays cookies as headers; it must never keep a jar of its own.
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,
            # No header the client did not send: aiohttp would add Accept: */* and others.
            skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def ping(self, timeout: float) -> str | None:
        """None when the upstream answers HTTP at all (any status), else why not."""
        assert self._session is not None
        try:
            async with self._session.get(
                self.origin + "/",
                timeout=aiohttp.ClientTimeout(total=timeout),
                allow_redirects=False,
            ):
                return None
        except (aiohttp.ClientError, TimeoutError) as exc:
            return f"upstream {self.origin} is unreachable: {type(exc).__name__}"

    def url(self, raw_path_and_query: str) -> URL:
        # encoded=True: the client's bytes reach the upstream untouched (ids, query).
        return URL(self.origin + self.base_path + raw_path_and_query, encoded=True)

    @asynccontextmanager
    async def request(
        self,
        method: str,
        raw_path_and_query: str,
        *,
        headers: CIMultiDict[str],
        data: Any = None,
        content: bool = False,
        decompress: bool = False,
        body_failed: Callable[[], bool] | None = None,
        url: URL | None = None,
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """`body_failed`: whether a streamed `data` ended the request itself (a client that
        hung up mid-upload, a body past its limit): not the upstream's doing, so not
        counted as an upstream error. `url`: an absolute URL to ask instead of
        `raw_path_and_query` (where a redirect of the upstream's points)."""
        assert self._session is not None, "Upstream.start() was not awaited"
        timeout = aiohttp.ClientTimeout(
            total=None,
            connect=self._connect,
            sock_read=self._content if content else self._read,
        )
        if decompress:
            # The proxy reads this answer itself, so it asks only for what aiohttp decodes:
            # a client's "br" or "zstd" would come back undecodable (a 502 for the client).
            headers = CIMultiDict(headers)
            headers["Accept-Encoding"] = DECODABLE
        try:
            async with self._session.request(
                method,
                url if url is not None else self.url(raw_path_and_query),
                headers=headers,
                data=data,
                timeout=timeout,
                allow_redirects=False,
                auto_decompress=decompress,
            ) as response:
                yield response
        except UpstreamTooLarge:
            self.on_error("malformed")
            raise
        except ProxyError:
            raise
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            self.on_error("timeout")
            raise ProxyError(
                504, "The upstream did not answer in time.", code="upstream_timeout"
            ) from exc
        except aiohttp.ClientConnectorError as exc:
            self.on_error("refused")
            raise ProxyError(
                502, f"The upstream is unreachable: {exc.os_error}", code="upstream_unreachable"
            ) from exc
        except aiohttp.ClientConnectionError as exc:
            if body_failed is not None and body_failed():
                raise ProxyError(
                    400, "The request body could not be read.", code="body_unreadable"
                ) from exc
            self.on_error("refused")
            raise ProxyError(
                502, "The upstream closed the connection.", code="upstream_reset"
            ) from exc
        except aiohttp.ClientPayloadError as exc:
            self.on_error("malformed")
            raise ProxyError(
                502, "The upstream sent an incomplete body.", code="upstream_incomplete"
            ) from exc
        except aiohttp.ClientResponseError as exc:
            self.on_error("malformed")
            raise ProxyError(
                502,
                f"The upstream sent an invalid response: {exc.message}",
                code="upstream_invalid",
            ) from exc
