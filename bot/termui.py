"""Terminal comfort of the command line: colour, a progress line on stderr, shell completion scripts."""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at start-up
if TYPE_CHECKING:
    import argparse
    import threading
    from types import TracebackType
    from typing import TextIO

# SGR colours by role: what failed red, what warns yellow, what passed green.
STYLES = {"error": "1;31", "warning": "1;33", "pass": "1;32", "notice": "1;36", "skip": "2"}
# `check --format text` words (templates/check.txt.j2) and the role that colours them.
_CHECK_STATUS = {"PASS": "pass", "FAIL": "error", "WARN": "warning", "SKIP": "skip", "ERROR": "error"}
_CONCLUSION = {"success": "pass", "failure": "error", "neutral": "warning"}
_STATUS_LINE = r"^\[(PASS|FAIL|WARN|SKIP|ERROR)\]"
_FINDING_LINE = r"^( {4}- )(error|warning|notice)(:)"
_REVIEW_LINE = r"^(Review of .*\): )(success|failure|neutral)"


def color_wanted(mode: str, stream: TextIO) -> bool:
    """Whether to colour `stream`: --color always/never; for auto, FORCE_COLOR forces it, NO_COLOR (not empty) or
    TERM=dumb turns it off, else only when the stream is a terminal."""
    if mode in ("always", "never"):
        return mode == "always"
    env = os.environ
    if env.get("FORCE_COLOR", "") not in ("", "0", "false"):
        return True
    if env.get("NO_COLOR") or env.get("TERM") == "dumb":
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def paint(text: str, role: str) -> str:
    """`text` in the colour of `role` (plain when the role has none)."""
    style = STYLES.get(role)
    return f"\x1b[{style}m{text}\x1b[0m" if style and text else text


def paint_check_text(text: str) -> str:
    """The text report of `check`, coloured: the status of every check, the severity of every finding, the verdict."""
    import re  # here, not at import: `validate` imports this module for color_wanted and paint only

    out = []
    for line in text.split("\n"):
        if match := re.match(_STATUS_LINE, line):
            line = paint(match.group(0), _CHECK_STATUS[match.group(1)]) + line[match.end() :]
        elif match := re.match(_FINDING_LINE, line):
            line = match.group(1) + paint(match.group(2), match.group(2)) + line[match.start(3) :]
        elif match := re.match(_REVIEW_LINE, line):
            line = match.group(1) + paint(line[match.start(2) :], _CONCLUSION[match.group(2)])
        out.append(line)
    return "\n".join(out)


class Progress:
    """A one-line spinner with a label and the seconds elapsed, redrawn on a terminal's stderr while work runs.

    A context manager; on leaving, the line is erased so that what follows prints on a clean line. `enabled` False
    (stderr is no terminal): nothing is ever written.
    """

    FRAMES = "|/-\\"
    INTERVAL = 0.1

    def __init__(self, stream: TextIO, label: str, enabled: bool) -> None:
        self.stream, self.label, self.enabled = stream, label, enabled
        self._done: threading.Event | None = None
        self._thread: threading.Thread | None = None
        self._start = 0.0
        self._frame = 0

    def __enter__(self) -> Progress:
        if self.enabled:
            import threading
            import time

            self._start = time.monotonic()
            self._done = threading.Event()
            self._draw()
            self._thread = threading.Thread(target=self._spin, name="progress", daemon=True)
            self._thread.start()
        return self

    def update(self, label: str, done: int | None = None, total: int | None = None) -> None:
        """A new label (with `done/total` when counted), drawn at once; usable as a progress callback."""
        self.label = f"{label} ({done}/{total})" if done is not None and total else label
        if self.enabled:
            self._draw()

    def _spin(self) -> None:
        assert self._done is not None
        while not self._done.wait(self.INTERVAL):
            self._draw()

    def _draw(self) -> None:
        import time

        self._frame += 1
        seconds = int(time.monotonic() - self._start)
        try:
            self.stream.write(f"\r\x1b[2K{self.FRAMES[self._frame % len(self.FRAMES)]} {self.label} {seconds}s")
            self.stream.flush()
        except (OSError, ValueError):
            self.enabled = False

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._done is None or self._thread is None:
            return
        self._done.set()
        self._thread.join()
        try:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()
        except (OSError, ValueError):
            pass


def progress(stream: TextIO, label: str) -> Progress:
    """A progress line on `stream` when it is a terminal (TERM=dumb aside), else one that writes nothing."""
    try:
        enabled = stream.isatty() and os.environ.get("TERM") != "dumb"
    except (AttributeError, ValueError):
        enabled = False
    return Progress(stream, label, enabled)


def completion_script(parser: argparse.ArgumentParser, shell: str) -> str:
    """The completion script of `shell` for the parser's command, subcommands and options (generated by shtab);
    FILE and DIR arguments complete file and directory names."""
    import shtab

    for action in _actions(parser):
        metavar = str(action.metavar or "")
        if metavar in ("FILE", "F") or action.dest in ("files", "pr_body_file", "policy", "agreement_signatures"):
            action.complete = shtab.FILE  # type: ignore[attr-defined]  # shtab reads this attribute
        elif metavar == "DIR":
            action.complete = shtab.DIRECTORY  # type: ignore[attr-defined]
    return str(shtab.complete(parser, shell=shell))


def _actions(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    """Every action of the parser and of its subcommands' parsers."""
    import argparse

    out = []
    for action in parser._actions:
        out.append(action)
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):
                out.extend(_actions(sub))
    return out
