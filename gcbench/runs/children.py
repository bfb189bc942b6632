"""Child processes die with their parent (runs room).

Every process gcbench starts (minheap's forked probes, the suite's pyperf main process
and pyperf's worker processes) asks the kernel, first thing, for SIGKILL when its parent
dies (Linux prctl(PR_SET_PDEATHSIG)), so a SIGTERM or SIGKILL of any gcbench command
leaves no process behind: the death runs down the tree, one generation at a time.  A
parent that died before the request was made is seen by getppid() changing, and the
child exits at once.  Elsewhere than Linux this is a no-op (the suite also puts its pyperf
tree in its own process group and kills the group when interrupted).
"""
import ctypes
import os
import signal
import subprocess

PR_SET_PDEATHSIG = 1


def die_with_parent(expected_parent=None):
    """Ask for SIGKILL when the parent process dies; exit now if it already has.
    `expected_parent`: the parent's pid as the parent knew it (a fork's os.getpid()
    before forking); by default the parent this process has now."""
    parent = os.getppid() if expected_parent is None else expected_parent
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError):
        return False
    if os.getppid() != parent:       # the parent died before the request took effect
        os._exit(1)
    return True


def _preexec_die_with_parent():
    # Popen's preexec_fn: between fork and exec the parent is the process that started us
    die_with_parent()


def run_child(cmd, **popen_kwargs):
    """Run `cmd` in its own process group, dying with this process; on an interrupt (or
    any exception) while waiting, kill the whole group (pyperf's main process and its
    workers) and re-raise.  Returns (returncode, stdout, stderr) as Popen.communicate."""
    proc = subprocess.Popen(cmd, start_new_session=True, preexec_fn=_preexec_die_with_parent,
                            **popen_kwargs)
    try:
        out, err = proc.communicate()
    except BaseException:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
        raise
    return proc.returncode, out, err
