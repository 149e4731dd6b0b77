"""Weight downloads and caches under faults and concurrency.

A fault-injecting HTTP server on 127.0.0.1 plays the mirror: it serves a
file correctly, or cuts the connection mid-body, serves a truncated or wrong
file, answers HTTP 404/500/503, answers slowly, or fails the first requests.
Every failure must raise `astromask.data.WeightsError` naming the file, the
URL and the fix, and leave nothing in the cache that a later run would trust;
once the fault is gone, the next fetch succeeds.  Worker processes fetching on
a cold cache must all succeed with a single download.
"""

import contextlib
import errno
import hashlib
import http.server
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from astromask import _atomic, data, zoo
from astromask.zoo import converted

CONTENT = hashlib.sha256(b"seed").digest() * 8192  # 256 KiB: several download chunks
ENTRY = data.WeightFile(
    "owner", "repo", "0123abc", "models/w.bin", hashlib.sha256(CONTENT).hexdigest(), len(CONTENT)
)


class _Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        fault = self.server.fault
        with fault.lock:
            fault.requests[self.path] = count = fault.requests.get(self.path, 0) + 1
        body = fault.files.get(self.path)
        mode = "503" if count <= fault.fail_first else fault.mode
        if body is None:
            mode = "404"
        if mode in ("404", "500", "503"):
            self.send_error(int(mode))
            return
        if mode == "slow":
            time.sleep(fault.delay_s)
        elif mode == "truncated":
            body = body[: len(body) // 2]
        elif mode == "wrong":
            body = body[::-1]
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if mode == "interrupted":  # Content-Length promised more than is sent
            self.wfile.write(body[: len(body) // 3])
        elif mode == "dribble":  # a slow transfer, in pieces
            for start in range(0, len(body), len(body) // fault.pieces):
                self.wfile.write(body[start : start + len(body) // fault.pieces])
                self.wfile.flush()
                fault.sent.set()
                time.sleep(fault.delay_s)
        else:
            self.wfile.write(body)


class _Server(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # clients that hung up (timeouts, killed workers) are part of the tests


class FaultServer:
    """A loopback mirror whose ``mode`` chooses the fault; ``requests`` counts GETs."""

    def __init__(self):
        self.files = {}
        self.lock = threading.Lock()
        self.sent = threading.Event()
        self.reset()
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.fault = self
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def reset(self, mode="ok", *, fail_first=0, delay_s=0.0, pieces=8):
        self.mode, self.fail_first, self.delay_s, self.pieces = mode, fail_first, delay_s, pieces
        self.requests = {}
        self.sent.clear()

    def publish(self, entry, content):
        self.files[f"/{entry.key}"] = content

    def count(self, entry):
        return self.requests.get(f"/{entry.key}", 0)

    def close(self):
        self._httpd.shutdown()
        self._httpd.server_close()  # joins the handler threads
        self._thread.join()


@pytest.fixture
def server():
    fault = FaultServer()
    fault.publish(ENTRY, CONTENT)
    yield fault
    fault.close()


@pytest.fixture
def cache(monkeypatch, tmp_path, server):
    """An empty cache folder, the loopback mirror, and quick retries."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("ASTROMASK_DATA_DIR", str(folder))
    monkeypatch.setenv("ASTROMASK_WEIGHTS_URL", server.url)
    monkeypatch.setattr(data, "_RETRY_WAIT_S", 0.01)
    return folder


def _closed_port():
    with socket.socket() as s:  # a port with nobody listening
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _leftovers(folder, entry=ENTRY):
    """Files in the entry's cache folder, apart from its lock file."""
    where = folder / Path(entry.key).parent
    if not where.exists():
        return set()
    return {p.name for p in where.iterdir()} - {f".{Path(entry.path).name}.lock"}


def _assert_nothing_trusted(folder, entry=ENTRY):
    assert _leftovers(folder, entry) == set()  # no final file, no temporary file


def _assert_cached(folder, entry=ENTRY):
    path = folder / entry.key
    assert _atomic.sha256(path) == entry.sha256
    assert _leftovers(folder, entry) == {path.name}


def _assert_names_the_fix(message, entry=ENTRY):
    for expected in (entry.key, entry.url, "ASTROMASK_DATA_DIR"):
        assert expected in message


# (mode, server settings, requests made, words of the cause in the message)
FAULTS = {
    "interrupted": ("interrupted", {}, 3, "IncompleteRead"),
    "truncated": ("truncated", {}, 3, "SHA-256"),
    "wrong content": ("wrong", {}, 3, "SHA-256"),
    "HTTP 404": ("404", {}, 1, "404"),
    "HTTP 500": ("500", {}, 3, "500"),
    "HTTP 503": ("503", {}, 3, "503"),
    "slow (timeout)": ("slow", {"delay_s": 0.6}, 3, "timed out"),
    "fails 3 times": ("ok", {"fail_first": 3}, 3, "503"),
}


@pytest.mark.parametrize("fault", FAULTS)
def test_a_fault_is_a_clear_error_and_leaves_nothing_trusted(monkeypatch, cache, server, fault):
    mode, settings, requests, cause = FAULTS[fault]
    server.reset(mode, **settings)
    with monkeypatch.context() as patch, pytest.raises(data.WeightsError) as info:
        if mode == "slow":
            patch.setattr(data, "_TIMEOUT_S", 0.2)
        data.fetch(ENTRY)
    assert isinstance(info.value, OSError)
    message = str(info.value)
    _assert_names_the_fix(message)
    assert "ASTROMASK_WEIGHTS_URL" in message
    assert cause in message
    assert f"{requests} attempt" in message
    assert server.count(ENTRY) == requests  # transient faults are retried, 4xx is not
    _assert_nothing_trusted(cache)
    server.reset("ok")  # the fault is gone: the next run downloads
    assert data.fetch(ENTRY) == cache / ENTRY.key
    _assert_cached(cache)


def test_a_transient_fault_is_retried(cache, server):
    server.reset(fail_first=2)
    assert data.fetch(ENTRY, progress=True).read_bytes() == CONTENT  # with a progress bar
    assert server.count(ENTRY) == 3
    _assert_cached(cache)


def test_no_network(monkeypatch, cache, server):
    url = f"http://127.0.0.1:{_closed_port()}"
    monkeypatch.setenv("ASTROMASK_WEIGHTS_URL", url)
    with pytest.raises(data.WeightsError) as info:
        data.fetch(ENTRY)
    message = str(info.value)
    _assert_names_the_fix(message)
    assert url in message and "astromask fetch" in message and "3 attempts" in message
    _assert_nothing_trusted(cache)
    monkeypatch.setenv("ASTROMASK_WEIGHTS_URL", server.url)
    data.fetch(ENTRY)
    _assert_cached(cache)


def test_leftovers_of_killed_runs_are_never_trusted_and_are_removed(cache, server):
    folder = cache / Path(ENTRY.key).parent
    folder.mkdir(parents=True)
    (folder / "w.bin").write_bytes(CONTENT[:1000])  # a damaged file under the final name
    (folder / ".w.bin.0123456789ab.part").write_bytes(CONTENT)  # even a complete part
    path = data.fetch(ENTRY)
    assert path.read_bytes() == CONTENT
    assert server.count(ENTRY) == 1
    _assert_cached(cache)
    umask = os.umask(0o022)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's 0o600


def test_a_failed_download_removes_a_damaged_file(cache, server):
    folder = cache / Path(ENTRY.key).parent
    folder.mkdir(parents=True)
    (folder / "w.bin").write_bytes(b"damaged")
    server.reset("404")
    with pytest.raises(data.WeightsError):
        data.fetch(ENTRY)
    _assert_nothing_trusted(cache)


class _FullDisk:
    """A file whose writes fail with ENOSPC after ``room`` bytes."""

    def __init__(self, out, room):
        self._out, self._room = out, room

    def write(self, chunk):
        if len(chunk) > self._room:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self._room -= len(chunk)
        return self._out.write(chunk)

    def __getattr__(self, name):
        return getattr(self._out, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._out.close()


def _assert_full_disk_error(info, cache):
    message = str(info.value)
    _assert_names_the_fix(message)
    assert "No space left" in message and str(cache / Path(ENTRY.key).parent) in message
    assert isinstance(info.value.__cause__, OSError)
    assert info.value.__cause__.errno == errno.ENOSPC


def test_full_disk_while_downloading(monkeypatch, cache, server):
    create = _atomic.create_part

    def create_on_a_full_disk(folder, name, suffix=""):
        out, part = create(folder, name, suffix)
        return _FullDisk(out, 100_000), part

    with monkeypatch.context() as patch, pytest.raises(data.WeightsError) as info:
        patch.setattr(_atomic, "create_part", create_on_a_full_disk)
        data.fetch(ENTRY)
    _assert_full_disk_error(info, cache)
    assert server.count(ENTRY) == 1  # a local fault: not retried
    _assert_nothing_trusted(cache)
    data.fetch(ENTRY)
    _assert_cached(cache)


def test_full_disk_while_moving_into_place(monkeypatch, cache, server):
    def replace(src, dst):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with monkeypatch.context() as patch, pytest.raises(data.WeightsError) as info:
        patch.setattr(os, "replace", replace)
        data.fetch(ENTRY)
    _assert_full_disk_error(info, cache)
    _assert_nothing_trusted(cache)
    data.fetch(ENTRY)
    _assert_cached(cache)


def test_cache_folder_that_cannot_be_created(monkeypatch, tmp_path, server):
    (tmp_path / "file").write_text("not a folder")
    monkeypatch.setenv("ASTROMASK_DATA_DIR", str(tmp_path / "file" / "cache"))
    monkeypatch.setenv("ASTROMASK_WEIGHTS_URL", server.url)
    with pytest.raises(data.WeightsError) as info:
        data.fetch(ENTRY)
    message = str(info.value)
    _assert_names_the_fix(message)
    assert "cannot write to the cache folder" in message
    assert server.count(ENTRY) == 0


def _read_only_folders_are_read_only():
    """Whether a chmod 0o555 folder refuses new files (root usually ignores permissions)."""
    with tempfile.TemporaryDirectory() as folder:
        os.chmod(folder, 0o555)
        try:
            with open(os.path.join(folder, "probe"), "wb"):
                return False
        except PermissionError:
            return True
        finally:
            os.chmod(folder, 0o755)


PERMISSIONS_ENFORCED = _read_only_folders_are_read_only()


@contextlib.contextmanager
def _read_only(folder, monkeypatch):
    """Make ``folder`` refuse new files: chmod 0o555, or, where permissions are not
    enforced (root), an ``os.open`` that answers EACCES there as the kernel would."""
    if PERMISSIONS_ENFORCED:
        folder.chmod(0o555)
        try:
            yield
        finally:
            folder.chmod(0o755)
        return
    real_open = os.open

    def refusing_open(path, flags, *args, **kwargs):
        target = Path(path)
        if flags & os.O_CREAT and target.parent == folder and not target.exists():
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, flags, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(os, "open", refusing_open)
        yield


def test_read_only_cache_folder(cache, server, monkeypatch):
    folder = cache / Path(ENTRY.key).parent
    folder.mkdir(parents=True)
    with _read_only(folder, monkeypatch), pytest.raises(data.WeightsError) as info:
        data.fetch(ENTRY)
    message = str(info.value)
    _assert_names_the_fix(message)
    assert str(folder) in message
    _assert_nothing_trusted(cache)


def test_read_only_cache_holding_the_files_serves_them(cache, server, monkeypatch):
    path = data.fetch(ENTRY)
    folder = path.parent
    (folder / ".w.bin.lock").unlink()
    with _read_only(folder, monkeypatch):
        assert data.fetch(ENTRY) == path
    assert server.count(ENTRY) == 1


def test_a_valid_cached_file_is_used_without_the_lock(monkeypatch, cache, server):
    path = data.fetch(ENTRY)

    def no_lock(path):  # what a read-only folder does to the lock
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(data, "locked", no_lock)
    assert data.fetch(ENTRY) == path
    assert server.count(ENTRY) == 1


def _fetch_in_threads(n):
    results = [None] * n

    def fetch(i):
        try:
            results[i] = data.fetch(ENTRY)
        except Exception as err:  # reported below
            results[i] = err

    threads = [threading.Thread(target=fetch, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.mark.parametrize("lock", ["flock", "lock file"])
def test_threads_fetching_at_once_download_once(monkeypatch, cache, server, lock):
    if lock == "lock file":  # the Windows fallback
        monkeypatch.setattr(_atomic, "fcntl", None)
    server.reset("dribble", delay_s=0.01)
    results = _fetch_in_threads(6)
    assert results == [cache / ENTRY.key] * 6
    assert server.count(ENTRY) == 1
    _assert_cached(cache)
    if lock == "lock file":
        assert not _atomic.lock_path(cache / ENTRY.key).exists()  # released


def test_lock_file_fallback_waits_for_its_holder_and_breaks_stale_locks(monkeypatch, tmp_path):
    monkeypatch.setattr(_atomic, "fcntl", None)
    lock = tmp_path / ".w.bin.lock"
    lock.write_text("4242\n")
    os.utime(lock, (time.time() - 2 * _atomic.STALE_LOCK_S,) * 2)  # a crashed holder's
    with _atomic.locked(lock):
        assert lock.read_text() == f"{os.getpid()}\n"
    assert not lock.exists()
    held, released = threading.Event(), threading.Event()

    def hold():
        with _atomic.locked(lock):
            held.set()
            released.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(5)
    threading.Timer(0.3, released.set).start()
    start = time.monotonic()
    with _atomic.locked(lock):
        waited = time.monotonic() - start
    holder.join()
    assert waited >= 0.25


# The worker processes import astromask.data and astromask.zoo without the
# package's __init__, which imports astropy: seconds per process otherwise.
_WORKER = r"""
import functools, importlib.util, json, os, sys, time, types
from pathlib import Path

spec = importlib.util.find_spec("astromask")
package = types.ModuleType("astromask")
package.__path__ = list(spec.submodule_search_locations)
sys.modules["astromask"] = package
from astromask import _atomic, data, zoo
from astromask.zoo import converted

import numpy as np


def convert(counter):
    (Path(counter) / f"{os.getpid()}-{time.monotonic_ns()}").touch()
    time.sleep(0.05)
    return {"a/kernel": np.arange(6000.0).reshape(60, 100), "a/bias": np.ones(60)}


print(json.dumps({"pid": os.getpid()}), flush=True)
for line in sys.stdin:
    job = json.loads(line)
    os.environ.update(job["env"])
    time.sleep(max(0.0, job["start_at"] - time.time()))
    try:
        if job["kind"] == "fetch":
            path = data.fetch(data.WeightFile(*job["entry"]))
            result = {"ok": True, "sha256": _atomic.sha256(path)}
        else:
            convert_once = functools.partial(convert, job["counter"])
            weights = converted._cached_conversion(Path(job["cache"]), convert_once)
            result = {"ok": True, "sum": float(sum(v.sum() for v in weights.values()))}
    except Exception as err:
        result = {"ok": False, "error": repr(err)}
    print(json.dumps(result), flush=True)
"""


def _start_worker():
    return subprocess.Popen(
        [sys.executable, "-c", _WORKER],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def _stop(worker):
    worker.stdin.close()
    try:
        worker.wait(30)
    finally:
        worker.kill()
        worker.wait()
        worker.stdout.close()


@pytest.fixture(scope="module")
def workers():
    """Eight worker processes, each answering one JSON job per line."""
    pool = [_start_worker() for _ in range(8)]
    try:
        pids = {json.loads(worker.stdout.readline())["pid"] for worker in pool}
        assert len(pids) == len(pool)
        yield pool
    finally:
        for worker in pool:
            _stop(worker)


def _run_at_once(pool, job):
    """Send ``job`` to every worker, to start at the same instant; return their answers."""
    job = dict(job, start_at=time.time() + 0.3)
    for worker in pool:
        worker.stdin.write(json.dumps(job) + "\n")
        worker.stdin.flush()
    return [json.loads(worker.stdout.readline()) for worker in pool]


def test_processes_fetching_on_a_cold_cache(tmp_path, server, workers):
    server.reset("dribble", delay_s=0.02)  # 160 ms transfers: every process overlaps
    repetitions, downloads = 5, []
    for repetition in range(repetitions):
        folder = tmp_path / f"cache{repetition}"
        env = {"ASTROMASK_DATA_DIR": str(folder), "ASTROMASK_WEIGHTS_URL": server.url}
        entry = [ENTRY.owner, ENTRY.repo, ENTRY.commit, ENTRY.path, ENTRY.sha256, ENTRY.size]
        before = server.count(ENTRY)
        answers = _run_at_once(workers, {"kind": "fetch", "env": env, "entry": entry})
        downloads.append(server.count(ENTRY) - before)
        assert answers == [{"ok": True, "sha256": ENTRY.sha256}] * len(workers)
        _assert_cached(folder)
    assert downloads == [1] * repetitions  # the lock: one download per cold cache


def test_processes_converting_on_a_cold_cache(tmp_path, workers):
    for repetition in range(3):
        folder = tmp_path / f"cache{repetition}"
        counter = folder / "conversions"
        counter.mkdir(parents=True)
        cache = folder / "model.keras-v2-0123.npz"
        job = {"kind": "convert", "env": {}, "cache": str(cache), "counter": str(counter)}
        answers = _run_at_once(workers, job)
        assert answers == [{"ok": True, "sum": float(sum(range(6000)) + 60)}] * len(workers)
        assert len(list(counter.iterdir())) == 1
        names = {p.name for p in folder.iterdir()}
        assert names == {"conversions", cache.name, f"{cache.name}.sha256", f".{cache.name}.lock"}
        assert (folder / f"{cache.name}.sha256").read_text().strip() == _atomic.sha256(cache)


def test_a_killed_download_is_never_trusted(tmp_path, server):
    server.reset("dribble", delay_s=0.1, pieces=20)
    folder = tmp_path / "cache"
    env = {"ASTROMASK_DATA_DIR": str(folder), "ASTROMASK_WEIGHTS_URL": server.url}
    entry = [ENTRY.owner, ENTRY.repo, ENTRY.commit, ENTRY.path, ENTRY.sha256, ENTRY.size]
    worker = _start_worker()
    try:
        worker.stdout.readline()
        job = {"kind": "fetch", "env": env, "entry": entry, "start_at": 0}
        worker.stdin.write(json.dumps(job) + "\n")
        worker.stdin.flush()
        assert server.sent.wait(30)
        worker.send_signal(signal.SIGKILL if hasattr(signal, "SIGKILL") else signal.SIGTERM)
        worker.wait(30)
    finally:
        _stop(worker)
    left = _leftovers(folder)
    assert "w.bin" not in left and all(name.endswith(".part") for name in left)
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("ASTROMASK_DATA_DIR", str(folder))
        monkeypatch.setenv("ASTROMASK_WEIGHTS_URL", server.url)
        server.reset("ok")
        assert data.fetch(ENTRY).read_bytes() == CONTENT
    _assert_cached(folder)  # the killed run's temporary file is gone


# The converted-weights cache (zoo).

WEIGHTS = {"a/kernel": np.arange(12.0).reshape(3, 4), "a/bias": np.zeros(3)}


def _counting_convert(calls):
    def convert():
        calls.append(1)
        return {key: value.copy() for key, value in WEIGHTS.items()}

    return convert


def _assert_weights(weights):
    assert set(weights) == set(WEIGHTS)
    for key, value in WEIGHTS.items():
        np.testing.assert_array_equal(weights[key], value)


def test_converted_cache_is_reused_and_a_damaged_one_is_rebuilt(tmp_path):
    cache, calls = tmp_path / "m.npz", []
    convert = _counting_convert(calls)
    _assert_weights(converted._cached_conversion(cache, convert))
    _assert_weights(converted._cached_conversion(cache, convert))
    assert len(calls) == 1
    cache.write_bytes(cache.read_bytes()[:100])  # truncated: its sidecar no longer matches
    _assert_weights(converted._cached_conversion(cache, convert))
    assert len(calls) == 2
    cache.with_suffix(".npz.sha256").unlink()  # no sidecar: not trusted
    _assert_weights(converted._cached_conversion(cache, convert))
    assert len(calls) == 3
    assert {p.name for p in tmp_path.iterdir()} == {"m.npz", "m.npz.sha256", ".m.npz.lock"}


@pytest.mark.parametrize("where", ["npz", "sidecar"])
def test_converted_cache_on_a_full_disk(monkeypatch, tmp_path, caplog, where):
    cache, calls = tmp_path / "m.npz", []
    create = _atomic.create_part

    def create_on_a_full_disk(folder, name, suffix=""):
        out, part = create(folder, name, suffix)
        full = name.endswith(".npz") if where == "npz" else name.endswith(".sha256")
        return (_FullDisk(out, 50) if full else out), part

    monkeypatch.setattr(_atomic, "create_part", create_on_a_full_disk)
    with caplog.at_level(logging.WARNING, logger="astromask.zoo"):
        _assert_weights(converted._cached_conversion(cache, _counting_convert(calls)))
    assert "could not cache converted weights" in caplog.text and str(cache) in caplog.text
    assert {p.name for p in tmp_path.iterdir()} == {".m.npz.lock"}  # nothing to trust
    monkeypatch.undo()
    _assert_weights(converted._cached_conversion(cache, _counting_convert(calls)))
    _assert_weights(converted._cached_conversion(cache, _counting_convert(calls)))
    assert len(calls) == 2


def test_converted_cache_in_a_read_only_folder_converts_in_memory(monkeypatch, tmp_path, caplog):
    def denied(*args):
        raise PermissionError(errno.EACCES, "Permission denied", str(tmp_path))

    monkeypatch.setattr(converted, "locked", denied)  # what a read-only folder does
    monkeypatch.setattr(_atomic, "create_part", denied)
    cache, calls = tmp_path / "m.npz", []
    with caplog.at_level(logging.WARNING, logger="astromask.zoo"):
        _assert_weights(converted._cached_conversion(cache, _counting_convert(calls)))
    assert "not caching converted weights" in caplog.text
    assert list(tmp_path.iterdir()) == []


def test_converted_cache_in_a_chmod_read_only_folder(tmp_path, monkeypatch):
    cache, calls = tmp_path / "ro" / "m.npz", []
    cache.parent.mkdir()
    with _read_only(cache.parent, monkeypatch):
        _assert_weights(converted._cached_conversion(cache, _counting_convert(calls)))
    assert list(cache.parent.iterdir()) == []


def test_converted_weights_use_the_cache_helper(monkeypatch, tmp_path):
    """``converted_weights`` caches beside the model's files, through `_cached_conversion`."""
    monkeypatch.setattr(data, "fetch", lambda entry, **options: tmp_path / "f.pth")
    monkeypatch.setattr(converted, "convert", lambda model, paths: dict(WEIGHTS))
    seen, cached = [], converted._cached_conversion

    def spy(cache, convert):
        seen.append(cache)
        return cached(cache, convert)

    monkeypatch.setattr(converted, "_cached_conversion", spy)
    _assert_weights(zoo.converted_weights("deepcr/ACS-WFC"))
    assert seen[0].parent == tmp_path and seen[0].suffix == ".npz"
