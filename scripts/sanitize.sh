#!/usr/bin/env bash
# Run gcbench's tests against a debug build of the kernels under a sanitizer.
#
#   scripts/sanitize.sh address [PYTEST ARGS...]   AddressSanitizer (+ debug assertions and
#                                                  poisoning of freed objects), whole suite
#                                                  but the pyperf benchmark-script smoke tests
#   scripts/sanitize.sh thread  [PYTEST ARGS...]   ThreadSanitizer, the concurrent tests
#                                                  (names matching tricolor, concurrent,
#                                                  test_markers: the parallel markers,
#                                                  test_threads, test_pool_threads: the mutator
#                                                  threads and the Pool's Ps)
#                                                  and the core tests as a smoke test
#   scripts/sanitize.sh debug   [PYTEST ARGS...]   debug build only (assertions, poison)
#
# Extra arguments replace the default test selection (e.g. `address tests/test_core.py`).
# The build goes into a copy of the checkout (GCBENCH_SANITIZE_DIR, default
# $TMPDIR/gcbench-sanitize-MODE), built in place and imported through PYTHONPATH, so the
# installed gcbench and the checkout's own build are untouched; rebuilding is incremental.
#
# Python itself is not instrumented, so the sanitizer runtime is preloaded
# (LD_PRELOAD=libasan/libtsan from the compiler).  Leak detection is off: the CPython
# interpreter keeps its memory until exit by design, which is not our leak.  Any report
# makes the process exit with an error (halt_on_error), so a clean pass means no report.
# Exit code: pytest's (0 when clean).  Needs gcc with libasan/libtsan (Debian: gcc); the
# Python build requirements (Cython, setuptools, wheel) are installed with pip if missing.
set -euo pipefail
mode="${1:-address}"
shift || true
here="$(cd "$(dirname "$0")/.." && pwd)"
case "$mode" in
    address) sanitize=address; runtime=libasan.so ;;
    thread)  sanitize=thread;  runtime=libtsan.so ;;
    debug)   sanitize="";      runtime="" ;;
    *) echo "usage: $0 address|thread|debug [pytest args...]" >&2; exit 2 ;;
esac
dir="${GCBENCH_SANITIZE_DIR:-${TMPDIR:-/tmp}/gcbench-sanitize-$mode}"
mkdir -p "$dir"

# the build needs Cython, setuptools and wheel (pyproject's build requirements), which a
# `pip install .` environment does not keep: install what is missing
if ! python -c "import Cython, setuptools, wheel, numpy" 2>/dev/null; then
    echo "sanitize.sh: installing the build requirements (Cython, setuptools, wheel, numpy)" >&2
    python -m pip install -q 'Cython>=3.0' 'setuptools>=64' wheel 'numpy>=1.24' || {
        echo "sanitize.sh: could not install Cython, setuptools and wheel with pip" >&2; exit 1; }
fi

# copy the sources (tracked and new files, not build outputs): only a file whose content
# differs from the copy is written, so it is newer than anything built from it (even when
# a merge gave it an older mtime than an earlier build's output) and an unchanged .pyx or
# .pxd is not rebuilt
(cd "$here" && git ls-files -co --exclude-standard -z 2>/dev/null || find . -name '*.py*' -print0) \
    | python -c '
import os, shutil, sys
here, dest = sys.argv[1], sys.argv[2]
for name in sys.stdin.buffer.read().decode().split("\0"):
    src, dst = os.path.join(here, name), os.path.join(dest, name)
    if not name or not os.path.isfile(src):
        continue
    with open(src, "rb") as f:
        data = f.read()
    if os.path.isfile(dst):
        with open(dst, "rb") as f:
            if f.read() == data:
                continue
    os.makedirs(os.path.dirname(dst) or ".", exist_ok=True)
    with open(dst, "wb") as f:
        f.write(data)
    shutil.copymode(src, dst)
' "$here" "$dir"

cd "$dir"
echo "sanitize.sh: building ($mode) in $dir" >&2
build_log="$dir/build.log"
if ! GCBENCH_DEBUG=1 GCBENCH_SANITIZE="$sanitize" python setup.py build_ext --inplace -q -j 2 >"$build_log" 2>&1; then
    tail -30 "$build_log" >&2
    echo "sanitize.sh: build failed (log: $build_log)" >&2
    exit 1
fi

preload=""
if [ -n "$runtime" ]; then
    preload="$(${CC:-gcc} -print-file-name="$runtime")"
    if [ ! -e "$preload" ]; then
        echo "sanitize.sh: $runtime not found (install gcc's sanitizer runtimes)" >&2
        exit 1
    fi
    # C++ extensions (matplotlib's) throw exceptions: the sanitizer's __cxa_throw
    # interceptor needs libstdc++ loaded with it, not later by dlopen
    cxx="$(${CC:-gcc} -print-file-name=libstdc++.so.6)"
    [ -e "$cxx" ] && preload="$preload $cxx"
fi

if [ $# -eq 0 ]; then
    case "$mode" in
        thread) set -- tests -k "tricolor or concurrent or test_core or test_markers or test_threads or test_pool_threads" ;;
        # the benchmark-script smoke tests run pyperf, whose worker processes get a
        # cleaned environment (no LD_PRELOAD), so the sanitizer runtime cannot load first
        *)      set -- tests --ignore=tests/test_benchmark_scripts.py ;;
    esac
fi

export PYTHONPATH="$dir"
export ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:abort_on_error=0:exitcode=99:${ASAN_OPTIONS:-}"
export TSAN_OPTIONS="halt_on_error=1:exitcode=99:report_signal_unsafe=0:${TSAN_OPTIONS:-}"
# keep the sanitizer's reports of the CLI subprocesses in a file as well (they write to
# stderr, which the tests capture)
export ASAN_OPTIONS="$ASAN_OPTIONS:log_path=$dir/asan"
export TSAN_OPTIONS="$TSAN_OPTIONS:log_path=$dir/tsan"
rm -f "$dir"/asan.* "$dir"/tsan.*
status=0
LD_PRELOAD="$preload" python -m pytest -q -p no:cacheprovider "$@" || status=$?
# no tests selected (e.g. no concurrent collector yet) is not a failure
[ "$status" = 5 ] && { echo "sanitize.sh: no tests selected" >&2; status=0; }
reports=$(ls "$dir"/asan.* "$dir"/tsan.* 2>/dev/null || true)
if [ -n "$reports" ]; then
    echo "sanitize.sh: sanitizer reports:" >&2
    for f in $reports; do echo "== $f" >&2; head -60 "$f" >&2; done
    status=1
fi
[ "$status" = 0 ] && echo "sanitize.sh: $mode: clean" >&2
exit "$status"
