import numpy as np
import pytest

from astromask.weights.tf_bundle import BundleFormatError, read_index, read_tf_bundle

from .bundle_writer import write_bundle


def test_round_trip(tmp_path):
    rng = np.random.default_rng(1)
    tensors = {
        "conv1/kernel/.ATTRIBUTES/VARIABLE_VALUE": rng.normal(size=(3, 3, 1, 4)).astype("f4"),
        "conv1/bias/.ATTRIBUTES/VARIABLE_VALUE": rng.normal(size=4).astype("f4"),
        "step": np.array(7, dtype="i4"),
        "big/.ATTRIBUTES/VARIABLE_VALUE": rng.normal(size=(300, 200)),
    }
    write_bundle(tmp_path / "v.index", tmp_path / "v.data", tensors)
    read = read_tf_bundle(tmp_path / "v.index", tmp_path / "v.data")
    assert set(read) == set(tensors)
    for name, value in tensors.items():
        assert read[name].dtype == value.dtype
        assert read[name].dtype.isnative
        np.testing.assert_array_equal(read[name], value)


def test_offset_past_end_is_refused(tmp_path):
    write_bundle(
        tmp_path / "v.index", tmp_path / "v.data", {"a": np.ones(3, "f4")}, corrupt="offset"
    )
    with pytest.raises(BundleFormatError, match="past the end"):
        read_tf_bundle(tmp_path / "v.index", tmp_path / "v.data")


@pytest.mark.parametrize("content", [b"", b"x" * 100, b"\x00" * 48])
def test_garbage_index_is_refused(content):
    with pytest.raises(BundleFormatError):
        read_index(content)


def test_truncated_index_is_refused(tmp_path):
    write_bundle(tmp_path / "v.index", tmp_path / "v.data", {"a": np.ones(3, "f4")})
    content = (tmp_path / "v.index").read_bytes()
    broken = content[:10] + content[-48:]
    with pytest.raises(BundleFormatError):
        read_index(broken)
