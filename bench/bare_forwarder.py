"""The floor any aiohttp proxy pays: a catch-all handler that forwards method, raw path,
headers (minus Host) and body through one shared ClientSession and streams the answer back.

    python bench/bare_forwarder.py --upstream http://127.0.0.1:8081 --port 8090
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator

import aiohttp
import uvloop
from aiohttp import web
from yarl import URL

SESSION = web.AppKey("session", aiohttp.ClientSession)
UPSTREAM = web.AppKey("upstream", str)
DROP = {"host", "connection", "keep-alive", "transfer-encoding", "content-length", "te", "upgrade"}


async def forward(request: web.Request) -> web.StreamResponse:
    session = request.app[SESSION]
    headers = {k: v for k, v in request.headers.items() if k.lower() not in DROP}
    url = URL(request.app[UPSTREAM] + request.raw_path, encoded=True)
    body = request.content if request.body_exists else None
    async with session.request(
        request.method, url, headers=headers, data=body, allow_redirects=False
    ) as up:
        out = {k: v for k, v in up.headers.items() if k.lower() not in DROP}
        resp = web.StreamResponse(status=up.status, reason=up.reason, headers=out)
        if up.content_length is not None:
            resp.content_length = up.content_length
        await resp.prepare(request)
        async for chunk in up.content.iter_chunked(256 * 1024):
            await resp.write(chunk)
        await resp.write_eof()
        return resp


async def lifecycle(app: web.Application) -> AsyncIterator[None]:
    connector = aiohttp.TCPConnector(limit=0)
    app[SESSION] = aiohttp.ClientSession(connector=connector, auto_decompress=False)
    yield
    await app[SESSION].close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    app = web.Application()
    app[UPSTREAM] = args.upstream.rstrip("/")
    app.cleanup_ctx.append(lifecycle)
    app.router.add_route("*", "/{tail:.*}", forward)
    web.run_app(
        app,
        host=args.host,
        port=args.port,
        print=None,
        access_log=None,
        loop=uvloop.new_event_loop(),
    )


if __name__ == "__main__":
    main()
