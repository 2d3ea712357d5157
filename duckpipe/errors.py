"""Exception types that carry a user-facing message and an exit code (SPEC §1).

Failed units are not an exception: a run returns them and the CLI exits 1.

The CLI catches :class:`DuckpipeError` in one place, prints ``Error: <message>`` and exits
with ``exit_code``; anything else is a bug and shows a traceback only with ``-v``.
"""
from __future__ import annotations


class DuckpipeError(Exception):
    """Base class: a problem the user can fix; ``exit_code`` follows SPEC §1."""

    exit_code = 2

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class UsageError(DuckpipeError):
    """Bad option, filter, setting or path given by the user (exit 2)."""


class InputError(DuckpipeError):
    """Input data that cannot be read at all (exit 2 unless the caller says otherwise)."""


class WorkspaceLocked(DuckpipeError):
    """Another duckpipe process holds the workspace database."""


class EmptyWorkspace(DuckpipeError):
    """A command needs data or results that the workspace does not have yet."""


class Interrupted(DuckpipeError):
    """Ctrl-C: the current batch was finished or rolled back, then we stopped (exit 3)."""

    exit_code = 3


class EnvironmentFault(DuckpipeError):
    """The machine or the workspace is in the way: read-only or full disk, a damaged catalog,
    a temp directory that is a file (exit 2): one line naming the path and what to do."""
