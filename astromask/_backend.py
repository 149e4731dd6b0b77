"""Which Keras backend astromask uses, and how Keras is loaded.

Keras runs on TensorFlow unless ``KERAS_BACKEND`` or ``keras.json`` names
another, and fails on import when that backend is not installed.  On CPU
TensorFlow is also the fastest for astromask's networks (see the table in
:doc:`/performance`), so the order of preference below is the measured one: when
nobody chose a backend and Keras's own choice is not installed, astromask
points ``KERAS_BACKEND`` at the fastest backend that is.  Nothing is
imported to find out.

`load_keras` is the one place where astromask imports Keras: it says in one
line which extra to install when the backend is missing (`BackendMissing`),
and it drops the start-up chatter that TensorFlow's native code writes to
the standard error (CUDA probes on machines without a GPU, CPU features)
while passing on every other line.

On TensorFlow it also turns on TensorFlow's own pooling allocator for CPU
memory (``TF_CPU_ALLOCATOR_USE_BFC``) unless the variable is already set:
without it every large tensor of a network call is fresh memory from the
system, and on a 2-core CPU the page faults took a quarter of MaxiMask's
time (:doc:`/performance`).  Set ``TF_CPU_ALLOCATOR_USE_BFC=false`` before
astromask imports TensorFlow to keep TensorFlow's default.
"""

import contextlib
import json
import os
import re
import sys
import tempfile
from importlib.util import find_spec
from pathlib import Path

# Fastest first, as measured on CPU by benchmarks/bench_performance.py.
PREFERENCE = ("tensorflow", "jax", "torch")

#: Environment defaults set before TensorFlow is imported, unless the user
#: set them: TensorFlow's BFC allocator keeps and reuses freed CPU memory.
TENSORFLOW_DEFAULTS = {"TF_CPU_ALLOCATOR_USE_BFC": "true"}


def _configured():
    """The backend that ``keras.json`` names, or `None`."""
    home = os.environ.get("KERAS_HOME") or Path.home() / ".keras"
    try:
        return json.loads((Path(home) / "keras.json").read_text()).get("backend")
    except (OSError, ValueError, AttributeError):
        return None


def choose_backend(environ=os.environ, installed=None, configured=None):
    """Set ``KERAS_BACKEND`` to the fastest installed backend if Keras would fail.

    Parameters
    ----------
    environ : dict, optional
        The environment to read and set (default `os.environ`).
    installed : callable, optional
        Whether a module is installed (default: `importlib.util.find_spec`).
    configured : str, optional
        The backend Keras would use (default: ``keras.json``'s, or TensorFlow).

    Returns
    -------
    backend : str or None
        The backend set, or `None` when the choice was left alone
        (``KERAS_BACKEND`` set, or the configured backend installed, or none
        of them installed: Keras's own error then says what is missing).

    Examples
    --------
    >>> from astromask._backend import choose_backend
    >>> env = {}
    >>> choose_backend(env, installed=lambda name: name == "jax", configured="tensorflow")
    'jax'
    >>> env
    {'KERAS_BACKEND': 'jax'}
    >>> choose_backend({"KERAS_BACKEND": "torch"}, installed=lambda name: False) is None
    True
    """
    if installed is None:

        def installed(name):
            return find_spec(name) is not None

    if environ.get("KERAS_BACKEND"):
        return None
    configured = configured or _configured() or "tensorflow"
    if configured not in PREFERENCE or installed(configured):
        return None
    for backend in PREFERENCE:
        if installed(backend):
            environ["KERAS_BACKEND"] = backend
            return backend
    return None


#: The backends astromask installs as extras, with what each needs to import.
EXTRAS = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}

#: Lines of native start-up output that say nothing is wrong (TensorFlow and
#: XLA probing for CUDA on a machine without one, CPU feature notes).
NOISE = re.compile(
    r"All log messages before absl::InitializeLog\(\)"
    r"|cudart_stub\.cc|cuda_platform\.cc|cuda_executor\.cc|cuda_diagnostics\.cc"
    r"|cpu_feature_guard\.cc|^To enable the following instructions"
    r"|oneDNN custom operations are on|port\.cc:\d+\] oneDNN"
    r"|Unable to register cu(DNN|FFT|BLAS) factory|computation_placer\.cc"
    r"|TF-TRT Warning|This TensorFlow binary is optimized"
)


