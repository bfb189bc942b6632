"""Operation traces: the text and binary formats, loading with validation, recording.

Text format (one operation per line; `#` starts a comment; blank lines are ignored):

    # gcbench trace 1        first line: the format and its version
    roots N                  root (stack) slots 0..N-1, N <= 256; before any operation
    globals N                optional: global slots 0..N-1, N <= 64 (default 0)
    alloc R NPTR SIZE        root R := a new object with NPTR pointer slots, SIZE payload bytes
    store R SLOT S           slot SLOT of the object in root R := the object in root S
                             ("-" = null), through the write barrier
    load R S SLOT            root R := slot SLOT of the object in root S
    clear R                  root R := null
    gc                       a full collection to completion (runtime.GC())
    gset G R                 global G := root R, through the write barrier   (extension)
    gget R G                 root R := global G                              (extension)
    tick N                   N mutator operations with no heap effect        (extension)

`gset`/`gget` give traces the globals Go programs hold long-lived data in (and which,
unlike roots, have a write barrier); `tick` keeps a replay's safepoints where the
original's were (work on non-heap data).  A store of a null root S stores null.

Binary format (the same operations, for long traces): a 32-byte little-endian header,
    magic b"GCBTRACE", uint32 version (1), uint32 record size (12), uint32 roots,
    uint32 globals, uint64 record count,
then fixed-size records of gcbench_core.heap.TRACE_DTYPE: uint8 op, uint8 a, uint8 b,
uint8 flags, uint32 x, uint32 y, with op codes TRACE_OPS and
    alloc: a=R x=NPTR y=SIZE   store: a=R x=SLOT b=S (flags=1: null)   load: a=R b=S x=SLOT
    clear: a=R   gc   gset: a=G b=R   gget: a=R b=G   tick: x=N.

Every trace is validated before it runs (gcbench_core.workloads.trace_replay.check_trace:
unknown operation, root, global or slot out of range, store or load through a null root);
an error names the line (text) or record (binary) and exits with code 2.
"""
import os
import struct

import numpy as np

from .atomic import atomic_open
from .errors import UsageError

TEXT_HEADER = "# gcbench trace 1"
MAGIC = b"GCBTRACE"
_BIN_HEADER = struct.Struct("<8sIIIIQ")
FORMATS = ("text", "binary")


def _core():
    from gcbench_core.heap import TRACE_DTYPE, TRACE_OPS
    return TRACE_DTYPE, TRACE_OPS


class Trace:
    """A parsed trace: records (TRACE_DTYPE), roots, globals, and for text traces the line
    number of each record (for error messages)."""

    def __init__(self, path, records, roots, nglobals, lines=None, fmt="text"):
        self.path = path
        self.records = records
        self.roots = roots
        self.globals = nglobals
        self.lines = lines
        self.format = fmt
        self.gc_ops = 0

    def where(self, index):
        if self.lines is not None and index < len(self.lines):
            return f"{self.path}:{self.lines[index]}"
        return f"{self.path}: record {index + 1}"


def _int(token, lineno, path, what, limit):
    try:
        value = int(token)
    except ValueError:
        raise UsageError(f"{path}:{lineno}: {what} must be an integer, got {token!r}") from None
    if value < 0 or value >= limit:
        raise UsageError(f"{path}:{lineno}: {what} {value} out of range [0, {limit - 1}]")
    return value


_USAGE = {"alloc": "alloc R NPTR SIZE", "store": "store R SLOT S|-", "load": "load R S SLOT",
          "clear": "clear R", "gc": "gc", "gset": "gset G R", "gget": "gget R G", "tick": "tick N"}


