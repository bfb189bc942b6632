"""gcbench: a garbage-collector laboratory.

    import gcbench
    result = gcbench.run("marksweep", "binary-trees", verify=True)
"""
__version__ = "0.1.0"


def run(*args, **kwargs):
    """See gcbench.runner.run."""
    from .runner import run as _run
    return _run(*args, **kwargs)
