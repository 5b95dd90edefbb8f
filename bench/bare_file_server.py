"""The floor for serving a cached video: one aiohttp FileResponse of a fixed file, any path.

python bench/bare_file_server.py --file PATH --port 8091
"""

from __future__ import annotations

import argparse

import uvloop
from aiohttp import web


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--file", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()

    async def serve(request: web.Request) -> web.FileResponse:
        return web.FileResponse(args.file, headers={"Content-Type": "video/mp4"})

    app = web.Application()
    app.router.add_get("/{tail:.*}", serve)
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
