"""Weights through pooch: mirror URLs, cache folder, hash checks, clear errors.

A small HTTP server on 127.0.0.1 plays the mirror; nothing leaves the machine.
"""

import functools
import hashlib
import http.server
import socket
import threading

import numpy as np
import pytest

from astromask import data, zoo


class _Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch):
    monkeypatch.setattr(data, "_RETRY_WAIT_S", 0.01)


@pytest.fixture
def mirror(tmp_path):
    root = tmp_path / "mirror"
    root.mkdir()
    handler = functools.partial(_Handler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def entry():
    content = b"pretend weights\n" * 100
    return data.WeightFile(
        "owner", "repo", "0123abc", "models/w.bin", hashlib.sha256(content).hexdigest(), 1600
    ), content


def _publish(root, entry, content):
    path = root / entry.key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)


def test_urls_follow_the_mirror_variable(monkeypatch, entry):
    weight, _ = entry
    monkeypatch.delenv("ASTROMASK_WEIGHTS_URL", raising=False)
    assert weight.url == "https://github.com/owner/repo/raw/0123abc/models/w.bin"
    monkeypatch.setenv("ASTROMASK_WEIGHTS_URL", "http://mirror.example/base/")
    assert weight.url == "http://mirror.example/base/owner/repo/0123abc/models/w.bin"


def test_fetch_downloads_into_the_cache_and_reuses_it(monkeypatch, tmp_path, mirror, entry):
    root, url = mirror
    weight, content = entry
    _publish(root, weight, content)
    monkeypatch.setenv("ASTROMASK_WEIGHTS_URL", url)
    monkeypatch.setenv("ASTROMASK_DATA_DIR", str(tmp_path / "cache"))
    path = data.fetch(weight)
    assert path == tmp_path / "cache" / weight.key
    assert path.read_bytes() == content
    (root / weight.key).unlink()  # the mirror is gone: the cache still serves
    assert data.fetch(weight) == path


def test_corrupt_cached_file_is_fetched_again(monkeypatch, tmp_path, mirror, entry):
    root, url = mirror
    weight, content = entry
    _publish(root, weight, content)
    monkeypatch.setenv("ASTROMASK_WEIGHTS_URL", url)
    monkeypatch.setenv("ASTROMASK_DATA_DIR", str(tmp_path / "cache"))
    path = data.fetch(weight)
    path.write_bytes(b"tampered")
    assert data.fetch(weight).read_bytes() == content


def test_wrong_file_on_the_mirror_is_refused(monkeypatch, tmp_path, mirror, entry):
    root, url = mirror
    weight, _ = entry
    _publish(root, weight, b"something else")
    monkeypatch.setenv("ASTROMASK_WEIGHTS_URL", url)
    monkeypatch.setenv("ASTROMASK_DATA_DIR", str(tmp_path / "cache"))
    with pytest.raises(data.WeightsError) as info:
        data.fetch(weight)
    message = str(info.value)
    for expected in (weight.key, weight.sha256, "ASTROMASK_WEIGHTS_URL", "ASTROMASK_DATA_DIR"):
        assert expected in message
    assert not (tmp_path / "cache" / weight.key).exists()


def test_no_network_gives_a_clear_error(monkeypatch, tmp_path, entry):
    weight, _ = entry
    with socket.socket() as s:  # a port with nobody listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("ASTROMASK_WEIGHTS_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("ASTROMASK_DATA_DIR", str(tmp_path / "cache"))
    with pytest.raises(data.WeightsError, match="astromask fetch"):
        data.fetch(weight)


def test_unknown_model_is_named():
    with pytest.raises(ValueError, match="unknown model 'nope'.*maximask"):
        data.model_files("nope")


@pytest.mark.remote_data
def test_registry_files_and_converted_cache(tmp_path):
    paths = data.fetch_all()
    assert len(paths) == len(data.REGISTRY)
    for path, weight in zip(paths, data.REGISTRY.values()):
        assert path.stat().st_size == weight.size
    first = zoo.converted_weights("maximask")
    assert len(first) == 56 and first["conv1/kernel"].shape == (3, 3, 1, 32)
    cache = next(paths[0].parent.glob("maximask.keras-*.npz"))
    cache.write_bytes(b"corrupt")  # a damaged conversion cache is rebuilt
    again = zoo.converted_weights("maximask")
    for key, value in first.items():
        np.testing.assert_array_equal(again[key], value)
    with np.load(cache, allow_pickle=False) as npz:
        assert set(npz.files) == set(first)


def test_a_download_is_announced_in_one_line_once(monkeypatch, tmp_path, mirror, entry, capsys):
    root, url = mirror
    weight, content = entry
    _publish(root, weight, content)
    monkeypatch.setenv("ASTROMASK_WEIGHTS_URL", url)
    monkeypatch.setenv("ASTROMASK_DATA_DIR", str(tmp_path / "cache"))
    data.fetch(weight)  # progress=None: a bar on a terminal only (capsys is none)
    err = capsys.readouterr().err
    assert err.splitlines() == [
        f"astromask: downloading the weights of {weight.key} (0.0 MB, once) into "
        f"{tmp_path / 'cache'}"
    ]
    data.fetch(weight)  # cached: silent
    assert capsys.readouterr().err == ""
    (tmp_path / "cache" / weight.key).unlink()
    data.fetch(weight, progress=False)  # asked for silence
    assert capsys.readouterr().err == ""
    # A model's files are announced together, once, by name.
    (tmp_path / "cache" / weight.key).unlink()
    assert data.announce("some/model", [weight, weight]) == [weight, weight]
    assert capsys.readouterr().err.count("\n") == 1
