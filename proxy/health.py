"""Liveness and readiness."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from aiohttp import web

from proxy.state import STATE


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def _data_dir_writable(directory: Path) -> str | None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".readyz-"):
            pass
    except OSError as exc:
        return f"data dir {str(directory)!r} is not writable: {exc.strerror}"
    return None


async def readyz(request: web.Request) -> web.Response:
    state = request.app[STATE]
    checks = {
        "upstream": await state.upstream.ping(min(state.settings.connect_timeout, 5.0)),
        "data_dir": await asyncio.to_thread(_data_dir_writable, Path(state.settings.data_dir)),
    }
    problems = {k: v for k, v in checks.items() if v}
    body = {
        "status": "ready" if not problems else "not ready",
        "checks": {k: (v or "ok") for k, v in checks.items()},
    }
    return web.json_response(body, status=200 if not problems else 503)
