# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""tracetext: the text trace parser's fast path, in C (gcbench/traces.py has the format).

`parse(data)` accepts exactly the well-formed traces written the plain way (decimal
numbers, blank/tab separators, `#` comments) and returns their records; on anything
else it returns None and gcbench/traces.py parses the file in Python, which either
accepts it (e.g. `1_000`, other Unicode whitespace) or reports the error with its line.
So this path never has to produce an error message, and must only never accept what the
Python parser rejects.  About 50x faster than the Python loop on long traces.
"""
from libc.stdint cimport uint8_t, uint32_t, uint64_t, int64_t
from libc.string cimport memcmp
from gcbench_core.heap cimport (TraceRecord, TRACE_ALLOC, TRACE_STORE, TRACE_LOAD, TRACE_CLEAR,
                                TRACE_GC, TRACE_GSET, TRACE_GGET, TRACE_TICK, TRACE_NULL)

import numpy as np
from gcbench_core.heap import TRACE_DTYPE

ctypedef struct Token:
    const char* s
    int64_t n

cdef enum:
    MAX_TOKENS = 5

ctypedef struct Parser:
    const char* data
    int64_t size
    TraceRecord* out
    int64_t* lines
    int64_t count
    int roots               # -1 until `roots N`
    int nglobals

# Only space and tab: Python's splitlines() breaks lines at \r, \v, \f and more, so a
# line holding one of those goes to the Python parser (a \r just before \n is dropped).
cdef inline bint is_blank(char c) noexcept nogil:
    return c == c' ' or c == c'\t'

cdef inline bint token_is(Token* t, const char* word, int64_t n) noexcept nogil:
    return t.n == n and memcmp(t.s, word, n) == 0

# A decimal number below `limit`, else -1.
cdef inline int64_t number(Token* t, uint64_t limit) noexcept nogil:
    cdef uint64_t v = 0
    cdef int64_t i
    if t.n == 0 or t.n > 10:
        return -1
    for i in range(t.n):
        if t.s[i] < c'0' or t.s[i] > c'9':
            return -1
        v = v * 10 + <uint64_t>(t.s[i] - c'0')
    if v >= limit:
        return -1
    return <int64_t>v

cdef bint parse_lines(Parser* p) noexcept nogil:
    cdef int64_t pos = 0, end, next_pos, line = 0, i, ntok
    cdef Token tok[MAX_TOKENS]
    cdef const char* d = p.data
    cdef int64_t v[3]
    cdef TraceRecord* rec
    cdef bint first = True
    cdef const char* header = b"# gcbench trace 1"
    while pos < p.size:
        line += 1
        end = pos
        while end < p.size and d[end] != c'\n':
            end += 1
        next_pos = end + 1
        if end > pos and d[end - 1] == c'\r':
            end -= 1
        if first:
            # the header, surrounded by blanks only
            i = pos
            while i < end and is_blank(d[i]):
                i += 1
            if end - i < 17 or memcmp(d + i, header, 17) != 0:
                return False
            i += 17
            while i < end and is_blank(d[i]):
                i += 1
            if i != end:
                return False
            first = False
            pos = next_pos
            continue
        # tokens up to a comment
        ntok = 0
        i = pos
        while i < end and d[i] != c'#':
            if is_blank(d[i]):
                i += 1
                continue
            if ntok == MAX_TOKENS:
                return False
            tok[ntok].s = d + i
            while i < end and d[i] != c'#' and not is_blank(d[i]):
                i += 1
            tok[ntok].n = (d + i) - tok[ntok].s
            ntok += 1
        pos = next_pos
        if ntok == 0:
            continue
        if token_is(&tok[0], b"roots", 5) or token_is(&tok[0], b"globals", 7):
            if ntok != 2 or p.count > 0:
                return False
            if tok[0].n == 5:
                p.roots = <int>number(&tok[1], 257)
                if p.roots <= 0:
                    return False
            else:
                p.nglobals = <int>number(&tok[1], 65)
                if p.nglobals < 0:
                    return False
            continue
        if p.roots < 0:
            return False
        rec = &p.out[p.count]
        rec.op = 0
        rec.a = rec.b = rec.flags = 0
        rec.x = rec.y = 0
        if token_is(&tok[0], b"alloc", 5) and ntok == 4:
            v[0] = number(&tok[1], 256)
            v[1] = number(&tok[2], <uint64_t>1 << 32)
            v[2] = number(&tok[3], <uint64_t>1 << 32)
            if v[0] < 0 or v[1] < 0 or v[2] < 0:
                return False
            rec.op = TRACE_ALLOC
            rec.a = <uint8_t>v[0]
            rec.x = <uint32_t>v[1]
            rec.y = <uint32_t>v[2]
        elif token_is(&tok[0], b"store", 5) and ntok == 4:
            v[0] = number(&tok[1], 256)
            v[1] = number(&tok[2], <uint64_t>1 << 32)
            if token_is(&tok[3], b"-", 1):
                rec.flags = TRACE_NULL
                v[2] = 0
            else:
                v[2] = number(&tok[3], 256)
            if v[0] < 0 or v[1] < 0 or v[2] < 0:
                return False
            rec.op = TRACE_STORE
            rec.a = <uint8_t>v[0]
            rec.x = <uint32_t>v[1]
            rec.b = <uint8_t>v[2]
        elif token_is(&tok[0], b"load", 4) and ntok == 4:
            v[0] = number(&tok[1], 256)
            v[1] = number(&tok[2], 256)
            v[2] = number(&tok[3], <uint64_t>1 << 32)
            if v[0] < 0 or v[1] < 0 or v[2] < 0:
                return False
            rec.op = TRACE_LOAD
            rec.a = <uint8_t>v[0]
            rec.b = <uint8_t>v[1]
            rec.x = <uint32_t>v[2]
        elif token_is(&tok[0], b"clear", 5) and ntok == 2:
            v[0] = number(&tok[1], 256)
            if v[0] < 0:
                return False
            rec.op = TRACE_CLEAR
            rec.a = <uint8_t>v[0]
        elif token_is(&tok[0], b"gc", 2) and ntok == 1:
            rec.op = TRACE_GC
        elif (token_is(&tok[0], b"gset", 4) or token_is(&tok[0], b"gget", 4)) and ntok == 3:
            v[0] = number(&tok[1], 256)
            v[1] = number(&tok[2], 256)
            if v[0] < 0 or v[1] < 0:
                return False
            rec.op = TRACE_GSET if tok[0].s[1] == c's' else TRACE_GGET
            rec.a = <uint8_t>v[0]
            rec.b = <uint8_t>v[1]
        elif token_is(&tok[0], b"tick", 4) and ntok == 2:
            v[0] = number(&tok[1], <uint64_t>1 << 32)
            if v[0] < 0:
                return False
            rec.op = TRACE_TICK
            rec.x = <uint32_t>v[0]
        else:
            return False
        p.lines[p.count] = line
        p.count += 1
    return not first and p.roots > 0


def parse(data):
    """(records, lines, roots, globals) of a plainly written text trace, else None."""
    cdef const uint8_t[::1] raw = data
    cdef Parser p
    cdef bint ok
    capacity = data.count(b"\n") + 1
    records = np.zeros(capacity, dtype=TRACE_DTYPE)
    lines = np.zeros(capacity, dtype=np.int64)
    cdef uint8_t[::1] rec_view = records.view(np.uint8)
    cdef int64_t[::1] line_view = lines
    if raw.shape[0] == 0:
        return None
    p.data = <const char*>&raw[0]
    p.size = raw.shape[0]
    p.out = <TraceRecord*>&rec_view[0]
    p.lines = &line_view[0]
    p.count = 0
    p.roots = -1
    p.nglobals = 0
    with nogil:
        ok = parse_lines(&p)
    if not ok:
        return None
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
