"""Progress of one long native run, on a terminal only: a tqdm counter on stderr.

While the kernel runs without the GIL, a Python thread polls the heap's two progress
counters (ManagedHeap.progress: mutator operations and completed cycles, plain loads that
touch no heap state) every half second and shows them with their rate.  Nothing is shown
when stderr is not a terminal (pipes, files, JSON output stay clean), nor for runs shorter
than `delay` seconds (tqdm's delay).  The thread only reads; the run never waits for it.
"""
import sys
import threading

POLL_SECONDS = 0.5
DELAY_SECONDS = 2.0


class RunProgress:
    """Context manager; pass `attach` as run_config's on_heap.  Shown only on a tty."""

    def __init__(self, label, stream=None, delay=DELAY_SECONDS, force=False, poll=POLL_SECONDS):
        self.label = label
        self.poll = poll
        self.stream = sys.stderr if stream is None else stream
        self.enabled = force or _is_terminal(self.stream)
        self.delay = delay
        self._heap = None
        self._stop = threading.Event()
        self._thread = None

    def attach(self, managed_heap):
        self._heap = managed_heap
        if self.enabled:
            self._thread = threading.Thread(target=self._poll, name="gcbench-progress", daemon=True)
            self._thread.start()

    def _poll(self):
        from tqdm import tqdm
        # a pty without a window size (0 x 0) would make tqdm print nothing: assume 100 x 24
        sized = _columns(self.stream) > 0
        bar = tqdm(desc=self.label, unit=" ops", unit_scale=True, file=self.stream,
                   delay=self.delay, leave=False, dynamic_ncols=sized,
                   ncols=None if sized else 100, nrows=None if sized else 24)
        shown = 0

        def show():
            nonlocal shown
            ops, cycles = self._heap.progress()
            bar.set_postfix_str(f"{cycles} GC cycles", refresh=False)
            bar.update(max(ops - shown, 0))
            shown = max(ops, shown)
        try:
            while not self._stop.wait(self.poll):
                show()
            show()                   # the counters at the end of the run
        finally:
            bar.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        return False


def _is_terminal(stream):
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _columns(stream):
    import os
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, ValueError, OSError):
        return 0
