# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""tracetext: the text trace format, parsed and written in C: the only text parser.

Grammar (one operation per line; `#` starts a comment; blank lines are ignored):

    # gcbench trace 1        first line: the format and its version
    roots N                  root (stack) slots 0..N-1, 1 <= N <= 256; before any operation
    globals N                optional: global slots 0..N-1, N <= 64 (default 0)
    alloc R NPTR SIZE        root R := a new object with NPTR pointer slots, SIZE payload bytes
    store R SLOT S|-         slot SLOT of the object in root R := the object in root S (- = null)
    load R S SLOT            root R := slot SLOT of the object in root S
    clear R                  root R := null
    gc                       a full collection to completion (runtime.GC())
    gset G R                 global G := root R, through the write barrier
    gget R G                 root R := global G
    tick N                   N mutator operations with no heap effect
    drop R [all]             root R := null, and its object is dead (with `all`: and everything
                             it owned alone): malloc frees it, other collectors clear the root

Lines end at \\n, \\r\\n, \\r, \\v, \\f and \\x1c-\\x1e (as Python's splitlines() ends them);
fields are separated by spaces and tabs; a number is written as Python's int() reads an
ASCII integer (optional sign, digits, single underscores between digits).

`parse(data)` returns (records, lines, roots, globals); on the first syntax error it raises
TraceSyntaxError(line, message).  The per-byte loop runs in C without the GIL and only
finds where the error is; its message is written afterwards from that line's text.
Ranges that depend on the whole trace (a root below `roots`, a slot the object has) are
checked by trace_replay.check_trace, not here.  It never imports the harness (gcbench/).
"""
from libc.stdint cimport uint8_t, uint32_t, uint64_t, int64_t
from libc.string cimport memcmp
from gcbench_core.heap cimport (TraceRecord, TRACE_ALLOC, TRACE_STORE, TRACE_LOAD, TRACE_CLEAR,
                                TRACE_GC, TRACE_GSET, TRACE_GGET, TRACE_TICK, TRACE_NULL,
                                TRACE_DROP, TRACE_RECURSIVE)

import re
import numpy as np
from gcbench_core.heap import TRACE_DTYPE

TEXT_HEADER = "# gcbench trace 1"


class TraceSyntaxError(ValueError):
    """A text trace that does not follow the grammar: `line` (1-based) and `message`."""

    def __init__(self, line, message):
        super().__init__(f"{line}: {message}")
        self.line = line
        self.message = message


# Each operation's fields: (record field, what the message calls it, exclusive limit).
_ROOT = ("root", 256)
_GLOBAL = ("global", 256)
_U32 = 1 << 32
SHAPES = {
    "alloc": (("a", *_ROOT), ("x", "pointer-slot count", _U32), ("y", "payload size", _U32)),
    "store": (("a", *_ROOT), ("x", "slot", _U32), ("b", *_ROOT)),
    "load": (("a", *_ROOT), ("b", *_ROOT), ("x", "slot", _U32)),
    "clear": (("a", *_ROOT),),
    "gc": (),
    "gset": (("a", *_GLOBAL), ("b", *_ROOT)),
    "gget": (("a", *_ROOT), ("b", *_GLOBAL)),
    "tick": (("x", "tick count", _U32),),
    "drop": (("a", *_ROOT),),
}
USAGE = {"alloc": "alloc R NPTR SIZE", "store": "store R SLOT S|-", "load": "load R S SLOT",
         "clear": "clear R", "gc": "gc", "gset": "gset G R", "gget": "gget R G", "tick": "tick N",
         "drop": "drop R [all]"}
_HEADER_LIMITS = {"roots": 257, "globals": 65}

ctypedef struct Token:
    const char* s
    int64_t n

cdef enum:
    MAX_TOKENS = 5

cdef enum:
    # what parse_lines found wrong (err_line says where)
    E_NONE = 0
    E_HEADER = 1            # the first line is not the header
    E_TAKES_ONE = 2         # `roots`/`globals` without exactly one number
    E_TOO_LATE = 3          # `roots`/`globals` after an operation
    E_NUMBER = 4            # token err_tok is not a number in range
    E_ROOTS_ZERO = 5
    E_UNKNOWN_OP = 6
    E_NO_ROOTS_YET = 7      # an operation before `roots N`
    E_ARITY = 8             # wrong number of fields
    E_NO_ROOTS_LINE = 9     # the file ends without `roots N`

ctypedef struct Parser:
    const char* data
    int64_t size
    TraceRecord* out
    int64_t* lines
    int64_t count
    int roots               # -1 until `roots N`
    int nglobals
    int err
    int64_t err_line
    int64_t err_start       # the erring line's text before any comment: [err_start, err_end)
    int64_t err_end
    int err_tok

cdef inline bint is_blank(char c) noexcept nogil:
    return c == c' ' or c == c'\t'

cdef inline bint is_break(char c) noexcept nogil:
    # \n \v \f \r and \x1c \x1d \x1e: the ASCII line boundaries of str.splitlines()
    return c == c'\n' or c == c'\r' or c == 11 or c == 12 or c == 28 or c == 29 or c == 30

cdef inline bint token_is(Token* t, const char* word, int64_t n) noexcept nogil:
    return t.n == n and memcmp(t.s, word, n) == 0

# A number as int() reads it, below `limit`; else -1 (not a number, negative or too big).
cdef inline int64_t number(Token* t, uint64_t limit) noexcept nogil:
    cdef uint64_t v = 0
    cdef int64_t i = 0, digits = 0
    cdef bint negative = False, big = False
    cdef char c
    if t.n > 0 and (t.s[0] == c'+' or t.s[0] == c'-'):
        negative = t.s[0] == c'-'
        i = 1
    while i < t.n:
        c = t.s[i]
        if c == c'_':
            # only between two digits
            if digits == 0 or i + 1 >= t.n or t.s[i + 1] < c'0' or t.s[i + 1] > c'9':
                return -1
        elif c < c'0' or c > c'9':
            return -1
        else:
            digits += 1
            if v > (<uint64_t>1 << 40):
                big = True
            else:
                v = v * 10 + <uint64_t>(c - c'0')
        i += 1
    if digits == 0 or big or v >= limit or (negative and v != 0):
        return -1
    return <int64_t>v

cdef inline bint fail(Parser* p, int kind, int64_t line, int64_t start, int64_t end, int tok) noexcept nogil:
    p.err = kind
    p.err_line = line
    p.err_start = start
    p.err_end = end
    p.err_tok = tok
    return False

cdef bint parse_lines(Parser* p) noexcept nogil:
    cdef int64_t pos = 0, end, next_pos, line = 0, i, ntok, content_end
    cdef Token tok[MAX_TOKENS]
    cdef const char* d = p.data
    cdef int64_t v[3]
    cdef TraceRecord* rec
    cdef bint first = True
    cdef const char* header = b"# gcbench trace 1"
    while pos < p.size:
        line += 1
        end = pos
        while end < p.size and not is_break(d[end]):
            end += 1
        next_pos = end + 1
        if end + 1 < p.size and d[end] == c'\r' and d[end + 1] == c'\n':
            next_pos = end + 2
        if first:
            # the header, surrounded by blanks only
            i = pos
            while i < end and is_blank(d[i]):
                i += 1
            if end - i < 17 or memcmp(d + i, header, 17) != 0:
                return fail(p, E_HEADER, 1, pos, end, 0)
            i += 17
            while i < end and is_blank(d[i]):
                i += 1
            if i != end:
                return fail(p, E_HEADER, 1, pos, end, 0)
            first = False
            pos = next_pos
            continue
        # tokens up to a comment (the first MAX_TOKENS kept, all counted)
        ntok = 0
        i = pos
        while i < end and d[i] != c'#':
            if is_blank(d[i]):
                i += 1
                continue
            if ntok < MAX_TOKENS:
                tok[ntok].s = d + i
            while i < end and d[i] != c'#' and not is_blank(d[i]):
                i += 1
            if ntok < MAX_TOKENS:
                tok[ntok].n = (d + i) - tok[ntok].s
            ntok += 1
        content_end = i
        if ntok == 0:
            pos = next_pos
            continue
        if token_is(&tok[0], b"roots", 5) or token_is(&tok[0], b"globals", 7):
            if ntok != 2:
                return fail(p, E_TAKES_ONE, line, pos, content_end, 0)
            if p.count > 0:
                return fail(p, E_TOO_LATE, line, pos, content_end, 0)
            if tok[0].n == 5:
                p.roots = <int>number(&tok[1], 257)
                if p.roots < 0:
                    return fail(p, E_NUMBER, line, pos, content_end, 1)
                if p.roots == 0:
                    p.roots = -1
                    return fail(p, E_ROOTS_ZERO, line, pos, content_end, 1)
            else:
                p.nglobals = <int>number(&tok[1], 65)
                if p.nglobals < 0:
                    return fail(p, E_NUMBER, line, pos, content_end, 1)
            pos = next_pos
            continue
        rec = &p.out[p.count]
        rec.op = 0
        rec.a = rec.b = rec.flags = 0
        rec.x = rec.y = 0
        if token_is(&tok[0], b"alloc", 5):
            rec.op = TRACE_ALLOC
        elif token_is(&tok[0], b"store", 5):
            rec.op = TRACE_STORE
        elif token_is(&tok[0], b"load", 4):
            rec.op = TRACE_LOAD
        elif token_is(&tok[0], b"clear", 5):
            rec.op = TRACE_CLEAR
        elif token_is(&tok[0], b"gc", 2):
            rec.op = TRACE_GC
        elif token_is(&tok[0], b"gset", 4):
            rec.op = TRACE_GSET
        elif token_is(&tok[0], b"gget", 4):
            rec.op = TRACE_GGET
        elif token_is(&tok[0], b"tick", 4):
            rec.op = TRACE_TICK
        elif token_is(&tok[0], b"drop", 4):
            rec.op = TRACE_DROP
        else:
            return fail(p, E_UNKNOWN_OP, line, pos, content_end, 0)
        if p.roots < 0:
            return fail(p, E_NO_ROOTS_YET, line, pos, content_end, 0)
        if rec.op == TRACE_ALLOC or rec.op == TRACE_STORE or rec.op == TRACE_LOAD:
            if ntok != 4:
                return fail(p, E_ARITY, line, pos, content_end, 0)
        elif rec.op == TRACE_GC:
            if ntok != 1:
                return fail(p, E_ARITY, line, pos, content_end, 0)
        elif rec.op == TRACE_GSET or rec.op == TRACE_GGET:
            if ntok != 3:
                return fail(p, E_ARITY, line, pos, content_end, 0)
        elif rec.op == TRACE_DROP:
            if ntok == 3 and token_is(&tok[2], b"all", 3):
                rec.flags = TRACE_RECURSIVE
            elif ntok != 2:
                return fail(p, E_ARITY, line, pos, content_end, 0)
        elif ntok != 2:
            return fail(p, E_ARITY, line, pos, content_end, 0)
        if rec.op == TRACE_ALLOC:
            v[0] = number(&tok[1], 256)
            if v[0] < 0:
                return fail(p, E_NUMBER, line, pos, content_end, 1)
            v[1] = number(&tok[2], <uint64_t>1 << 32)
            if v[1] < 0:
                return fail(p, E_NUMBER, line, pos, content_end, 2)
            v[2] = number(&tok[3], <uint64_t>1 << 32)
            if v[2] < 0:
                return fail(p, E_NUMBER, line, pos, content_end, 3)
            rec.a = <uint8_t>v[0]
            rec.x = <uint32_t>v[1]
            rec.y = <uint32_t>v[2]
        elif rec.op == TRACE_STORE:
            v[0] = number(&tok[1], 256)
            if v[0] < 0:
                return fail(p, E_NUMBER, line, pos, content_end, 1)
            v[1] = number(&tok[2], <uint64_t>1 << 32)
            if v[1] < 0:
                return fail(p, E_NUMBER, line, pos, content_end, 2)
            if token_is(&tok[3], b"-", 1):
                rec.flags = TRACE_NULL
                v[2] = 0
            else:
                v[2] = number(&tok[3], 256)
                if v[2] < 0:
                    return fail(p, E_NUMBER, line, pos, content_end, 3)
            rec.a = <uint8_t>v[0]
            rec.x = <uint32_t>v[1]
            rec.b = <uint8_t>v[2]
        elif rec.op == TRACE_LOAD:
            v[0] = number(&tok[1], 256)
            if v[0] < 0:
                return fail(p, E_NUMBER, line, pos, content_end, 1)
            v[1] = number(&tok[2], 256)
            if v[1] < 0:
                return fail(p, E_NUMBER, line, pos, content_end, 2)
            v[2] = number(&tok[3], <uint64_t>1 << 32)
            if v[2] < 0:
                return fail(p, E_NUMBER, line, pos, content_end, 3)
            rec.a = <uint8_t>v[0]
            rec.b = <uint8_t>v[1]
            rec.x = <uint32_t>v[2]
        elif rec.op == TRACE_CLEAR or rec.op == TRACE_DROP:
            v[0] = number(&tok[1], 256)
            if v[0] < 0:
                return fail(p, E_NUMBER, line, pos, content_end, 1)
            rec.a = <uint8_t>v[0]
        elif rec.op == TRACE_GSET or rec.op == TRACE_GGET:
            v[0] = number(&tok[1], 256)
            if v[0] < 0:
                return fail(p, E_NUMBER, line, pos, content_end, 1)
            v[1] = number(&tok[2], 256)
            if v[1] < 0:
                return fail(p, E_NUMBER, line, pos, content_end, 2)
            rec.a = <uint8_t>v[0]
            rec.b = <uint8_t>v[1]
        elif rec.op == TRACE_TICK:
            v[0] = number(&tok[1], <uint64_t>1 << 32)
            if v[0] < 0:
                return fail(p, E_NUMBER, line, pos, content_end, 1)
            rec.x = <uint32_t>v[0]
        p.lines[p.count] = line
        p.count += 1
        pos = next_pos
    if first:
        return fail(p, E_HEADER, 1, 0, 0, 0)
    if p.roots < 0:
        return fail(p, E_NO_ROOTS_LINE, line, 0, 0, 0)
    return True


_FIELD_SPLIT = re.compile(rb"[ \t]+")


def _number_message(token, what, limit):
    """Why `token` is not a number in [0, limit) (the E_NUMBER message)."""
    text = token.decode("utf-8", errors="replace")
    try:
        value = int(text) if text.isascii() else None
    except ValueError:
        value = None
    if value is None:
        return f"{what} must be an integer, got {text!r}"
    return f"{what} {value} out of range [0, {limit - 1}]"


cdef _message(Parser* p, data):
    content = bytes(data[p.err_start:p.err_end])
    fields = [f for f in _FIELD_SPLIT.split(content.strip(b" \t")) if f]
    name = fields[0].decode("utf-8", errors="replace") if fields else ""
    if p.err == E_HEADER:
        return f"not a gcbench trace: the first line must be {TEXT_HEADER!r}"
    if p.err == E_TAKES_ONE:
        return f"`{name}` takes one number"
    if p.err == E_TOO_LATE:
        return f"`{name}` must come before the first operation"
    if p.err == E_ROOTS_ZERO:
        return "roots must be at least 1"
    if p.err == E_UNKNOWN_OP:
        return f"unknown operation {name!r} (known: {', '.join(SHAPES)}, roots, globals)"
    if p.err == E_NO_ROOTS_YET:
        return "`roots N` must come before the first operation"
    if p.err == E_ARITY:
        return f"expected `{USAGE[name]}`, got {content.decode('utf-8', errors='replace').strip()!r}"
    if p.err == E_NO_ROOTS_LINE:
        return "no `roots N` line"
    if p.err == E_NUMBER:
        token = fields[p.err_tok]
        if name in _HEADER_LIMITS:
            return _number_message(token, name, _HEADER_LIMITS[name])
        _, what, limit = SHAPES[name][p.err_tok - 1]
        return _number_message(token, what, limit)
    raise AssertionError(p.err)


def parse(data):
    """(records, lines, roots, globals) of the text trace `data` (bytes): the records as
    TRACE_DTYPE, the line of each.  Raises TraceSyntaxError at the first syntax error."""
    cdef const uint8_t[::1] raw = data
    cdef Parser p
    cdef bint ok
    capacity = data.count(b"\n") + data.count(b"\r") + data.count(b"\x0b") + data.count(b"\x0c") + 1
    capacity += data.count(b"\x1c") + data.count(b"\x1d") + data.count(b"\x1e")
    records = np.zeros(capacity, dtype=TRACE_DTYPE)
    lines = np.zeros(capacity, dtype=np.int64)
    cdef uint8_t[::1] rec_view = records.view(np.uint8)
    cdef int64_t[::1] line_view = lines
    p.data = <const char*>&raw[0] if raw.shape[0] else NULL
    p.size = raw.shape[0]
    p.out = <TraceRecord*>&rec_view[0]
    p.lines = &line_view[0]
    p.count = 0
    p.roots = -1
    p.nglobals = 0
    p.err = E_NONE
    with nogil:
        ok = parse_lines(&p)
    if not ok:
        raise TraceSyntaxError(int(p.err_line), _message(&p, data))
    return records[:p.count].copy(), lines[:p.count].copy(), p.roots, p.nglobals


# ---------------------------------------------------------------------------
# Writing: one line per record, formatted in C (the text is built in one buffer).

cdef extern from "stdio.h" nogil:
    int snprintf(char* s, size_t n, const char* fmt, ...)

cdef int64_t format_records(const TraceRecord* recs, int64_t n, char* out) noexcept nogil:
    # out must hold 48 bytes per record (the longest line, `alloc 255 4294967295
    # 4294967295`, is 28); returns the bytes written
    cdef int64_t i, pos = 0
    cdef const TraceRecord* r
    for i in range(n):
        r = &recs[i]
        if r.op == TRACE_ALLOC:
            pos += snprintf(out + pos, 48, "alloc %u %u %u\n", <unsigned>r.a, r.x, r.y)
        elif r.op == TRACE_STORE:
            if r.flags == TRACE_NULL:
                pos += snprintf(out + pos, 48, "store %u %u -\n", <unsigned>r.a, r.x)
            else:
                pos += snprintf(out + pos, 48, "store %u %u %u\n", <unsigned>r.a, r.x, <unsigned>r.b)
        elif r.op == TRACE_LOAD:
            pos += snprintf(out + pos, 48, "load %u %u %u\n", <unsigned>r.a, <unsigned>r.b, r.x)
        elif r.op == TRACE_CLEAR:
            pos += snprintf(out + pos, 48, "clear %u\n", <unsigned>r.a)
        elif r.op == TRACE_GC:
            pos += snprintf(out + pos, 48, "gc\n")
        elif r.op == TRACE_GSET:
            pos += snprintf(out + pos, 48, "gset %u %u\n", <unsigned>r.a, <unsigned>r.b)
        elif r.op == TRACE_GGET:
            pos += snprintf(out + pos, 48, "gget %u %u\n", <unsigned>r.a, <unsigned>r.b)
        elif r.op == TRACE_TICK:
            pos += snprintf(out + pos, 48, "tick %u\n", r.x)
        elif r.op == TRACE_DROP:
            if r.flags & TRACE_RECURSIVE:
                pos += snprintf(out + pos, 48, "drop %u all\n", <unsigned>r.a)
            else:
                pos += snprintf(out + pos, 48, "drop %u\n", <unsigned>r.a)
        else:
            pos += snprintf(out + pos, 48, "# unknown operation %u\n", <unsigned>r.op)
    return pos


def format_text(records):
    """The operation lines of `records` (TRACE_DTYPE) as bytes."""
    records = np.ascontiguousarray(records, dtype=TRACE_DTYPE)
    cdef const uint8_t[::1] raw = records.view(np.uint8)
    out = bytearray(48 * records.shape[0] + 1)
    cdef uint8_t[::1] buf = out
    cdef int64_t n = records.shape[0], written = 0
    if n:
        with nogil:
            written = format_records(<const TraceRecord*>&raw[0], n, <char*>&buf[0])
    return bytes(out[:written])
