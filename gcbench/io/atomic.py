"""Writing files so that nobody ever reads half of one: write beside, then rename (io room).

Every write goes to a temporary file beside its destination with a name no other
writer uses (`.NAME.PID.RANDOM.tmp`, the NAME part cut short so that the whole name stays
within 255 bytes), then is renamed over the destination.  So two processes writing the
same file never share a temporary file, and the last rename wins whole.  A write that
fails or is interrupted (Ctrl-C, SIGTERM turned into an exception) removes its temporary
file and leaves the destination as it was: an interrupted run or suite never leaves a
partial file.  `AtomicGroup` holds several writes back until all of them succeeded
(`gcbench run --json --timeline`: both files, or neither).
Every file gcbench writes goes through here; it knows nothing of what it writes.
"""
import contextlib
import json
import os
import secrets

# the longest file name component Linux file systems take, in bytes
NAME_MAX = 255


def temporary_name(path, suffix=""):
    """A fresh temporary path beside `path`, unique to this process and call."""
    directory, name = os.path.split(os.fspath(path))
    tail = f".{os.getpid()}.{secrets.token_hex(4)}.tmp{suffix}"
    encoded = name.encode("utf-8", "surrogateescape")[:NAME_MAX - 1 - len(tail.encode())]
    short = encoded.decode("utf-8", "ignore")
    return os.path.join(directory, f".{short}{tail}")


def _remove(path):
    with contextlib.suppress(OSError):
        os.remove(path)


class AtomicGroup:
    """Several atomic writes that land together: each is written to its temporary file,
    and the renames run only when the group's block ends without an exception; on any
    exception every temporary file is removed and no destination is touched."""

    def __init__(self):
        self.pending = []            # (temporary path, destination)

    def __enter__(self):
        return self

    def __exit__(self, kind, value, tb):
        if kind is None:
            try:
                while self.pending:
                    tmp, path = self.pending[0]
                    os.replace(tmp, path)
                    self.pending.pop(0)
            finally:
                for tmp, _ in self.pending:
                    _remove(tmp)
        else:
            for tmp, _ in self.pending:
                _remove(tmp)
            self.pending.clear()
        return False


@contextlib.contextmanager
def atomic_path(path, suffix="", group=None):
    """A temporary path for a writer that opens files by name (pyperf, matplotlib): the
    block writes it, and it is renamed over `path` on success (or when `group` commits);
    removed on any failure.  `suffix` ends the temporary name (an image format's
    extension, for writers that look at it)."""
    tmp = temporary_name(path, suffix)
    try:
        yield tmp
    except BaseException:
        _remove(tmp)
        raise
    if group is not None:
        group.pending.append((tmp, os.fspath(path)))
        return
    try:
        os.replace(tmp, path)
    except BaseException:
        _remove(tmp)
        raise


@contextlib.contextmanager
def atomic_open(path, mode="w", encoding=None, group=None):
    """open() for writing `path` through a unique temporary file, renamed over `path` on
    success (or when `group` commits)."""
    with atomic_path(path, group=group) as tmp:
        # O_EXCL: the name is this writer's alone; 0o666 under the umask, as open() creates
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with open(fd, mode, encoding=encoding) as f:
            yield f


def write_json_atomic(path, data, group=None):
    with atomic_open(path, group=group) as f:
        json.dump(data, f, indent=1)
        f.write("\n")


def write_text_atomic(path, text, group=None):
    with atomic_open(path, encoding="utf-8", group=group) as f:
        f.write(text)
