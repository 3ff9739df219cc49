"""Shared guards of the command line: exit codes, safe terminal text, checked arguments.

Every command prints user-made text (node ids, graph names, file names, messages that
quote them) through :func:`escape`, so that a name cannot move the cursor, forge a line
or retitle the terminal. Argument types (:func:`int_range`, :func:`limit_mb`,
:data:`seed`) turn out-of-range numbers into usage errors (exit 2) before any work
starts, and :class:`GuardedStdout` makes a closed pipe (``| head -1``) end quietly and a
full disk a one-line error.
"""

from __future__ import annotations

import argparse
import errno
import math
import os
import re
import sys
from collections.abc import Callable
from typing import TextIO

#: The command did what was asked.
EXIT_OK = 0
#: The graph is invalid (or empty), or the work was refused (memory limit, graph errors).
EXIT_REFUSED = 1
#: An input cannot be read (missing, not a graph or image, too large) or bad usage.
EXIT_UNREADABLE = 2

# C0 controls, DEL, C1 controls (CSI 0x9b starts an escape sequence on some terminals),
# lone surrogates, and the bidirectional overrides/isolates that reorder a line on screen.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_char(m: re.Match) -> str:
    ch = m.group()
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape(text: object) -> str:
    """``text`` with every terminal control character written as a visible escape.

    Parameters
    ----------
    text : object
        Usually a str (an id, a name, a message quoting them); anything else is ``str()``-ed.

    Returns
    -------
    str
        One printable line: ESC becomes ``\\x1b``, newline ``\\n``, a lone surrogate
        ``\\udc80``; other characters are unchanged.
    """
    return _UNSAFE.sub(_escape_char, text if isinstance(text, str) else str(text))


def message_lines(exc: BaseException) -> list[str]:
    """The lines to print for an engine error, each escaped.

    An error that carries ``errors`` (a list of ``(node, message)``, as the graph-error
    refusals of export and features do) gives its message's first line and then one
    ``  - message`` line per error; an error that carries ``lines`` (a weights file that
    does not fit) gives each of them; any other error gives its whole message as one
    escaped line, so a newline inside a quoted id cannot start a line of its own.
    """
    message = getattr(exc, "message", None) or str(exc)
    lines = getattr(exc, "lines", None)
    if isinstance(lines, list) and lines:  # a message written line by line (weights files)
        return [escape(line) for line in lines]
    errors = getattr(exc, "errors", None)
    if isinstance(errors, list) and errors:
        head = message.split("\n", 1)[0]
        return [escape(head)] + [f"  - {escape(m)}" for _, m in errors]
    return [escape(message)]


def report(command: str, exc: BaseException, stream: TextIO | None = None) -> None:
    """Print ``command: message`` (escaped, see :func:`message_lines`) to stderr."""
    stream = stream if stream is not None else sys.stderr
    lines = message_lines(exc)
    print(f"{command}: {lines[0]}", file=stream)
    for line in lines[1:]:
        print(line, file=stream)


# --------------------------------------------------------------------------- argument types
def int_range(lo: int, hi: int, what: str) -> Callable[[str], int]:
    """An argparse type: an integer in ``[lo, hi]``, else a usage error naming ``what``."""

    def parse(text: str) -> int:
        try:
            value = int(text.strip().replace("_", ""), 10) if len(text) <= 40 else None
        except ValueError:
            value = None
        if value is None or not lo <= value <= hi:
            raise argparse.ArgumentTypeError(
                f"{what} must be an integer from {lo:,} to {hi:,}, got {escape(text[:40])!r}"
            )
        return value

    parse.__name__ = what  # argparse names the type in some messages
    return parse


#: ``--seed``: what ``torch.manual_seed`` takes without wrapping around (0 … 2**63 - 1).
seed = int_range(0, 2**63 - 1, "the seed")