def parse_text(path, text):
    """Parse a text trace; syntax errors name their line.  Ranges are checked later."""
    _, ops = _core()
    lines = text.splitlines()
    if not lines or lines[0].strip() != TEXT_HEADER:
        raise UsageError(f"{path}:1: not a gcbench trace: the first line must be {TEXT_HEADER!r}")
    # field order of each operation's arguments: (record field, what, limit)
    root, glob, u32 = ("root", 256), ("global", 256), ("", 1 << 32)
    shapes = {
        "alloc": (("a", *root), ("x", "pointer-slot count", u32[1]), ("y", "payload size", u32[1])),
        "store": (("a", *root), ("x", "slot", u32[1]), ("b", *root)),
        "load": (("a", *root), ("b", *root), ("x", "slot", u32[1])),
        "clear": (("a", *root),),
        "gc": (),
        "gset": (("a", *glob), ("b", *root)),
        "gget": (("a", *root), ("b", *glob)),
        "tick": (("x", "tick count", u32[1]),),
    }
    roots = None
    nglobals = 0
    op_l, a_l, b_l, f_l, x_l, y_l, line_l = [], [], [], [], [], [], []
    for lineno, line in enumerate(lines[1:], start=2):
        hash_at = line.find("#")
        if hash_at >= 0:
            line = line[:hash_at]
        fields = line.split()
        if not fields:
            continue
        name = fields[0]
        if name in ("roots", "globals"):
            if len(fields) != 2:
                raise UsageError(f"{path}:{lineno}: `{name}` takes one number")
            if op_l:
                raise UsageError(f"{path}:{lineno}: `{name}` must come before the first operation")
            if name == "roots":
                roots = _int(fields[1], lineno, path, "roots", 257)
                if roots == 0:
                    raise UsageError(f"{path}:{lineno}: roots must be at least 1")
            else:
                nglobals = _int(fields[1], lineno, path, "globals", 65)
            continue
        shape = shapes.get(name)
        if shape is None:
            raise UsageError(f"{path}:{lineno}: unknown operation {name!r} (known: {', '.join(shapes)}, roots, globals)")
        if roots is None:
            raise UsageError(f"{path}:{lineno}: `roots N` must come before the first operation")
        if len(fields) != len(shape) + 1:
            raise UsageError(f"{path}:{lineno}: expected `{_USAGE[name]}`, got {line.strip()!r}")
        rec = {"a": 0, "b": 0, "x": 0, "y": 0}
        flags = 0
        for (field, what, limit), token in zip(shape, fields[1:]):
            if name == "store" and field == "b" and token == "-":
                flags = 1
                continue
            rec[field] = _int(token, lineno, path, what or field, limit)
        op_l.append(ops[name])
        a_l.append(rec["a"])
        b_l.append(rec["b"])
        f_l.append(flags)
        x_l.append(rec["x"])
        y_l.append(rec["y"])
        line_l.append(lineno)
    if roots is None:
        raise UsageError(f"{path}:{len(lines)}: no `roots N` line")
    records = _records(op_l, a_l, b_l, f_l, x_l, y_l)
    return Trace(path, records, roots, nglobals, np.asarray(line_l, dtype=np.int64), "text")


def _records(op, a, b, flags, x, y):
    dtype, _ = _core()
    records = np.zeros(len(op), dtype=dtype)
    for name, values in (("op", op), ("a", a), ("b", b), ("flags", flags), ("x", x), ("y", y)):
        records[name] = values
    return records


def parse_binary(path, data):
    dtype, _ = _core()
    if len(data) < _BIN_HEADER.size:
        raise UsageError(f"{path}: truncated binary trace header ({len(data)} bytes)")
    magic, version, size, roots, nglobals, count = _BIN_HEADER.unpack_from(data)
    if version != 1 or size != dtype.itemsize:
        raise UsageError(f"{path}: unsupported binary trace version {version} (record size {size}); expected version 1")
    if not 1 <= roots <= 256 or not 0 <= nglobals <= 64:
        raise UsageError(f"{path}: header declares {roots} roots and {nglobals} globals; "
                         f"allowed: 1..256 roots, 0..64 globals")
    body = len(data) - _BIN_HEADER.size
    if body != count * size:
        raise UsageError(f"{path}: binary trace holds {body} bytes of records, header says {count} records of {size} bytes")
    records = np.frombuffer(data, dtype=dtype, count=count, offset=_BIN_HEADER.size).copy()
    return Trace(path, records, roots, nglobals, None, "binary")


def _parse_text_fast(data):
    # the C fast path accepts only plainly written traces; None sends the file through
    # parse_text, which accepts the rest or names the line that is wrong
    from gcbench_core.tracetext import parse
    return parse(data)


