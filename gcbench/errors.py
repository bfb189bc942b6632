"""The two kinds of failure the command line distinguishes (exit codes 2 and 1).

Every room raises these and only the command line (cli.main) turns them into exit codes
and one-line messages; this module imports nothing of gcbench.
"""


class UsageError(ValueError):
    """Bad input: unknown name, malformed value, out-of-range number (exit code 2)."""


class RunError(RuntimeError):
    """A run that started and failed: heap exhausted, heap corruption (exit code 1)."""

    def __init__(self, kind, message):
        super().__init__(message)
        self.kind = kind


class Interrupted(RunError):
    """Ctrl-C during a native run (exit code 130)."""