def limit_mb(text: str) -> float:
    """An argparse type: a finite, positive number of megabytes (``--memory-limit``)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0 or value > 2**40:
        raise argparse.ArgumentTypeError(
            f"the memory limit must be a positive number of MB (at most 2**40), "
            f"got {escape(text[:40])!r}"
        )
    return value


# --------------------------------------------------------------------------- standard output
class GuardedStdout:
    """Wraps standard output: a closed reader ends output quietly, a write error is kept.

    After a ``BrokenPipeError`` (``summary FILE | head -1``) the rest of the output goes
    to ``/dev/null`` and the command finishes with its own exit status; any other
    ``OSError`` (a full disk, ``> /dev/full``) is kept in :attr:`error` and later output is
    dropped, so that the command can end with one line instead of a traceback.
    """

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self.closed_by_reader = False
        self.error: OSError | None = None

    def _failed(self, exc: OSError) -> None:
        if isinstance(exc, BrokenPipeError) or exc.errno == errno.EPIPE:
            self.closed_by_reader = True
        elif self.error is None:
            self.error = exc
        try:  # what is still buffered, and the interpreter's flush at exit, go nowhere
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._stream.fileno())
            os.close(devnull)
        except (OSError, ValueError, AttributeError):
            pass

    @property
    def dead(self) -> bool:
        """Whether output is being dropped (reader gone or a write failed)."""
        return self.closed_by_reader or self.error is not None

    def write(self, text: str) -> int:
        """Write ``text`` unless output is dead; never raises ``OSError``."""
        if self.dead:
            return len(text)
        try:
            return self._stream.write(text)
        except OSError as exc:
            self._failed(exc)
            return len(text)

    def flush(self) -> None:
        """Flush unless output is dead; never raises ``OSError``."""
        if self.dead:
            return
        try:
            self._stream.flush()
        except OSError as exc:
            self._failed(exc)

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


# --------------------------------------------------------------------------- output folders
#: The file a command leaves in a folder it made, so that a later run may write there again.
FOLDER_MARK = ".convcanvas-output"


def data_arg_problem(command: str, data: str, folder_holds: str) -> str | None:
    """The one-line refusal of a ``--data`` that is neither ``shapes`` nor a folder, or None."""
    if data == "shapes" or os.path.isdir(data):
        return None
    what = "does not exist" if not os.path.exists(data) else "is not a folder"
    return (
        f"{command}: --data '{escape(data)}' {what}: give 'shapes' or a folder with {folder_holds}"
    )


def output_folder_problem(out: str | os.PathLike, command: str, overwrite: bool) -> str | None:
    """Why ``command`` may not write into ``out`` (``None``: it may).

    A missing or empty folder, or one holding :data:`FOLDER_MARK` (made by an earlier run),
    may be written; a non-empty folder the commands did not make is refused unless
    ``overwrite``, so that files of the same names (``labels.csv``, ``sparsity.csv``, PNGs)
    are never replaced by surprise. A file in the folder's place is refused always.
    """
    path = os.fspath(out)
    if os.path.lexists(path) and not os.path.isdir(path):
        return f"'{escape(path)}' exists and is not a folder"
    if not os.path.isdir(path) or overwrite:
        return None
    try:
        names = os.listdir(path)
    except OSError as exc:
        return f"cannot read the folder '{escape(path)}': {escape(exc.strerror or exc)}"
    if not names or FOLDER_MARK in names:
        return None
    return (
        f"'{escape(path)}' is not empty and was not made by {command} ({len(names):,} "
        f"entries); its files could be replaced: give --overwrite to write into it, or "
        f"choose a new folder"
    )


def mark_output_folder(out: str | os.PathLike) -> None:
    """Create ``out`` (and parents) and leave :data:`FOLDER_MARK` in it."""
    os.makedirs(out, exist_ok=True)
    mark = os.path.join(os.fspath(out), FOLDER_MARK)
    if not os.path.exists(mark):
        with open(mark, "w", encoding="utf-8") as fh:
            fh.write("written by ConvCanvas; a later run may replace the files here\n")


def output_file_problem(path: str | os.PathLike) -> str | None:
    """Why a file could not be written at ``path`` (``None``: it can), found before any work.

    A folder, device or FIFO in its place, or a folder that refuses a new file (probed
    with a temporary file, removed at once).
    """
    import stat
    import tempfile

    p = os.fspath(path)
    try:
        st = os.stat(p)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        return exc.strerror or str(exc)
    if st is not None and not stat.S_ISREG(st.st_mode):
        return "it is not a regular file (a folder, device or FIFO); it is not replaced"
    folder = os.path.dirname(os.path.realpath(p)) or "."
    try:
        fd, probe = tempfile.mkstemp(prefix=".probe-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


def remove_stale_temporaries(path: str | os.PathLike) -> list[str]:
    """Remove temporary files an interrupted save of ``path`` left (``.NAME.*.tmp``).

    Returns
    -------
    list of str
        The names removed.
    """
    p = os.path.realpath(os.fspath(path))
    folder, name = os.path.split(p)
    removed = []
    try:
        entries = os.listdir(folder or ".")
    except OSError:
        return []
    for entry in entries:
        if entry.startswith(f".{name}.") and entry.endswith(".tmp"):
            try:
                os.unlink(os.path.join(folder, entry))
                removed.append(entry)
            except OSError:
                pass
    return sorted(removed)
