"""What astromask changes in its process for speed, and what it leaves alone.

* `astromask._backend.load_keras` turns on TensorFlow's pooling CPU
  allocator unless the variable is set;
* `astromask._backend.keep_freed_memory` makes glibc keep freed memory;
* `astromask._entry.console` ends the command without module teardown, after
  the ``atexit`` functions, and the usual way while a thread still works.

Each runs in a fresh Python process, since each changes its process.
"""

import os
import subprocess
import sys
import textwrap

import pytest

from astromask._backend import TENSORFLOW_DEFAULTS, backend_name


def _python(code, *args, env=None, timeout=300):
    """Run ``code`` in a fresh Python with ``args``; ``env`` replaces the environment."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *map(str, args)],
        capture_output=True,
        text=True,
        env=os.environ if env is None else env,
        timeout=timeout,
    )


@pytest.mark.parametrize("preset", [None, "false"])
def test_tensorflow_pools_cpu_memory_unless_the_user_said_otherwise(preset):
    env = {k: v for k, v in os.environ.items() if k != "TF_CPU_ALLOCATOR_USE_BFC"}
    if preset is not None:
        env["TF_CPU_ALLOCATOR_USE_BFC"] = preset
    done = _python(
        """
        import os
        from astromask._backend import load_keras
        load_keras()
        print(os.environ.get("TF_CPU_ALLOCATOR_USE_BFC"))
        """,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    seen = done.stdout.split()[-1]
    if preset is not None:
        assert seen == preset  # the user's choice is kept
    elif backend_name() == "tensorflow":
        assert seen == TENSORFLOW_DEFAULTS["TF_CPU_ALLOCATOR_USE_BFC"] == "true"
    else:
        assert seen == "None"  # other backends: nothing set


@pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="glibc's mallopt and /proc are Linux's"
)
def test_keeping_freed_memory_keeps_a_freed_block_resident():
    # A 200 MB block freed: glibc's default returns it to the system (the
    # resident size drops); after keep_freed_memory it stays for reuse.
    code = """
        import sys
        import numpy as np
        from astromask._backend import keep_freed_memory

        def resident_mb():
            with open("/proc/self/statm") as f:
                return int(f.read().split()[1]) * 4096 / 2**20

        if sys.argv[1] == "keep":
            assert keep_freed_memory() is True
        block = np.ones(50_000_000, np.float32)
        before = resident_mb()
        del block
        print(before - resident_mb())
    """
    dropped = {}
    for mode in ("default", "keep"):
        done = _python(code, mode, timeout=120)
        assert done.returncode == 0, done.stderr
        dropped[mode] = float(done.stdout.split()[-1])
    assert dropped["default"] > 150
    assert dropped["keep"] < 10


def test_the_command_ends_with_its_status_after_the_atexit_functions(tmp_path):
    code = """
        import atexit, sys
        atexit.register(lambda: print("atexit ran", flush=True))
        sys.argv = ["astromask", *sys.argv[1:]]
        from astromask._entry import console
        console()
    """
    done = _python(code, "--version", timeout=120)
    assert done.returncode == 0, done.stderr
    version, last = done.stdout.splitlines()
    assert version.startswith("astromask ") and last == "atexit ran"
    done = _python(code, "flag", tmp_path / "missing.fits")
    assert done.returncode != 0  # the command's own failure status, kept
    assert "missing.fits" in done.stderr


def test_a_thread_still_working_is_waited_for():
    # leave() ends the usual way (joining the thread) when a non-daemon
    # thread is alive; with os._exit the thread's line would be lost.
    code = """
        import threading, time
        from astromask._entry import leave

        def late():
            time.sleep(0.5)
            print("thread finished", flush=True)

        threading.Thread(target=late).start()
        leave(3)
    """
    done = _python(code, timeout=60)
    assert done.returncode == 3
    assert done.stdout.strip() == "thread finished"


def test_leave_flushes_what_was_printed_and_keeps_the_status():
    done = _python(
        """
        import sys
        from astromask._entry import leave
        sys.stdout.write("no newline, buffered")
        leave(7)
        """,
        timeout=60,
    )
    assert done.returncode == 7
    assert done.stdout == "no newline, buffered"
