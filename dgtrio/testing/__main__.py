"""``python -m dgtrio.testing``: run the fake Deepgram server standalone.

Useful for testing clients in other languages (or the official SDK) against
the same deterministic server dgtrio's tests use::

    python -m dgtrio.testing --port 8765
    DEEPGRAM_API_KEY=anything DEEPGRAM_PRODUCTION_URL=ws://127.0.0.1:8765 your-program

It prints one line, ``listening on ws://HOST:PORT``, once it accepts
connections, and runs until interrupted.
"""

from __future__ import annotations

import argparse
import sys

import trio

from . import open_fake_deepgram


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m dgtrio.testing",
        description="Run dgtrio's fake Deepgram-protocol server.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default: loopback)")
    parser.add_argument("--port", type=int, default=8765, help="port (0: any free port)")
    parser.add_argument(
        "--api-key", default=None, help="the only API key to accept (default: any credentials)"
    )
    parser.add_argument(
        "--idle-timeout",
        type=float,
        default=10.0,
        help="seconds without a client frame before /v1/listen closes with NET-0001",
    )
    parser.add_argument(
        "--lenient-query",
        action="store_true",
        help="accept unknown query parameters instead of answering 400",
    )
    return parser


async def _serve(args: argparse.Namespace) -> None:
    async with open_fake_deepgram(
        host=args.host,
        port=args.port,
        api_key=args.api_key,
        idle_timeout=args.idle_timeout,
        strict_query=not args.lenient_query,
    ) as server:
        print(f"listening on {server.url}", flush=True)
        await trio.sleep_forever()


def main(argv: list[str] | None = None) -> int:
    """Run the server until interrupted; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        trio.run(_serve, args)
    except KeyboardInterrupt:
        return 0
    except OSError as exc:
        print(f"python -m dgtrio.testing: {exc}", file=sys.stderr)
        return 1
    return 0  # pragma: no cover - serves until interrupted


if __name__ == "__main__":
    sys.exit(main())