_cache = {}


def load_trace(path):
    """Read and validate a trace file (text or binary, told apart by the magic); raises
    UsageError with the line (text) or record (binary) of the first problem."""
    from gcbench_core.workloads.trace_replay import check_trace
    from .units import require_regular_file
    require_regular_file(path, "trace")
    try:
        st = os.stat(path)
        key = (os.path.realpath(path), st.st_mtime_ns, st.st_size)
        if key in _cache:
            return _cache[key]
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise UsageError(f"cannot read trace {path}: {exc.strerror}") from None
    if data.startswith(MAGIC):
        trace = parse_binary(path, data)
    elif (fast := _parse_text_fast(data)) is not None:
        records, lines, roots, nglobals = fast
        trace = Trace(path, records, roots, nglobals, lines, "text")
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise UsageError(f"{path}: neither a binary trace (magic {MAGIC!r}) nor UTF-8 text") from None
        trace = parse_text(path, text)
    index_or_gcs, problem = check_trace(trace.records, trace.roots, trace.globals)
    if problem is not None:
        where = trace.where(index_or_gcs) if trace.records.shape[0] else trace.path
        raise UsageError(f"{where}: {problem}")
    trace.gc_ops = index_or_gcs
    _cache.clear()           # one trace at a time: a replay re-reads what the CLI validated
    _cache[key] = trace
    return trace


def extent(records):
    """(roots, globals) a recorded operation stream needs."""
    _, ops = _core()
    op = records["op"]
    root_fields = [records["a"][np.isin(op, [ops[o] for o in ("alloc", "store", "load", "clear", "gget")])],
                   records["b"][(op == ops["load"]) | (op == ops["gset"])
                                | ((op == ops["store"]) & (records["flags"] == 0))]]
    global_fields = [records["a"][op == ops["gset"]], records["b"][op == ops["gget"]]]
    roots = max([int(f.max()) + 1 for f in root_fields if f.size] + [1])
    nglobals = max([int(f.max()) + 1 for f in global_fields if f.size] + [0])
    return roots, nglobals


def write_text(path, records, roots, nglobals):
    from gcbench_core.tracetext import format_text
    with atomic_open(path, "wb") as f:
        f.write(f"{TEXT_HEADER}\nroots {roots}\n".encode())
        if nglobals:
            f.write(f"globals {nglobals}\n".encode())
        for start in range(0, len(records), 1 << 20):     # bounded buffers on long traces
            f.write(format_text(records[start:start + (1 << 20)]))


def write_binary(path, records, roots, nglobals):
    dtype, _ = _core()
    with atomic_open(path, "wb") as f:
        f.write(_BIN_HEADER.pack(MAGIC, 1, dtype.itemsize, roots, nglobals, records.shape[0]))
        f.write(np.ascontiguousarray(records, dtype=dtype).tobytes())


def format_for(path, fmt=None):
    """The format to write: `fmt` if given, else by extension (.bin/.gctrace -> binary)."""
    if fmt:
        if fmt not in FORMATS:
            raise UsageError(f"unknown trace format {fmt!r}; known: {', '.join(FORMATS)}")
        return fmt
    return "binary" if os.path.splitext(path)[1].lower() in (".bin", ".gcbt") else "text"


def record(collector, workload, path, fmt=None, **run_args):
    """Run `workload` with operation recording on and write its trace to `path`.

    Returns (result, records): the run's result dict and the recorded operations."""
    from .runner import run
    from .units import check_output_file
    fmt = format_for(path, fmt)
    check_output_file(path, "trace output")
    holder = {}

    def start(heap):
        holder["heap"] = heap
        heap.start_recording()

    result = run(collector, workload, on_heap=start, **run_args)
    records = holder["heap"].recorded_trace()
    roots, nglobals = extent(records)
    try:
        # (the writers remove their temporary file on any failure, Ctrl-C included)
        (write_binary if fmt == "binary" else write_text)(path, records, roots, nglobals)
    except OSError as exc:
        raise UsageError(f"cannot write trace {path}: {exc.strerror or exc}") from None
    return result, records, fmt
