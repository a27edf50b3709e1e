"""The ``etcdwire`` command."""

from __future__ import annotations

import argparse
import logging
import sys

from ..errors import EtcdError


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(
        prog="etcdwire", description="etcd v3 client with its own HTTP/2 and gRPC transport"
    )
    parser.add_argument("command", choices=["demo"], help="what to run")
    parser.add_argument("--debug", action="store_true", help="log at DEBUG level")
    known, rest = parser.parse_known_args(args[:1] + [a for a in args[1:] if a == "--debug"])
    logging.basicConfig(level=logging.DEBUG if known.debug else logging.WARNING)
    rest = [a for a in args[1:] if a != "--debug"]
    try:
        if known.command == "demo":
            from .demo import main as demo_main

            return demo_main(rest)
    except EtcdError as exc:
        sys.stderr.write(f"etcdwire: error: {exc}\n")
        return 1
    except KeyboardInterrupt:
        return 130
    return 2


if __name__ == "__main__":
    sys.exit(main())
