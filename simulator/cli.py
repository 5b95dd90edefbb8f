"""Command line of the simulator: `python -m simulator` or `videocache simulate`."""

from __future__ import annotations

import argparse
import sys

from simulator.settings import SimulatorSettings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = SimulatorSettings()
    parser.add_argument("--host", default=defaults.host)
    parser.add_argument("--port", type=int, default=defaults.port)
    parser.add_argument("--flavor", choices=["openai", "bifrost"], default=defaults.flavor)
    parser.add_argument(
        "--speed",
        type=float,
        default=defaults.speed,
        help="time compression: a job takes job-seconds / speed real seconds",
    )
    parser.add_argument("--job-seconds", type=float, default=defaults.job_seconds)
    parser.add_argument("--failure-rate", type=float, default=defaults.failure_rate)
    parser.add_argument(
        "--content-bytes",
        type=int,
        default=defaults.content_bytes,
        help="pad each MP4 to at least this many bytes",
    )
    parser.add_argument("--provider", default=defaults.provider)
    parser.add_argument("--asset-ttl", type=int, default=defaults.asset_ttl)
    parser.add_argument(
        "--per-key",
        action="store_true",
        help="each video visible only to the Authorization and OpenAI-Project that made it",
    )
    parser.add_argument(
        "--ids-per-key",
        action="store_true",
        help="video ids unique only per key (every key's first is the same); implies --per-key",
    )
    parser.add_argument(
        "--content-disposition",
        action="store_true",
        help='content with Content-Disposition: attachment; filename="<id>.mp4" (as LiteLLM)',
    )


def settings_from_args(args: argparse.Namespace) -> SimulatorSettings:
    """Validated settings; exits with one clear line on a bad value."""
    problems = []
    if not 0 < args.port <= 65535:
        problems.append("--port must be between 1 and 65535")
    if not args.speed > 0:
        problems.append("--speed must be > 0")
    if not args.job_seconds >= 0:
        problems.append("--job-seconds must be >= 0")
    if not 0 <= args.failure_rate <= 1:
        problems.append("--failure-rate must be between 0 and 1")
    if args.content_bytes < 0:
        problems.append("--content-bytes must be >= 0")
    if args.asset_ttl < 0:
        problems.append("--asset-ttl must be >= 0")
    if not args.provider:
        problems.append("--provider must not be empty")
    if problems:
        print(f"simulator: {'; '.join(problems)}", file=sys.stderr)
        raise SystemExit(2)
    return SimulatorSettings(
        host=args.host,
        port=args.port,
        flavor=args.flavor,
        provider=args.provider,
        speed=args.speed,
        job_seconds=args.job_seconds,
        failure_rate=args.failure_rate,
        content_bytes=args.content_bytes,
        asset_ttl=args.asset_ttl,
        per_key=args.per_key,
        ids_per_key=args.ids_per_key,
        content_disposition=args.content_disposition,
    )


def run(args: argparse.Namespace) -> None:
    from aiohttp import web

    from simulator.app import build_app

    settings = settings_from_args(args)
    print(
        f"simulator listening on http://{settings.host}:{settings.port} (flavor {settings.flavor})",
        flush=True,
    )
    try:
        web.run_app(
            build_app(settings),
            host=settings.host,
            port=settings.port,
            print=None,
            access_log=None,
            handle_signals=True,
        )
    except OSError as exc:
        # e.g. the port is taken: one line, no traceback.
        print(
            f"simulator: cannot listen on {settings.host}:{settings.port}: {exc}", file=sys.stderr
        )
        raise SystemExit(1) from None
    except KeyboardInterrupt:
        pass


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="simulator", description=__doc__)
    add_arguments(parser)
    run(parser.parse_args(argv))
