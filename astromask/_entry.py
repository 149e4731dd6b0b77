"""The ``astromask`` command's entry point: Ctrl-C while it starts is one line.

Importing this module imports almost nothing (``astromask/__init__.py`` is
lazy), so an interruption while the command line's modules load is caught
here and reported as the command reports one later, with exit status 130.
"""

import signal
import sys


def main(argv=None):
    """Run `astromask.cli.main`; an interruption while importing it exits 130."""
    try:
        from astromask.cli import main as run
    except KeyboardInterrupt:
        print("\nastromask: interrupted while starting; nothing was done", file=sys.stderr)
        return 128 + signal.SIGINT
    return run(argv)


if __name__ == "__main__":
    sys.exit(main())
