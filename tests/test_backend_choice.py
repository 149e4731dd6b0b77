"""`astromask._backend.choose_backend`: the fastest installed backend when Keras's is missing."""

import json

import pytest

from astromask._backend import PREFERENCE, choose_backend


def _installed(*names):
    return lambda name: name in names


@pytest.fixture
def keras_home(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    return tmp_path


def test_fastest_installed_backend_replaces_a_missing_default(keras_home):
    assert PREFERENCE[0] == "tensorflow"
    env = {}
    assert choose_backend(env, installed=_installed("torch", "jax")) == "jax"
    assert env == {"KERAS_BACKEND": "jax"}
    env = {}
    assert choose_backend(env, installed=_installed("torch")) == "torch"


def test_a_choice_that_works_is_left_alone(keras_home):
    env = {"KERAS_BACKEND": "torch"}
    assert choose_backend(env, installed=_installed("jax")) is None
    assert env == {"KERAS_BACKEND": "torch"}
    env = {}
    assert choose_backend(env, installed=_installed("tensorflow", "jax")) is None
    assert env == {}
    (keras_home / "keras.json").write_text(json.dumps({"backend": "torch"}))
    assert choose_backend(env, installed=_installed("torch", "tensorflow")) is None
    assert env == {}


def test_keras_json_naming_a_missing_backend(keras_home):
    (keras_home / "keras.json").write_text(json.dumps({"backend": "torch"}))
    env = {}
    assert choose_backend(env, installed=_installed("tensorflow")) == "tensorflow"
    (keras_home / "keras.json").write_text("not json")  # Keras's default then
    env = {}
    assert choose_backend(env, installed=_installed("jax")) == "jax"


def test_nothing_installed_leaves_keras_to_say_so(keras_home):
    env = {}
    assert choose_backend(env, installed=_installed()) is None
    assert env == {}


def test_a_missing_backend_is_one_line_naming_the_extra(monkeypatch):
    from astromask import _backend

    with pytest.raises(_backend.BackendMissing, match=r"pip install 'astromask\[torch\]'"):
        _backend.check_installed("torch", installed=_installed("tensorflow"))
    _backend.check_installed("torch", installed=_installed("torch"))  # no error


def test_the_command_line_exits_2_before_any_work_without_its_backend(
    monkeypatch, tmp_path, capsys
):
    from astromask import _backend, cli

    monkeypatch.setenv("KERAS_BACKEND", "jax")
    monkeypatch.setattr(_backend, "find_spec", lambda name: None)
    output = tmp_path / "demo.fits"
    assert cli.main(["demo", "--output", str(output)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "astromask[jax]" in err and "KERAS_BACKEND" in err
    assert not output.exists()


def test_native_start_up_chatter_is_dropped_and_the_rest_kept(capfd):
    import os

    from astromask._backend import filtered_stderr

    with filtered_stderr():
        os.write(2, b"I0000 00:00:1 cudart_stub.cc:31] Could not find cuda drivers\n")
        os.write(2, b"a real problem\n")
        os.write(2, b"E0000 00:00:1 cuda_platform.cc:52] failed call to cuInit\n")
    assert capfd.readouterr().err == "a real problem\n"
