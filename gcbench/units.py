"""Parsing of sizes, GOGC and KEY=VALUE lists, and the checks on input and output paths,
with one-line errors (UsageError).  Shared by every room; it knows nothing of runs,
results or files' contents, and imports only gcbench.errors.
"""
import re
from fractions import Fraction

from .errors import UsageError

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kKmMgGtT]?)(i?[bB])?\s*$")
# More digits than any size, count or seed gcbench takes (2**64 has 20): such a number is
# refused by its length, before Python's int() (which stops at 4300 digits) sees it.
MAX_DIGITS = 40


def short_number(value):
    """`value` for a message: itself, or "a N-digit number" when it is too long to print
    (str() of an int over 4300 digits raises ValueError)."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value.bit_length() > 4 * MAX_DIGITS:
            return f"a {int(abs(value).bit_length() * 0.30103) + 1}-digit number"
        return str(value)
    text = repr(value)
    return text if len(text) <= 80 else text[:60] + f"... ({len(text)} characters)"
_MULT = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def parse_size(text, what="size"):
    """'64M', '2G', '1.5G', '4096' -> bytes (powers of 1024)."""
    if isinstance(text, int) and not isinstance(text, bool):
        if text <= 0:
            raise UsageError(f"{what} must be positive, got {short_number(text)}")
        return text
    m = _SIZE.match(str(text)) if len(str(text)) <= 2 * MAX_DIGITS else None
    if not m:
        raise UsageError(f"malformed {what} {short_number(text)}: expected bytes or a number with K, M, G (e.g. 64M, 2G)")
    # exact arithmetic: a float would turn 400 digits into infinity
    value = Fraction(m.group(1)) * _MULT[m.group(2).lower()]
    if value < 1:
        raise UsageError(f"{what} must be positive, got {text!r}")
    return int(value)


def format_bytes(n):
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if abs(n) >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def parse_gogc(text):
    """GOGC: a non-negative integer, or 'off' (None)."""
    if text is None:
        return 100
    if isinstance(text, int) and not isinstance(text, bool):
        value = text
    else:
        s = str(text).strip().lower()
        if s == "off":
            return None
        try:
            if len(s) > MAX_DIGITS:
                raise ValueError
            value = int(s)
        except ValueError:
            raise UsageError(f"malformed GOGC {short_number(text)}: expected a non-negative integer or 'off'") from None
    if value < 0:
        raise UsageError(f"GOGC must be non-negative or 'off', got {short_number(value)}")
    if value > 1_000_000:
        raise UsageError(f"GOGC {short_number(value)} is out of range (at most 1000000)")
    return value


def parse_key_values(items, what="--param"):
    """['k=v', ...] -> {'k': 'v'}; the values are converted later against a spec."""
    out = {}
    for item in items or ():
        if "=" not in item:
            raise UsageError(f"malformed {what} {item!r}: expected KEY=VALUE")
        key, value = item.split("=", 1)
        key = key.strip()
        if not key:
            raise UsageError(f"malformed {what} {item!r}: empty key")
        out[key] = value.strip()
    return out


def require_regular_file(path, what):
    """Refuse, with a UsageError, an input path that is not a regular file.  Reading a
    device or a pipe (/dev/zero, a FIFO) could take forever and all memory; a directory
    or a name with a NUL byte gives Python exceptions rather than one line."""
    import os
    if "\0" in os.fsdecode(path):
        raise UsageError(f"{what} {path!r}: not a valid file name (NUL byte)")
    try:
        is_dir = os.path.isdir(path)
        is_other = os.path.exists(path) and not os.path.isfile(path)
    except ValueError:
        # NUL bytes in the name
        raise UsageError(f"{what} {path!r}: not a valid file name") from None
    if is_dir:
        raise UsageError(f"{what} {path}: is a directory")
    if is_other:
        raise UsageError(f"{what} {path}: not a regular file")


def check_output_file(path, what):
    """Refuse an output path that cannot be written, before a run rather than after it."""
    import os
    if "\0" in os.fsdecode(path):
        raise UsageError(f"{what} {path!r}: not a valid file name (NUL byte)")
    check_name_length(path, what)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise UsageError(f"{what} {path}: directory {directory} does not exist")
    if os.path.isdir(path):
        raise UsageError(f"{what} {path}: is a directory")
    # outputs are written to a temporary file and renamed over the target: over a device
    # (/dev/null) or a FIFO that rename would replace the device node itself
    if os.path.exists(path) and not os.path.isfile(path):
        raise UsageError(f"{what} {path}: not a regular file (outputs are written to a "
                         "temporary file and renamed into place)")



# The longest file name (one path component) Linux file systems take, in bytes.
NAME_MAX = 255


def check_name_length(path, what, extra=""):
    """Refuse an output whose file name (with `extra` appended: a companion file's suffix)
    would pass NAME_MAX bytes, before anything runs."""
    import os
    name = os.path.basename(os.fspath(path)) + extra
    if len(os.fsencode(name)) > NAME_MAX:
        raise UsageError(f"{what} {short_number(os.fspath(path))}: the file name is too long "
                         f"({len(os.fsencode(name))} bytes{' with ' + repr(extra) if extra else ''}; "
                         f"at most {NAME_MAX})")
