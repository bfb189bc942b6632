"""`python -m gcbench`: the same command as the `gcbench` script (cli.main)."""
import sys

try:
    # Ctrl-C while the modules are still importing: the same one line and exit code as
    # during a run, not a traceback
    from .cli import main
    code = main()
except KeyboardInterrupt:
    print("gcbench: interrupted", file=sys.stderr)
    code = 130
sys.exit(code)
