"""Run a program in a real pseudo-terminal (a detached tmux session) and read the screen as a
person would see it.

Each :class:`Terminal` has its own tmux server (a private socket in a temporary folder, no
user configuration), so tests never touch anyone's tmux and closing the terminal kills
everything it started. The pane is exactly ``width`` x ``height`` (no status line), ``TERM``
is ``xterm-256color``, and a pane whose program exited stays on screen with its exit status.

    with Terminal(["etcdwire", "member", "list", "-w", "table"], width=120) as term:
        status = term.wait_exit(10)
        screen = term.capture()            # with SGR escape sequences
        plain = term.text()                # without

    with Terminal.shell() as term:          # an interactive bash with a known prompt
        term.send_line("etcdwire watch foo")
        term.wait_for("foo")
        term.send_keys("C-c")
        term.wait_for_prompt()

Tests that need it are marked :data:`needs_tmux`, which skips them (with the reason) only
where tmux is not installed.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from types import TracebackType

import pytest

__all__ = [
    "PROMPT",
    "SGR",
    "Terminal",
    "TerminalTimeout",
    "needs_tmux",
    "sgr_codes",
    "strip_ansi",
]

TMUX = shutil.which("tmux")

needs_tmux = pytest.mark.skipif(
    TMUX is None, reason="tmux is not installed: terminal tests run programs inside tmux"
)

#: The prompt of :meth:`Terminal.shell`: unlikely to appear in any program's output.
PROMPT = "tt-prompt$ "

#: One SGR (colour / attribute) escape sequence, e.g. ``ESC[1;31m``; group 1 is the codes.
SGR = re.compile(r"\x1b\[([0-9;:]*)m")
_ANSI = re.compile(r"\x1b\[[0-9;:?]*[ -/]*[@-~]|\x1b[()][A-Za-z0-9]|\x1b[=>]")

_CONFIG = """\
set -g status off
set -g remain-on-exit on
set -g remain-on-exit-format ""
set -g history-limit 20000
set -g default-terminal xterm-256color
set -g escape-time 0
"""


class TerminalTimeout(AssertionError):
    """What was waited for did not appear on the screen in time (the screen is in the text)."""


def strip_ansi(text: str) -> str:
    """``text`` without escape sequences: what a person reads."""
    return _ANSI.sub("", text)


def sgr_codes(text: str) -> list[str]:
    """The parameter strings of every SGR sequence in ``text`` (``"0"`` for a bare reset)."""
    return [codes or "0" for codes in SGR.findall(text)]


class Terminal:
    """A program running in a ``width`` x ``height`` pseudo-terminal inside tmux.

    ``command`` is an argument list (run directly, no shell) or a shell string. ``env`` is
    added to this process's environment (``TERM`` is always ``xterm-256color``). The session
    starts at once; call :meth:`close` (or use ``with``) to kill it, whatever happened.
    """

    def __init__(
        self,
        command: Sequence[str] | str,
        *,
        width: int = 120,
        height: int = 40,
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
    ) -> None:
        if TMUX is None:
            raise RuntimeError("tmux is not installed")
        self.width = width
        self.height = height
        self._dir = tempfile.mkdtemp(prefix="etcdwire-tt-")
        self._socket = os.path.join(self._dir, "tmux.sock")
        config = os.path.join(self._dir, "tmux.conf")
        with open(config, "w", encoding="utf-8") as out:
            out.write(_CONFIG + f"set -g default-size {width}x{height}\n")
        self._env = {k: v for k, v in os.environ.items() if not k.startswith("TMUX")}
        # Given on the command line too: tmux starts panes through sh, which may drop some
        # variables (dash does not pass PS1 on), and sets TERM from default-terminal.
        assignments = [f"{k}={v}" for k, v in {**(env or {}), "TERM": "xterm-256color"}.items()]
        line = command if isinstance(command, str) else shlex.join(command)
        # tmux does not always record a pane's exit status (the pty's end can be seen before
        # the child is reaped), so the wrapping shell writes it down.
        self._status_file = os.path.join(self._dir, "status")
        line = f"env {shlex.join(assignments)} {line}; echo $? > {shlex.quote(self._status_file)}"
        self._dead_since: float | None = None
        self._closed = False
        try:
            self._tmux(
                "-f",
                config,
                "new-session",
                "-d",
                "-s",
                "tt",
                "-x",
                str(width),
                "-y",
                str(height),
                "-c",
                os.fspath(cwd) if cwd is not None else os.getcwd(),
                line,
            )
        except BaseException:
            self.close()
            raise

    @classmethod
    def shell(
        cls,
        *,
        width: int = 120,
        height: int = 40,
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        timeout: float = 10.0,
    ) -> Terminal:
        """An interactive bash (no rc files) showing :data:`PROMPT`, ready for input."""
        bash = shutil.which("bash") or "/bin/bash"
        term = cls(
            [bash, "--norc", "--noprofile", "-i"],
            width=width,
            height=height,
            env={**(env or {}), "PS1": PROMPT, "PROMPT_COMMAND": "", "HISTFILE": "/dev/null"},
            cwd=cwd,
        )
        try:
            term.wait_for_prompt(timeout=timeout)
        except BaseException:
            term.close()
            raise
        return term

    # --- plumbing ------------------------------------------------------------------------------

    def _tmux(self, *args: str) -> str:
        assert TMUX is not None
        done = subprocess.run(
            [TMUX, "-S", self._socket, *args],
            env=self._env,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"tmux {' '.join(args[:3])} failed: {done.stderr.strip()}")
        return done.stdout

    def __enter__(self) -> Terminal:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Kill the tmux server and everything running in it; idempotent."""
        if self._closed:
            return
        self._closed = True
        if TMUX is not None and os.path.exists(self._socket):
            subprocess.run(
                [TMUX, "-S", self._socket, "kill-server"],
                env=self._env,
                capture_output=True,
                timeout=10,
                check=False,
            )
        shutil.rmtree(self._dir, ignore_errors=True)

    # --- input ---------------------------------------------------------------------------------

    def send_keys(self, *keys: str) -> None:
        """Keys by tmux name: ``"C-c"``, ``"Enter"``, ``"Up"``, ``"q"``..."""
        self._tmux("send-keys", "-t", "tt", *keys)

    def send_text(self, text: str) -> None:
        """``text`` typed literally (no key names)."""
        self._tmux("send-keys", "-t", "tt", "-l", text)

    def send_line(self, text: str) -> None:
        """``text`` typed, then Enter."""
        self.send_text(text)
        self.send_keys("Enter")

    # --- output --------------------------------------------------------------------------------

    def record(self, path: str | os.PathLike[str]) -> None:
        """From now on, append every byte the program writes to the terminal (escape
        sequences, carriage returns and redraws included) to ``path``."""
        self._tmux("pipe-pane", "-o", "-t", "tt", f"cat >> {shlex.quote(os.fspath(path))}")

    def capture(self, *, escapes: bool = True, history: bool = False) -> str:
        """The screen as text, one line per row, with SGR escape sequences (``escapes``) and
        with the scrolled-off lines above (``history``)."""
        args = ["capture-pane", "-p", "-t", "tt"]
        if escapes:
            args.append("-e")
        if history:
            args += ["-S", "-"]
        return self._tmux(*args)

    def text(self, *, history: bool = False) -> str:
        """The screen as a person reads it: no escape sequences, trailing blanks dropped."""
        lines = self.capture(escapes=False, history=history).split("\n")
        return "\n".join(line.rstrip() for line in lines).rstrip("\n")

    def lines(self, *, history: bool = False) -> list[str]:
        """Non-empty lines of :meth:`text`."""
        return [line for line in self.text(history=history).split("\n") if line.strip()]

    def cursor(self) -> tuple[int, int]:
        """(column, row) of the cursor, from 0."""
        x, y = self._tmux("display-message", "-p", "-t", "tt", "#{cursor_x} #{cursor_y}").split()
        return int(x), int(y)

    def size(self) -> tuple[int, int]:
        """(width, height) of the pane as tmux reports it."""
        w, h = self._tmux(
            "display-message", "-p", "-t", "tt", "#{pane_width} #{pane_height}"
        ).split()
        return int(w), int(h)

    # --- waiting -------------------------------------------------------------------------------

    def wait_for(
        self,
        pattern: str | re.Pattern[str],
        *,
        timeout: float = 10.0,
        escapes: bool = False,
        history: bool = True,
    ) -> str:
        """Poll the screen until ``pattern`` (a substring, or a compiled regex) appears, and
        return the screen; :class:`TerminalTimeout` with the screen after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            screen = (
                self.capture(escapes=True, history=history)
                if escapes
                else self.text(history=history)
            )
            found = (
                pattern in screen
                if isinstance(pattern, str)
                else pattern.search(screen) is not None
            )
            if found:
                return screen
            if time.monotonic() > deadline:
                raise TerminalTimeout(
                    f"{pattern!r} not on screen after {timeout}s; "
                    f"screen:\n{self.text(history=True)}"
                )
            time.sleep(0.05)

    def wait_for_prompt(self, *, count: int = 1, timeout: float = 10.0) -> str:
        """Wait until the shell prompt shows ``count`` times (the first prompt is count 1),
        the last one at the end of the screen, ready for input."""
        deadline = time.monotonic() + timeout
        while True:
            screen = self.text(history=True)
            last = screen.rstrip("\n").split("\n")[-1] if screen else ""
            # a program that ends without a newline leaves the prompt after its last output
            if screen.count(PROMPT.rstrip()) >= count and last.rstrip().endswith(PROMPT.rstrip()):
                return screen
            if time.monotonic() > deadline:
                raise TerminalTimeout(
                    f"prompt #{count} not back after {timeout}s; screen:\n{screen}"
                )
            time.sleep(0.05)

    def exit_status(self) -> int | None:
        """The program's exit status once it ended (tmux keeps the pane), else None; -1 when
        it ended but its status is unknown (the wrapping shell was killed with it)."""
        try:
            with open(self._status_file, encoding="ascii") as recorded:
                text = recorded.read().strip()
            if text.isdigit():
                return int(text)
        except FileNotFoundError:
            pass
        shown = self._tmux("display-message", "-p", "-t", "tt", "#{pane_dead}:#{pane_dead_status}")
        dead, _, status = shown.strip().partition(":")
        if dead == "1" and not status.strip():
            now = time.monotonic()
            self._dead_since = self._dead_since or now
            return -1 if now - self._dead_since > 1.0 else None
        if dead != "1" or not status.strip().lstrip("-").isdigit():
            return None  # running, or its status not recorded yet
        return int(status)

    def wait_exit(self, timeout: float = 10.0) -> int:
        """Wait for the program to end and return its exit status."""
        deadline = time.monotonic() + timeout
        while (status := self.exit_status()) is None:
            if time.monotonic() > deadline:
                raise TerminalTimeout(
                    f"still running after {timeout}s; screen:\n{self.text(history=True)}"
                )
            time.sleep(0.05)
        return status