class BackendMissing(ImportError):
    """The Keras backend astromask would run on is not installed."""


def backend_name(environ=os.environ):
    """The backend Keras will use: ``KERAS_BACKEND``, ``keras.json``'s, or TensorFlow."""
    return environ.get("KERAS_BACKEND") or _configured() or "tensorflow"


def check_installed(backend, installed=None):
    """Raise `BackendMissing`, naming the extra to install, if ``backend`` is missing.

    Examples
    --------
    >>> from astromask._backend import check_installed
    >>> check_installed("jax", installed=lambda name: False)
    Traceback (most recent call last):
    ...
    astromask._backend.BackendMissing: Keras backend 'jax' is not installed: pip install ...
    """
    installed = installed or (lambda name: find_spec(name) is not None)
    module = EXTRAS.get(backend)
    if module is not None and not installed(module):
        others = ", ".join(f"'astromask[{name}]'" for name in EXTRAS if name != backend)
        msg = (
            f"Keras backend {backend!r} is not installed: pip install 'astromask[{backend}]' "
            f"(or {others} and name it in KERAS_BACKEND)"
        )
        raise BackendMissing(msg)


@contextlib.contextmanager
def filtered_stderr(noise=NOISE):
    """Hold what native code writes to file descriptor 2; pass on all but ``noise``.

    Python's own ``sys.stderr`` is flushed before and replayed after, so
    warnings and errors raised meanwhile are kept, in order.  Where the
    standard error has no file descriptor (some notebooks), nothing is held.
    """
    try:
        fd = sys.__stderr__.fileno() if sys.__stderr__ is not None else 2
        saved = os.dup(fd)
    except (OSError, ValueError, AttributeError):
        yield
        return
    with tempfile.TemporaryFile(mode="w+b") as held:
        sys.stderr.flush()
        os.dup2(held.fileno(), fd)
        try:
            yield
        finally:
            with contextlib.suppress(Exception):
                sys.stderr.flush()
            os.dup2(saved, fd)
            os.close(saved)
            held.seek(0)
            text = held.read().decode(errors="replace")
            kept = [line for line in text.splitlines(keepends=True) if not noise.search(line)]
            if kept:
                sys.stderr.write("".join(kept))
                sys.stderr.flush()


def keep_freed_memory():
    """Ask the C library to keep freed memory for reuse, in this process; whether it did.

    By default glibc hands every block over 32 MB straight back to the
    system when it is freed, so each network call on a large tile faults in
    fresh pages.  This turns that off (``mallopt``: no ``mmap`` for large
    blocks, no trimming of the heap), so memory stays at its peak and is
    reused.  On PyTorch the page faults were half of MaxiMask's CPU time,
    and a tile ran 2.2 times faster; on JAX the system time halved, with no
    gain in wall time (:doc:`/performance`).  It changes the whole process, so only the
    command line calls it; elsewhere set ``MALLOC_MMAP_MAX_=0`` and
    ``MALLOC_TRIM_THRESHOLD_=2147483647`` in the environment.  Returns
    `False` where the C library has no ``mallopt`` (not glibc).
    """
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError, TypeError):  # TypeError: Windows has no CDLL(None)
        return False
    m_trim_threshold, m_mmap_max = -1, -4  # glibc's <malloc.h>
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    return bool(mallopt(m_mmap_max, 0)) and bool(mallopt(m_trim_threshold, 2**31 - 1))


def load_keras():
    """Import Keras on the chosen backend, quietly; the module.

    Raises
    ------
    BackendMissing
        When the backend is not installed, with the ``pip install`` line.
    """
    if "keras" in sys.modules:
        return sys.modules["keras"]
    backend = backend_name()
    check_installed(backend)
    if backend == "tensorflow":
        for name, value in TENSORFLOW_DEFAULTS.items():
            os.environ.setdefault(name, value)
    with filtered_stderr():
        import keras

        # The first tensor starts the backend's devices (TensorFlow probes
        # for CUDA then): inside the filter, so its chatter is dropped too.
        keras.ops.zeros(())
    return keras
