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
