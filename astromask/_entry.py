"""The ``astromask`` command's entry point.

Importing this module imports almost nothing (``astromask/__init__.py`` is
lazy), so an interruption while the command line's modules load is caught
here and reported as the command reports one later, with exit status 130.

`console` is what the installed ``astromask`` command runs.  Once the
command is done it ends the process without tearing down every module:
with TensorFlow loaded that teardown took 1.2 s of a 19 s command
(:doc:`/performance`), and it does nothing a finished command needs.  The
``atexit`` functions still run, the standard streams are flushed, and when
a thread other than daemons is still running the process ends the usual way.
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


def leave(status):
    """End the process with ``status`` now, as `sys.exit` would but without module teardown.

    Runs the ``atexit`` functions and flushes the standard streams first.
    Falls back to `sys.exit` when a non-daemon thread is still alive (the
    interpreter would wait for it) or when the interpreter has no
    ``atexit._run_exitfuncs`` (not CPython).
    """
    import atexit
    import os
    import threading

    if not isinstance(status, int):
        sys.exit(status)
    others = [t for t in threading.enumerate() if t is not threading.current_thread()]
    run_exit_functions = getattr(atexit, "_run_exitfuncs", None)
    if run_exit_functions is None or any(not t.daemon for t in others):
        sys.exit(status)
    run_exit_functions()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, OSError, ValueError):
            pass
    os._exit(status)


def console():
    """The installed ``astromask`` command: `main`, then `leave` with its status.

    The process is the command's own, so on the backends that allocate
    through the C library it keeps freed memory for reuse first
    (`astromask._backend.keep_freed_memory`; TensorFlow pools its own).
    """
    from astromask._backend import backend_name, keep_freed_memory

    if backend_name() != "tensorflow":
        keep_freed_memory()
    leave(main())


if __name__ == "__main__":
    console()
