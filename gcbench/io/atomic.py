"""Writing files so that nobody ever reads half of one: write beside, then rename (io room).

A write that fails or is interrupted (Ctrl-C) removes its temporary file and leaves the
destination as it was, so an interrupted run or suite never leaves a partial result.
Every file gcbench writes goes through here; it knows nothing of what it writes.
"""
import contextlib
import json
import os


@contextlib.contextmanager
def atomic_open(path, mode="w", encoding=None):
    """open() for writing `path` through `path.tmp`, renamed over `path` on success."""
    tmp = f"{path}.tmp"
    try:
        with open(tmp, mode, encoding=encoding) as f:
            yield f
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise


def write_json_atomic(path, data):
    with atomic_open(path) as f:
        json.dump(data, f, indent=1)
        f.write("\n")


def write_text_atomic(path, text):
    with atomic_open(path, encoding="utf-8") as f:
        f.write(text)
