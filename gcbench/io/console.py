"""Standard output and error that a closed pipe cannot break (io room).

`gcbench run ... --json r.json | head -1` must still write r.json: once the reader has
gone, further output is dropped instead of raising BrokenPipeError, so the command goes
on and writes every file it was asked for.  The stream's descriptor is then pointed at
/dev/null, so that the interpreter's last flush at exit does not complain either.  The
CLI wraps sys.stdout and sys.stderr for the length of a command (`pipe_safe_streams`).
"""
import contextlib
import errno
import os
import sys


class PipeSafeStream:
    """A text stream whose writes are dropped once its reader has closed the pipe."""

    def __init__(self, stream):
        self._stream = stream
        self.reader_gone = False

    def _gone(self):
        self.reader_gone = True
        with contextlib.suppress(OSError, ValueError, AttributeError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._stream.fileno())
            os.close(devnull)

    def _guard(self, call, *args):
        if self.reader_gone:
            return None
        try:
            return call(*args)
        except BrokenPipeError:
            self._gone()
        except OSError as exc:
            if exc.errno not in (errno.EPIPE, errno.EINVAL):
                raise
            self._gone()
        except ValueError:               # the stream itself was closed
            self.reader_gone = True
        return None

    def write(self, text):
        self._guard(self._stream.write, text)
        return len(text)

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def flush(self):
        self._guard(self._stream.flush)

    def __getattr__(self, name):
        return getattr(self._stream, name)


@contextlib.contextmanager
def pipe_safe_streams():
    """sys.stdout and sys.stderr wrapped in PipeSafeStream for the block."""
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = PipeSafeStream(sys.stdout), PipeSafeStream(sys.stderr)
    try:
        yield
    finally:
        for wrapped in (sys.stdout, sys.stderr):
            if isinstance(wrapped, PipeSafeStream):
                wrapped.flush()
        sys.stdout, sys.stderr = saved
