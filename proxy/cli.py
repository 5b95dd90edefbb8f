"""The ``videocache`` command: ``serve`` the proxy, or ``simulate`` an upstream.

Errors in settings end the program with one line naming the setting, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from config.settings import Settings, SettingsError, load_settings


def _serve_parser(sub: Any) -> None:
    serve = sub.add_parser("serve", help="run the caching proxy")
    serve.add_argument("--config", type=Path, help="YAML settings file")
    serve.add_argument("--upstream", help="base URL of the /v1/videos backend")
    serve.add_argument("--upstream-flavor", choices=["openai", "bifrost"])
    serve.add_argument("--upstream-provider", help="provider name for Bifrost and extra_fields")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--data-dir", type=Path)
    serve.add_argument("--public-url", help="URL clients reach this proxy at")
    serve.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    serve.add_argument("--metrics-port", type=int, help="serve /metrics on this port instead")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="videocache", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    _serve_parser(sub)
    simulate = sub.add_parser("simulate", help="run the OpenAI-faithful upstream simulator")
    # Imported only here: the simulator is a test/demo tool, not part of the proxy.
    from simulator.cli import add_arguments

    add_arguments(simulate)
    return parser


def _listening(host: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
        return True
    return False


def _wait_for_port(
    host: str, port: int, timeout: float, child: subprocess.Popen[bytes] | None = None
) -> bool:
    """Whether something listens on the port within `timeout`; False at once if `child`,
    which should be what listens there, has exited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child is not None and child.poll() is not None:
            return False
        if _listening(host, port):
            return child is None or child.poll() is None
        time.sleep(0.1)
    return False


def _start_bundled_simulator(settings: Settings) -> subprocess.Popen[bytes]:
    """No upstream configured: run the simulator beside us, as its own process, so the
    proxy never imports it and Ctrl-C stops both."""
    if _listening("127.0.0.1", settings.simulator_port):
        # Proxying to whatever already listens there would look like a working setup.
        raise SystemExit(
            f"videocache: invalid setting simulator_port: port {settings.simulator_port} "
            "is already in use (set upstream, or another simulator_port)"
        )
    cmd = [
        sys.executable,
        "-m",
        "simulator",
        "--host",
        "127.0.0.1",
        "--port",
        str(settings.simulator_port),
        "--speed",
        "10",
    ]
    child = subprocess.Popen(cmd)
    if not _wait_for_port("127.0.0.1", settings.simulator_port, 20.0, child):
        child.terminate()
        raise SystemExit(
            f"videocache: the bundled simulator did not start on port {settings.simulator_port}"
        )
    return child


def serve_settings(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> Settings:
    """The settings `serve` runs with: its flags over `environ` (default: the process's)."""
    overrides = {
        "upstream": args.upstream,
        "upstream_flavor": args.upstream_flavor,
        "upstream_provider": args.upstream_provider,
        "host": args.host,
        "port": args.port,
        "data_dir": args.data_dir,
        "public_url": args.public_url,
        "log_level": args.log_level,
        "metrics_port": args.metrics_port,
    }
    return load_settings(args.config, overrides, environ)


def serve(args: argparse.Namespace) -> None:
    try:
        settings = serve_settings(args)
    except SettingsError as exc:
        raise SystemExit(f"videocache: {exc}") from None
    child = None
    if settings.upstream is None:
        child = _start_bundled_simulator(settings)
        settings = settings.model_copy(
            update={"upstream": f"http://127.0.0.1:{settings.simulator_port}"}
        )
    from aiohttp import web

    from metrics.logging import configure_logging
    from proxy.app import build_app

    configure_logging(settings.log_level, settings.log_format)

    base = f"http://{settings.host}:{settings.port}"

    def announce(_aiohttp_message: str) -> None:
        # Called by run_app once the socket is listening (after the model has loaded).
        print(f"videocache listening on {base} -> upstream {settings.upstream}", flush=True)
        print(
            f"try: curl -s {base}/v1/videos -H 'Authorization: Bearer sk-test' "
            "-H 'Content-Type: application/json' -d '{\"prompt\": \"a red fox at dawn\"}'",
            flush=True,
        )
        print("Ctrl-C stops", "both." if child is not None else "it.", flush=True)

    app = build_app(settings)
    app.on_startup.append(_freeze_startup_heap)
    try:
        web.run_app(
            app,
            host=settings.host,
            port=settings.port,
            print=announce,
            access_log=None,
            handle_signals=True,
            loop=_new_loop(),
        )
    except Exception as exc:
        # A start-up step failed: a port taken (the message names the address), a model
        # that would not load, a data dir not writable. One line, as for settings.
        raise SystemExit(f"videocache: cannot start: {exc}") from None
    finally:
        if child is not None:
            child.send_signal(signal.SIGTERM)
            try:
                child.wait(timeout=5)
            except subprocess.TimeoutExpired:
                child.kill()


async def _freeze_startup_heap(_app: object) -> None:
    """Move everything alive once start-up is done out of the garbage collector's way.

    Runs after the app's own start-up (the model and the cache index are loaded by then).
    That heap lives as long as the process, yet every full collection walked all of it: in
    the observability benchmark, full collections were about 4 % of the proxy's CPU time
    with no model loaded; with torch and an index in memory there is far more to walk.
    The price: a start-up object that later becomes part of a garbage cycle is never freed
    (start-up state lives as long as the process anyway).
    """
    gc.collect()
    gc.freeze()


def _new_loop() -> asyncio.AbstractEventLoop:
    # uvloop roughly halves the per-request cost of the event loop; plain asyncio works too.
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        serve(args)
    else:
        from simulator.cli import run

        run(args)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
