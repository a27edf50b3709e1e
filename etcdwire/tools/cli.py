"""The ``etcdwire`` command.

``etcdwire demo|spy|bench ...`` run those tools (each parses its own flags); every other command
line is an etcdctl-style command (``get``, ``put``, ``watch``, ``lease grant``...), handled by
:mod:`etcdwire.tools.ctl`.
"""

from __future__ import annotations

import contextlib
import importlib
import signal
import sys
import threading
from collections.abc import Callable

__all__ = ["TOOLS", "main"]

#: First words that run a tool of their own: word -> module under etcdwire.tools.
TOOLS = {"demo": "demo", "spy": "spy", "bench": "bench"}

EXIT_INTERRUPTED = 130


def _tool(word: str) -> Callable[[list[str]], int] | None:
    name = f"etcdwire.tools.{TOOLS[word]}"
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:
            raise
        return None
    entry: Callable[[list[str]], int] = module.main
    return entry


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    # SIGTERM ends a command the way Ctrl-C does, so lock and elect give up what they hold
    # (etcdctl handles both signals alike).
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminate)
    try:
        if args and args[0] in TOOLS:
            entry = _tool(args[0])
            if entry is None:
                sys.stderr.write(f"Error: `etcdwire {args[0]}` is not available in this build\n")
                return 1
            return _tool_main(entry, args[1:])
        from .ctl import run

        return run(args)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


def _tool_main(entry: Callable[[list[str]], int], rest: list[str]) -> int:
    from ..errors import EtcdError

    try:
        return entry(rest)
    except EtcdError as exc:
        sys.stderr.write(f"Error: {' '.join(str(exc).split())}\n")
        return 1


def _quiet_exit(code: int) -> None:
    """Exit without Python's noise: no traceback for a Ctrl-C that arrives during shutdown,
    no 'Exception ignored' for a closed pipe."""
    with contextlib.suppress(Exception):
        sys.stdout.flush()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sys.exit(code)


if __name__ == "__main__":
    try:
        status = main()
    except KeyboardInterrupt:
        status = EXIT_INTERRUPTED
    _quiet_exit(status)
