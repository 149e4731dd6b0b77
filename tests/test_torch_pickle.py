"""The torch-free ``.pth`` reader: formats, bounds checks and refusal to run code."""

import pickle
import struct

import numpy as np
import pytest

from astromask.weights.torch_pickle import (
    TorchFormatError,
    UnsafePickleError,
    read_torch_state_dict,
)
from tests import torch_writer as tw

TENSORS = {
    "conv.weight": np.arange(2 * 3 * 3 * 3, dtype=np.float32).reshape(2, 3, 3, 3) / 7,
    "conv.bias": np.array([1.5, -2.25], dtype=np.float32),
    "bn.num_batches_tracked": np.array(12, dtype=np.int64),
    "double": np.linspace(0, 1, 5),
}


def _itemsizes():
    return {str(i): a.itemsize for i, a in enumerate(TENSORS.values())}


def _write(tmp_path, raw, name="w.pth"):
    path = tmp_path / name
    path.write_bytes(raw)
    return path


@pytest.mark.parametrize("container", ["legacy", "zip"])
def test_round_trip(tmp_path, container):
    entries, storages = tw.plain_tensors(TENSORS)
    if container == "legacy":
        raw = tw.legacy_file(entries, storages, itemsizes=_itemsizes())
    else:
        raw = tw.zip_file(entries, storages, folder="model")
    got = read_torch_state_dict(_write(tmp_path, raw))
    assert list(got) == list(TENSORS)
    for name, expected in TENSORS.items():
        assert got[name].dtype == expected.dtype
        np.testing.assert_array_equal(got[name], expected)


def test_strided_view_with_offset(tmp_path):
    """Tensors sharing a storage: offsets and transposed strides are honoured."""
    base = np.arange(20, dtype=np.float32)
    entries = {
        "a": tw.tensor_opcodes("0", np.float32, 20, 2, (3, 4), (1, 3)),
        "b": tw.tensor_opcodes("0", np.float32, 20, 15, (5,), (1,)),
    }
    raw = tw.zip_file(entries, {"0": base.tobytes()})
    got = read_torch_state_dict(_write(tmp_path, raw))
    np.testing.assert_array_equal(
        got["a"], np.lib.stride_tricks.as_strided(base[2:], (3, 4), (4, 12))
    )
    np.testing.assert_array_equal(got["b"], base[15:])


@pytest.mark.remote_data
def test_real_deepcr_file():
    """A shipped deepCR file (legacy format) reads into the expected tensors."""
    from astromask import data

    path = data.fetch(data.model_files("deepcr/ACS-WFC-F606W-2-4")[0])
    got = read_torch_state_dict(path)
    assert got["module.inc.conv.conv.0.weight"].shape == (4, 1, 3, 3)
    assert got["module.outc.conv.weight"].shape == (1, 4, 1, 1)
    assert got["module.inc.conv.conv.1.running_var"].min() > 0
    zipped = read_torch_state_dict(data.fetch(data.model_files("deepcr/WFC3-UVIS")[0]))
    assert zipped["module.inc.conv.conv.0.weight_v"].shape == (32, 1, 3, 3)


def _malicious_pickle(marker):
    """A pickle that, loaded with pickle.load, creates ``marker`` (via builtins.open)."""
    return (
        b"\x80\x02"
        + tw._global("builtins", "open")
        + tw._tuple([tw._str(str(marker)), tw._str("w")])
        + b"R."
    )


@pytest.mark.parametrize("container", ["legacy", "zip"])
def test_malicious_pickle_is_refused_and_not_run(tmp_path, container):
    marker = tmp_path / "pwned"
    evil = _malicious_pickle(marker)
    # The crafted pickle really does run code under the standard unpickler.
    pickle.loads(evil).close()
    assert marker.exists()
    marker.unlink()

    if container == "zip":
        raw = tw.zip_file({}, {}, pickle_bytes=evil)
    else:
        entries, storages = tw.plain_tensors({"w": np.ones(2, np.float32)})
        raw = tw.legacy_file(entries, storages).replace(tw.state_dict_pickle(entries), evil)
    with pytest.raises(UnsafePickleError, match="refusing to load builtins.open"):
        read_torch_state_dict(_write(tmp_path, raw))
    assert not marker.exists()


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("os", "system"),
        ("builtins", "eval"),
        ("torch", "load"),
        ("torch._utils", "_rebuild_qtensor"),
        ("collections", "defaultdict"),
        ("numpy", "load"),
    ],
)
def test_only_state_dict_names_resolve(tmp_path, module, name):
    evil = b"\x80\x02" + tw._global(module, name) + b")R."
    with pytest.raises(UnsafePickleError, match=f"{module}.{name}"):
        read_torch_state_dict(_write(tmp_path, tw.zip_file({}, {}, pickle_bytes=evil)))


def test_forged_storage_size_allocates_nothing(tmp_path):
    """A storage claiming 2**60 elements is refused from the bytes present."""
    entries = {"w": tw.tensor_opcodes("0", np.float32, 2**60, 0, (2**30, 2**30), (2**30, 1))}
    raw = tw.zip_file(entries, {"0": np.ones(4, np.float32).tobytes()})
    with pytest.raises(TorchFormatError, match="shorter than"):
        read_torch_state_dict(_write(tmp_path, raw))
    legacy = tw.legacy_file(entries, {"0": np.ones(4, np.float32).tobytes()})
    with pytest.raises(TorchFormatError):
        read_torch_state_dict(_write(tmp_path, legacy, "l.pth"))


def test_tensor_past_its_storage_is_refused(tmp_path):
    entries = {"w": tw.tensor_opcodes("0", np.float32, 4, 2, (3,), (1,))}
    raw = tw.zip_file(entries, {"0": np.ones(4, np.float32).tobytes()})
    with pytest.raises(TorchFormatError, match="runs past"):
        read_torch_state_dict(_write(tmp_path, raw))


def test_every_truncation_is_a_clean_error(tmp_path):
    entries, storages = tw.plain_tensors(TENSORS)
    raw = tw.legacy_file(entries, storages, itemsizes=_itemsizes())
    path = tmp_path / "t.pth"
    for length in range(0, len(raw), 7):
        path.write_bytes(raw[:length])
        with pytest.raises(TorchFormatError):
            read_torch_state_dict(path)


def test_not_a_state_dict(tmp_path):
    raw = tw.zip_file({}, {}, pickle_bytes=pickle.dumps([1, 2], protocol=2))
    with pytest.raises(TorchFormatError, match="not a state dict"):
        read_torch_state_dict(_write(tmp_path, raw))
    legacy = struct.pack("<q", 5) + b"junk"
    with pytest.raises(TorchFormatError):
        read_torch_state_dict(_write(tmp_path, legacy, "j.pth"))
